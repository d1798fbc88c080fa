// Streams the rows of a batch file (CSV with a header, one JSON array, or JSON Lines) with the
// line each row starts on. Rows come out one at a time as the file is read, so memory stays flat
// whatever the file's size; row-level problems travel with the row, file-level ones throw.
import { extname } from 'node:path';
import { BatchFileError } from './batch-file-error';
import { CsvParser, type CsvRecord } from './csv-parser';
import { JsonArrayParser, type JsonArrayElement } from './json-array-parser';
import { checkCsvHeader } from './validate-row';

export type BatchFormat = 'csv' | 'json' | 'jsonl';
export const BATCH_FORMATS: readonly BatchFormat[] = ['csv', 'json', 'jsonl'];

export interface BatchRow {
  /** 1-based line of the file where the row starts. */
  line: number;
  /** As written: CSV column -> text, or the JSON object's own keys and values. */
  values: Record<string, unknown>;
  /** A problem found while reading the row (malformed CSV record, element that is not JSON...). */
  problem?: string;
}

export function formatFromPath(path: string): BatchFormat | undefined {
  switch (extname(path).toLowerCase()) {
    case '.csv':
      return 'csv';
    case '.json':
      return 'json';
    case '.jsonl':
    case '.ndjson':
      return 'jsonl';
    default:
      return undefined;
  }
}

/** Rows of `source` (text chunks, e.g. a file stream with encoding 'utf8'). */
export function readRows(source: AsyncIterable<string>, format: BatchFormat): AsyncGenerator<BatchRow> {
  switch (format) {
    case 'csv':
      return readCsvRows(source);
    case 'json':
      return readJsonArrayRows(source);
    case 'jsonl':
      return readJsonLinesRows(source);
  }
}

async function* readCsvRows(source: AsyncIterable<string>): AsyncGenerator<BatchRow> {
  const parser = new CsvParser();
  let header: string[] | undefined;
  function* rowsOf(records: CsvRecord[]): Generator<BatchRow> {
    for (const record of records) {
      if (header === undefined) {
        if (record.problem)
          throw new BatchFileError(record.line, `the header is malformed: ${record.problem}`);
        checkCsvHeader(record.fields, record.line);
        header = record.fields;
        continue;
      }
      const values: Record<string, unknown> = {};
      header.forEach((name, i) => {
        const value = record.fields[i];
        if (value !== undefined) values[name] = value;
      });
      let problem = record.problem;
      if (!problem && record.fields.length !== header.length) {
        problem = `${record.fields.length} fields where the header has ${header.length} (quote fields that contain commas)`;
      }
      yield problem ? { line: record.line, values, problem } : { line: record.line, values };
    }
  }
  for await (const chunk of source) yield* rowsOf(parser.push(chunk));
  yield* rowsOf(parser.end());
  if (header === undefined)
    throw new BatchFileError(1, 'the file is empty: expected a header row with phone_number_id');
}

function rowFromJson(line: number, text: string): BatchRow {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { line, values: {}, problem: `not valid JSON (${(err as Error).message})` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return {
      line,
      values: {},
      problem: `expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : String(parsed === null ? 'null' : typeof parsed)}`,
    };
  }
  return { line, values: parsed as Record<string, unknown> };
}

async function* readJsonArrayRows(source: AsyncIterable<string>): AsyncGenerator<BatchRow> {
  const parser = new JsonArrayParser();
  const rowsOf = (elements: JsonArrayElement[]) =>
    elements.map((e) =>
      e.text === undefined ? { line: e.line, values: {}, problem: e.problem } : rowFromJson(e.line, e.text),
    );
  for await (const chunk of source) yield* rowsOf(parser.push(chunk));
  yield* rowsOf(parser.end());
}

/** Lines longer than this are reported, not buffered. */
const MAX_JSON_LINE_LENGTH = 64 * 1024;

async function* readJsonLinesRows(source: AsyncIterable<string>): AsyncGenerator<BatchRow> {
  let carry = '';
  let line = 0;
  let first = true;
  let overlong = false;
  function lineRow(text: string): BatchRow | undefined {
    line++;
    const trimmed = text.trim();
    if (overlong) {
      overlong = false;
      return { line, values: {}, problem: `a line longer than ${MAX_JSON_LINE_LENGTH} characters` };
    }
    return trimmed === '' ? undefined : rowFromJson(line, trimmed);
  }
  for await (let chunk of source) {
    if (first) {
      first = false;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      const row = lineRow(carry + chunk.slice(start, nl));
      carry = '';
      start = nl + 1;
      if (row) yield row;
    }
    carry += chunk.slice(start);
    if (carry.length > MAX_JSON_LINE_LENGTH) {
      overlong = true;
      carry = '';
    }
  }
  if (carry !== '' || overlong) {
    const row = lineRow(carry);
    if (row) yield row;
  }
}
