// One number at a time: how long a single onboarding takes from its start to Completed when
// nothing else is queued, as the server records it (close time - start time) and as the caller
// sees it (before the start request to the result in hand).
import type { WorkflowHandle } from '@temporalio/client';
import { percentile } from './common';

export interface SingleLatencyResult {
  runs: number;
  serverMs: { p50: number; p95: number; max: number };
  clientMs: { p50: number; p95: number; max: number };
}

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/**
 * Runs `warmUp` + `runs` workflows one after another; `start(i)` starts the i-th and returns its
 * handle. The warm-up runs are not measured: a fresh worker's first Graph call waits until the
 * other workers know of it (graph-worker-share.ts), once per process.
 */
export async function singleLatency(
  runs: number,
  start: (i: number) => Promise<WorkflowHandle>,
  warmUp = 1,
): Promise<SingleLatencyResult> {
  const server: number[] = [];
  const client: number[] = [];
  for (let i = 0; i < warmUp; i++) await (await start(runs + i)).result();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const handle = await start(i);
    await handle.result();
    client.push(Math.round(performance.now() - t0));
    const { startTime, closeTime } = await handle.describe();
    if (!closeTime) throw new Error(`${handle.workflowId} has a result but no close time`);
    server.push(closeTime.getTime() - startTime.getTime());
  }
  return { runs, serverMs: summary(server), clientMs: summary(client) };
}
