// The Graph cap across worker processes: K real worker processes (src/worker.ts, configured by
// their environment as in production) are started at once on an idle Graph queue, then a batch
// arrives; the sandbox's request log says how many PIN requests reached "Meta" in the busiest
// one-second window and at what rate once the run was under way.
import { startOnboarding } from '../src/onboarding/start-onboarding';
import { phoneNumberIds, pool, randomIdBase, round, sleep, waitForCount } from './common';
import { openDrillContext, type DrillTarget } from './drill-lib';
import { rateWindows, type RateWindowStats } from './rate-windows';

export interface GraphCapResult extends RateWindowStats {
  workers: number;
  cap: number;
  numbers: number;
  maxRatio: number;
  steadyRatio: number;
  /** Seconds from the first worker start until all of them were ready. */
  workersReadySeconds: number;
}

/** The queue stays idle this long after the workers are up, so the server's limiter bucket is full. */
const IDLE_BEFORE_BATCH_MS = 3_000;

export async function graphCapAcrossProcesses(
  target: DrillTarget,
  opts: { workers: number; cap: number; numbers: number },
): Promise<GraphCapResult> {
  const ctx = await openDrillContext(target, opts.cap, { workers: opts.workers });
  const { workers } = ctx;
  try {
    const t0 = performance.now();
    await Promise.all(workers.map((w) => w.start()));
    const workersReadySeconds = round((performance.now() - t0) / 1000, 1);
    await sleep(IDLE_BEFORE_BATCH_MS);
    target.sandbox.reset();
    const since = new Date().toISOString();
    const ids = phoneNumberIds(randomIdBase(), opts.numbers);
    await pool(ids, 20, async (id) => {
      const res = await startOnboarding(ctx.client, { phoneNumberId: id });
      if (res.outcome !== 'started') throw new Error(`${id}: ${res.outcome}`);
    });
    const done = await waitForCount(
      ctx.client,
      `ExecutionStatus = 'Completed' AND StartTime >= '${since}'`,
      opts.numbers,
      { timeoutMs: Math.max(120_000, (opts.numbers / opts.cap) * 3_000), everyMs: 500 },
    );
    if (done < opts.numbers) {
      throw new Error(
        `Graph cap run with ${opts.workers} workers: only ${done} of ${opts.numbers} completed`,
      );
    }
    // Every Graph call counts against the cap: the PIN's POST and the register: auto lookup's GET.
    const stats = rateWindows(target.sandbox.requests().map((r) => Date.parse(r.at)));
    return {
      workers: opts.workers,
      cap: opts.cap,
      numbers: opts.numbers,
      ...stats,
      maxRatio: round(stats.maxPerSecondWindow / opts.cap, 2),
      steadyRatio: round(stats.steadyMeanPerSecond / opts.cap, 2),
      workersReadySeconds,
    };
  } finally {
    await ctx.close();
  }
}
