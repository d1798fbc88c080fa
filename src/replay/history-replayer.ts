// Replays histories against the workflow code of this checkout, exactly as the workers run it:
// the same workflows module, the same failure converter (bundled into the sandbox) and the same
// payload codec, so encrypted histories decode as they do on a worker.
import type { DataConverter } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import type { Keyring } from '../crypto/keyring';
import { METADATA_ENCRYPTION_KEY_ID } from '../codec/encryption-codec';
import { WORKFLOWS_PATH } from '../worker/onboarding-workers';
import type { HistorySource } from './history-file';

export type ReplayVerdict = 'ok' | 'nondeterminism' | 'error';

export interface ReplayOutcome {
  label: string;
  workflowId: string;
  runId: string;
  verdict: ReplayVerdict;
  /** The replay error's message, when the verdict is not ok. */
  message?: string;
}

export interface ReplayOptions {
  dataConverter: DataConverter;
  /** The workflows module to replay against; the product's by default. */
  workflowsPath?: string;
}

export async function* replayHistories(
  sources: AsyncIterable<HistorySource> | Iterable<HistorySource>,
  opts: ReplayOptions,
): AsyncGenerator<ReplayOutcome> {
  // One history at a time goes in and one result comes out, so labels pair up in order.
  const labels: string[] = [];
  async function* tracked() {
    for await (const source of sources) {
      labels.push(source.label);
      yield { workflowId: source.workflowId, history: source.history };
    }
  }
  const results = Worker.runReplayHistories(
    {
      workflowsPath: opts.workflowsPath ?? WORKFLOWS_PATH,
      dataConverter: opts.dataConverter,
      replayName: 'onboarding-replay',
    },
    tracked(),
  );
  for await (const result of results) {
    const label = labels.shift() ?? result.workflowId;
    const { error } = result;
    yield {
      label,
      workflowId: result.workflowId,
      runId: result.runId,
      verdict:
        error === undefined ? 'ok' : error instanceof DeterminismViolationError ? 'nondeterminism' : 'error',
      ...(error !== undefined && { message: error.message }),
    };
  }
}

/**
 * The codec key ids a history's payloads were encrypted under that `keyring` lacks. Checked
 * before replaying, so a missing key is one clear line instead of a replay failure.
 */
export function missingKeyIds(history: unknown, keyring: Keyring): string[] {
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    if (ArrayBuffer.isView(node)) return;
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === 'metadata' && value && typeof value === 'object') {
        const kid = (value as Record<string, unknown>)[METADATA_ENCRYPTION_KEY_ID];
        if (kid instanceof Uint8Array) found.add(Buffer.from(kid).toString('utf8'));
      }
      walk(value);
    }
  };
  walk(history);
  return [...found].filter((kid) => !keyring.kids.includes(kid));
}
