// `npm run bench -- --production`: throughput and the Graph cap on the production shape (the
// real Temporal server on PostgreSQL, four service processes) beside the dev server, in one run on
// one machine, with 1 and with several worker processes (src/worker.ts, configured as deployed).
// The dev server runs first and is stopped before the production stack starts, so the two never
// share the CPU. Figures for docs/performance.md, not assertions.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CliIo } from '../src/cli/cli-io';
import { wholeNumberFlag } from '../src/cli/flag-values';
import { parseFlags } from '../src/cli/parse-flags';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { freePort, startOpenBaoDev, startTemporalDevServer } from '../src/local-stack/processes';
import { ensureProductionBinaries } from '../src/local-stack/production-binaries';
import { startProductionStack } from '../src/local-stack/production-stack';
import { startOnboarding } from '../src/onboarding/start-onboarding';
import { installRuntimeLogging } from '../src/temporal/runtime-logging';
import { rateWindows, type RateWindowStats } from './rate-windows';
import {
  onInterrupt,
  percentile,
  phoneNumberIds,
  pool,
  printTable,
  randomIdBase,
  round,
  writeJson,
} from './common';
import { openDrillContext, type DrillContext, type DrillTarget } from './drill-lib';

const HELP = `Usage: npm run bench -- --production [options]

Throughput (numbers/s, first start to last Completed, server clock) and Graph cap adherence with
1 and N worker processes, first on the Temporal dev server (in memory, OpenBao dev), then on the
production shape (PostgreSQL, the real Temporal server as four processes, OpenBao with Raft).

Options:
  --size N           numbers per throughput run (default 300)
  --workers N        the larger worker count (default 3)
  --rate R           GRAPH_MAX_REQUESTS_PER_SECOND for the cap runs (default 5)
  --rate-numbers N   numbers per cap run (default 30 * R)
  --out FILE         results JSON (default bench-results/bench-production.json)
  --help             this text`;

const START_CONCURRENCY = 20;
/** The throughput runs measure the workflow, not the cap. */
const UNCAPPED = 10_000;
const SANDBOX_TOKEN = 'bench-graph-token';

interface Options {
  size: number;
  workers: number;
  rate: number;
  rateNumbers: number;
  out: string;
}

function parseOptions(io: CliIo): Options {
  const { values } = parseFlags(io, { strings: 'size workers rate rate-numbers out', help: HELP });
  const rate = wholeNumberFlag('--rate', values.rate, { fallback: 5, max: 500 });
  return {
    size: wholeNumberFlag('--size', values.size, { fallback: 300, min: 10, max: 20_000 }),
    workers: wholeNumberFlag('--workers', values.workers, { fallback: 3, min: 2, max: 16 }),
    rate,
    rateNumbers: wholeNumberFlag('--rate-numbers', values['rate-numbers'], {
      fallback: 30 * rate,
      min: 10,
      max: 5_000,
    }),
    out: resolve(values.out ?? 'bench-results/bench-production.json'),
  };
}

interface ThroughputRow {
  server: string;
  workers: number;
  n: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p95Ms: number;
}

interface CapRow extends RateWindowStats {
  server: string;
  workers: number;
  cap: number;
  numbers: number;
  maxRatio: number;
  steadyRatio: number;
}

