// Reading a workflow history from a JSON file: what the Temporal Web UI downloads and what
// `temporal workflow show --output json` prints ({"events": [...]}, enum names in either the
// EVENT_TYPE_... or the short form), or a bare array of events.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { historyFromJson, type History } from './history-json';
import { codedErrorClass } from '../cli/coded-error';

export class HistoryFileError extends codedErrorClass('HISTORY_FILE_INVALID') {}

export interface HistorySource {
  /** What the operator recognises: the file name, or workflow id and run id. */
  label: string;
  /** Histories hold no workflow id; workflows that read it during replay get this one. */
  workflowId: string;
  history: History;
}

export function readHistoryFile(path: string): HistorySource {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new HistoryFileError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new HistoryFileError(`${path} is not JSON: ${(err as Error).message}`);
  }
  const json = Array.isArray(parsed) ? { events: parsed } : parsed;
  let history: History;
  try {
    history = historyFromJson(json);
  } catch (err) {
    throw new HistoryFileError(`${path} is not a workflow history: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!history.events?.length) throw new HistoryFileError(`${path} holds no history events`);
  const label = basename(path);
  return { label, workflowId: label.replace(/\.json$/i, ''), history };
}