/** Starts `n` numbers and waits until all are Completed; returns their server-side times. */
async function runBatch(ctx: DrillContext, n: number): Promise<Array<{ start: number; close: number }>> {
  const since = new Date(Date.now() - 1_000).toISOString();
  const ids = phoneNumberIds(randomIdBase(), n);
  await pool(ids, START_CONCURRENCY, async (id) => {
    const res = await startOnboarding(ctx.client, { phoneNumberId: id });
    if (res.outcome !== 'started') throw new Error(`${id}: ${res.outcome}`);
  });
  const query = `ExecutionStatus = 'Completed' AND StartTime >= '${since}'`;
  const deadline = Date.now() + Math.max(300_000, n * 1_000);
  for (;;) {
    const { count } = await ctx.client.workflow.count(query);
    if (count >= n) break;
    if (Date.now() > deadline) throw new Error(`only ${count} of ${n} completed in time`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const times: Array<{ start: number; close: number }> = [];
  for await (const wf of ctx.client.workflow.list({ query, pageSize: 1000 })) {
    if (wf.closeTime) times.push({ start: wf.startTime.getTime(), close: wf.closeTime.getTime() });
  }
  return times;
}

async function measure(
  target: Omit<DrillTarget, 'namespace'>,
  server: string,
  namespaces: { throughput: (w: number) => string; cap: (w: number) => string },
  opts: Options,
): Promise<{ throughput: ThroughputRow[]; caps: CapRow[] }> {
  const throughput: ThroughputRow[] = [];
  const caps: CapRow[] = [];
  for (const workers of [1, opts.workers]) {
    console.error(`bench: ${server}, ${workers} worker(s): ${opts.size} numbers uncapped...`);
    let ctx = await openDrillContext({ ...target, namespace: namespaces.throughput(workers) }, UNCAPPED, {
      workers,
    });
    try {
      await Promise.all(ctx.workers.map((w) => w.start()));
      await runBatch(ctx, 20); // warm-up: JIT, caches, connections
      const times = await runBatch(ctx, opts.size);
      const first = Math.min(...times.map((t) => t.start));
      const last = Math.max(...times.map((t) => t.close));
      const latencies = times.map((t) => t.close - t.start).sort((a, b) => a - b);
      throughput.push({
        server,
        workers,
        n: opts.size,
        seconds: round((last - first) / 1000, 2),
        perSecond: round(opts.size / ((last - first) / 1000), 1),
        p50Ms: percentile(latencies, 50),
        p95Ms: percentile(latencies, 95),
      });
    } finally {
      await ctx.close();
    }

    console.error(
      `bench: ${server}, ${workers} worker(s): Graph cap ${opts.rate}/s over ${opts.rateNumbers}...`,
    );
    ctx = await openDrillContext({ ...target, namespace: namespaces.cap(workers) }, opts.rate, { workers });
    try {
      await Promise.all(ctx.workers.map((w) => w.start()));
      target.sandbox.reset();
      await runBatch(ctx, opts.rateNumbers);
      const posts = target.sandbox.requests().filter((r) => r.method === 'POST');
      const stats = rateWindows(posts.map((r) => Date.parse(r.at)));
      caps.push({
        server,
        workers,
        cap: opts.rate,
        numbers: opts.rateNumbers,
        ...stats,
        maxRatio: round(stats.maxPerSecondWindow / opts.rate, 2),
        steadyRatio: round(stats.steadyMeanPerSecond / opts.rate, 2),
      });
    } finally {
      await ctx.close();
    }
  }
  return { throughput, caps };
}

/** `npm run bench -- --production ...`: the options after --production. */
export async function runProductionBench(io: CliIo): Promise<number> {
  const opts = parseOptions(io);
  installRuntimeLogging(process.env.LOG_LEVEL, 'ERROR');
  ensureProductionBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'pin-onboarding-bench-production-'));
  chmodSync(dir, 0o711);
  const names = (kind: string) => (w: number) => `${kind}-${w}w`;
  const allNamespaces = [1, opts.workers].flatMap((w) => [names('throughput')(w), names('cap')(w)]);
  const sandbox: GraphSandbox = await startGraphSandbox({ accessToken: SANDBOX_TOKEN });
  const stops: Array<() => Promise<void>> = [() => sandbox.close()];
  const uninstall = onInterrupt(async () => {
    await Promise.allSettled(stops.map((s) => s()));
  });
  try {
    console.error('bench: starting the dev server (in memory) and OpenBao dev...');
    const [temporal, bao] = await Promise.all([
      startTemporalDevServer({
        port: await freePort(),
        headless: true,
        extraNamespaces: allNamespaces,
        logFile: join(dir, 'dev-temporal.log'),
      }),
      startOpenBaoDev({
        port: await freePort(),
        rootToken: `bench-${randomBytes(12).toString('hex')}`,
        logFile: join(dir, 'dev-openbao.log'),
      }),
    ]);
    const devStop = async () => {
      await Promise.allSettled([temporal.stop(), bao.stop()]);
    };
    stops.push(devStop);
    const dev = await measure(
      {
        temporalAddress: temporal.address,
        vaultAddress: bao.address,
        vaultToken: bao.rootToken,
        sandbox,
        sandboxToken: SANDBOX_TOKEN,
        logDir: dir,
      },
      'dev server',
      { throughput: names('throughput'), cap: names('cap') },
      opts,
    );
    await devStop();

    console.error('bench: starting the production-shaped stack...');
    const stack = await startProductionStack({
      dataDir: join(dir, 'production'),
      temporalPort: await freePort(),
      vaultPort: await freePort(),
      namespace: allNamespaces[0],
      extraNamespaces: allNamespaces.slice(1),
      ui: false,
    });
    stops.push(() => stack.stop());
    const production = await measure(
      {
        temporalAddress: stack.temporalAddress,
        vaultAddress: stack.vaultAddress,
        vaultToken: stack.vaultToken,
        sandbox,
        sandboxToken: SANDBOX_TOKEN,
        logDir: stack.logDir,
      },
      'production shape',
      { throughput: names('throughput'), cap: names('cap') },
      opts,
    );
    await stack.stop();

    const throughput = [...dev.throughput, ...production.throughput];
    const caps = [...dev.caps, ...production.caps];
    console.log('\nThroughput (worker processes, Graph uncapped; first start to last Completed)');
    printTable(
      ['server', 'workers', 'N', 'seconds', 'numbers/s', 'p50 ms', 'p95 ms'],
      throughput.map((t) => [t.server, t.workers, t.n, t.seconds, t.perSecond, t.p50Ms, t.p95Ms]),
    );
    console.log(`\nGraph cap (GRAPH_MAX_REQUESTS_PER_SECOND=${opts.rate}, ${opts.rateNumbers} numbers)`);
    printTable(
      ['server', 'workers', 'requests', 'span s', 'max in any 1 s', 'max / cap', 'steady /s', 'steady / cap'],
      caps.map((c) => [
        c.server,
        c.workers,
        c.requests,
        c.spanSeconds,
        c.maxPerSecondWindow,
        c.maxRatio,
        c.steadyMeanPerSecond,
        c.steadyRatio,
      ]),
    );
    writeJson(opts.out, {
      when: new Date().toISOString(),
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      options: opts,
      throughput,
      caps,
    });
    console.log(`\nresults: ${opts.out}`);
    return 0;
  } finally {
    uninstall();
    await Promise.allSettled(stops.map((s) => s()));
    rmSync(dir, { recursive: true, force: true });
  }
}
