// `npm run bench`: throughput, latency and memory of the onboarding on the real local servers
// (Temporal dev server in memory, OpenBao dev, the Graph sandbox answering at once), against a
// bare three-activity workflow on the same worker settings; the starter's start rate against a
// plain start loop; how closely the Graph rate cap is kept; the starter's dry run on 100,000 rows.
// Figures for the report, not assertions.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg as osLoadavg, tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import type { ActivityDeps } from '../src/activities';
import { createDataConverter, FAILURE_CONVERTER_PATH } from '../src/codec/data-converter';
import { createKeyring } from '../src/crypto/keyring';
import { createGraphBudget, type GraphBudget } from '../src/graph/graph-budget';
import { createGraphClient } from '../src/graph/graph-client';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import {
  freePort,
  startOpenBaoDev,
  startTemporalDevServer,
  type ManagedProcess,
} from '../src/local-stack/processes';
import { createOnboardingWorkers, WORKFLOWS_PATH } from '../src/worker/onboarding-workers';
import { startOnboarding } from '../src/onboarding/start-onboarding';
import { installRuntimeLogging } from '../src/temporal/runtime-logging';
import { runStarter } from '../src/batch/run-starter';
import type { CliIo } from '../src/cli/cli-io';
import { wholeNumberFlag } from '../src/cli/flag-values';
import { parseFlags } from '../src/cli/parse-flags';
import { runMain } from '../src/cli/run-main';
import { createVaultBudgetBoard } from '../src/vault/graph-budget-board';
import { createPinStore } from '../src/vault/pin-store';
import { createVaultClient } from '../src/vault/vault-client';
import { ONBOARDING_TASK_QUEUE, WORKFLOW_TYPE, workflowIdFor } from '../src/workflows/messages';
import {
  BASELINE_GRAPH_TASK_QUEUE,
  BASELINE_TASK_QUEUE,
  BASELINE_WORKFLOW_TYPE,
  type BaselineActivities,
} from './baseline-workflow';
import {
  mb,
  onInterrupt,
  PeakSampler,
  percentile,
  phoneNumberIds,
  pool,
  printTable,
  processCpuMs,
  procStatusBytes,
  randomIdBase,
  round,
  SILENT_LOGGER,
  waitForCount,
  writeJson,
} from './common';
import { graphCapAcrossProcesses, type GraphCapResult } from './graph-cap';
import { historyCostOf, type HistoryCostSummary } from './history-cost';
import { singleLatency } from './single-latency';

const HELP = `Usage: npm run bench -- [options]

Measures, on its own local stack (free ports, in memory, stopped at the end):
  - end-to-end throughput of registerNumber (numbers/s, first start to last Completed) with
    p50/p95/p99 per-number latency and peak RSS, against a bare three-activity baseline
    workflow on the same worker settings;
  - the batch starter's start rate against a plain client.workflow.start loop and a loop of
    startOnboarding (the same requests as the starter), in rotating rounds;
  - Temporal actions (as Temporal Cloud bills them) and history events per number, counted
    from the real histories of each batch, for registerNumber and the baseline;
  - single-number latency, start to Completed, one number at a time, beside the baseline's;
  - the Graph rate cap with 1 and 3 worker processes started at once on an idle queue: the
    busiest one-second window and the steady rate the sandbox sees at GRAPH_MAX_REQUESTS_PER_SECOND = R;
  - the starter's --dry-run over generated rows: rows/s and peak memory.

Options:
  --sizes N,N,...      batch sizes for throughput (default 500,2000)
  --out FILE           results JSON (default bench-results/bench.json)
  --quick              small sizes (50,100), 10 latency runs, rate runs of 10 * R numbers,
                       300 starts, 20,000 dry-run rows
  --latency-runs N     single-number runs per workflow (default 50)
  --rate R             Graph cap for the rate runs (default 5)
  --rate-numbers N     numbers in each rate run (default 40 * R, at most 2000)
  --rate-workers K,K   worker processes in the rate runs (default 1,3)
  --starts N           starts for the start-rate comparison (default 2000)
  --dry-run-rows N     rows for the starter's dry run (default 100000)
  --production         throughput and the Graph cap on the production shape beside the dev
                       server, with 1 and 3 worker processes (--production --help)
  --help               this text`;

/** The one worker configuration used for registerNumber and for the baseline alike. */
export const BENCH_WORKER_SETTINGS = {
  maxConcurrentActivityTaskExecutions: 100,
  maxConcurrentWorkflowTaskExecutions: 40,
  /** Not binding in the throughput runs: those measure the workflow, the rate run the cap. */
  graphMaxRequestsPerSecond: 10_000,
} as const;
const BENCH_GRAPH_TOKEN = 'bench-graph-token';
/** Starts in flight at once, for every batch (the starter's default). */
const START_CONCURRENCY = 20;

function parseOptions(io: CliIo) {
  const { values } = parseFlags(io, {
    strings: 'sizes out latency-runs rate rate-numbers rate-workers starts dry-run-rows',
    booleans: 'quick',
    help: HELP,
  });
  const quick = values.quick ?? false;
  const sizes = (values.sizes ?? (quick ? '50,100' : '500,2000'))
    .split(',')
    .map((s) => wholeNumberFlag('--sizes', s.trim(), { fallback: 0, max: 20_000 }));
  const rate = wholeNumberFlag('--rate', values.rate, { fallback: 5, max: 500 });
  return {
    sizes,
    out: resolve(values.out ?? 'bench-results/bench.json'),
    latencyRuns: wholeNumberFlag('--latency-runs', values['latency-runs'], {
      fallback: quick ? 10 : 50,
      max: 10_000,
    }),
    rate,
    rateNumbers: wholeNumberFlag('--rate-numbers', values['rate-numbers'], {
      fallback: quick ? 10 * rate : Math.min(2000, 40 * rate),
      max: 2000,
    }),
    rateWorkers: (values['rate-workers'] ?? '1,3')
      .split(',')
      .map((s) => wholeNumberFlag('--rate-workers', s.trim(), { fallback: 1, max: 8 })),
    starts: wholeNumberFlag('--starts', values.starts, { fallback: quick ? 300 : 2000, max: 20_000 }),
    dryRunRows: wholeNumberFlag('--dry-run-rows', values['dry-run-rows'], {
      fallback: quick ? 20_000 : 100_000,
      max: 5_000_000,
    }),
  };
}

interface Stack {
  temporal: ManagedProcess & { address: string };
  bao: ManagedProcess & { address: string; rootToken: string };
  sandbox: GraphSandbox;
  connection: Connection;
  native: NativeConnection;
  dataConverter: DataConverter;
  deps: ActivityDeps;
  graphBudget: GraphBudget;
  /** Time spent in each dependency call, for the profile. */
  profile: Map<string, { calls: number; ms: number }>;
  ourBundle: WorkflowBundle;
  baselineBundle: WorkflowBundle;
  workDir: string;
}

export interface ThroughputResult {
  /** registerNumber as the starter starts it (register: auto), or for numbers that need no registration. */
  workflow: 'baseline' | 'registerNumber' | 'registerNumber never';
  n: number;
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  peakRssMb: number;
  /** Actions and events per number, from a sample of the batch's histories. */
  cost: HistoryCostSummary;
  /** CPU per number: the bench process (worker, client, sandbox), the Temporal server, OpenBao. */
  cpuMsPerNumber: { benchProcess: number; temporalServer: number; openBao: number };
}

/** Wraps every method of `target` so the time spent in it is added to `profile` under `prefix.name`. */
function timed<T extends object>(target: T, prefix: string, profile: Stack['profile']): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(target)) {
    if (typeof fn !== 'function') {
      out[name] = fn;
      continue;
    }
    out[name] = async (...args: unknown[]) => {
      const started = performance.now();
      try {
        return await (fn as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      } finally {
        const entry = profile.get(`${prefix}.${name}`) ?? { calls: 0, ms: 0 };
        entry.calls++;
        entry.ms += performance.now() - started;
        profile.set(`${prefix}.${name}`, entry);
      }
    };
  }
  return out as T;
}

async function startStack(namespaces: string[], workDir: string): Promise<Stack> {
  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    const bundleOpts = { failureConverterPath: FAILURE_CONVERTER_PATH, logger: SILENT_LOGGER };
    const [temporal, bao, sandbox, ourBundle, baselineBundle] = await Promise.all([
      startTemporalDevServer({
        port: await freePort(),
        headless: true,
        extraNamespaces: namespaces,
        logFile: join(workDir, 'temporal.log'),
      }).then((p) => (started.push(p), p)),
      startOpenBaoDev({
        port: await freePort(),
        rootToken: `bench-${randomBytes(12).toString('hex')}`,
        logFile: join(workDir, 'openbao.log'),
      }).then((p) => (started.push(p), p)),
      startGraphSandbox({ accessToken: BENCH_GRAPH_TOKEN }).then(
        (s) => (started.push({ stop: () => s.close() }), s),
      ),
      bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ...bundleOpts }),
      bundleWorkflowCode({
        workflowsPath: join(__dirname, `baseline-workflow${extname(__filename)}`),
        ...bundleOpts,
      }),
    ]);
    const [connection, native] = await Promise.all([
      Connection.connect({ address: temporal.address }),
      NativeConnection.connect({ address: temporal.address }),
    ]);
    const profile: Stack['profile'] = new Map();
    const vault = createVaultClient({
      address: bao.address,
      auth: { kind: 'token', token: bao.rootToken },
      timeoutMs: 10_000,
    });
    // Wired as src/worker.ts wires it: usage read from every answer, blocks shared in the vault.
    const graphBudget = createGraphBudget({
      board: createVaultBudgetBoard({ vault, mount: 'secret', prefix: 'bench/pins' }),
    });
    const deps: ActivityDeps = {
      sealingKeyring: createKeyring([{ kid: 'bench-seal', key: randomBytes(32) }]),
      vault: timed(createPinStore({ vault, mount: 'secret', prefix: 'bench/pins' }), 'vault', profile),
      graph: timed(
        createGraphClient({
          baseUrl: sandbox.url,
          apiVersion: 'v25.0',
          accessToken: BENCH_GRAPH_TOKEN,
          headersTimeoutMs: 10_000,
          bodyTimeoutMs: 10_000,
          onUsage: (readings) => graphBudget.observe(readings),
        }),
        'graph',
        profile,
      ),
    };
    const dataConverter = createDataConverter(createKeyring([{ kid: 'bench-codec', key: randomBytes(32) }]));
    return {
      temporal,
      bao,
      sandbox,
      connection,
      native,
      dataConverter,
      deps,
      graphBudget,
      profile,
      ourBundle,
      baselineBundle,
      workDir,
    };
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.stop()));
    throw err;
  }
}

async function stopStack(stack: Stack): Promise<void> {
  await Promise.allSettled([stack.connection.close(), stack.native.close()]);
  await Promise.allSettled([stack.sandbox.close(), stack.temporal.stop(), stack.bao.stop()]);
}

function clientFor(stack: Stack, namespace: string): Client {
  return new Client({ connection: stack.connection, namespace, dataConverter: stack.dataConverter });
}

const baselineActivities: BaselineActivities = {
  noopGenerate: async (id) => id,
  noopStore: async () => 1,
  noopGraph: async () => {},
};

/** The baseline's two workers, with exactly the settings createOnboardingWorkers gets. */
async function baselineWorkers(stack: Stack, namespace: string) {
  const { noopGraph, ...local } = baselineActivities;
  const common = {
    connection: stack.native,
    namespace,
    dataConverter: stack.dataConverter,
    maxConcurrentActivityTaskExecutions: BENCH_WORKER_SETTINGS.maxConcurrentActivityTaskExecutions,
  };
  const [main, graph] = await Promise.all([
    Worker.create({
      ...common,
      taskQueue: BASELINE_TASK_QUEUE,
      workflowBundle: stack.baselineBundle,
      activities: local,
      maxConcurrentWorkflowTaskExecutions: BENCH_WORKER_SETTINGS.maxConcurrentWorkflowTaskExecutions,
    }),
    Worker.create({
      ...common,
      taskQueue: BASELINE_GRAPH_TASK_QUEUE,
      activities: { noopGraph },
      maxTaskQueueActivitiesPerSecond: BENCH_WORKER_SETTINGS.graphMaxRequestsPerSecond,
    }),
  ]);
  return {
    async runUntil<T>(fn: () => Promise<T>): Promise<T> {
      const running = Promise.all([main.run(), graph.run()]);
      try {
        return await fn();
      } finally {
        for (const w of [main, graph]) if (w.getState() === 'RUNNING') w.shutdown();
        await running;
      }
    },
    /** No shared Graph grid to join: its capped queue relies on the server's limit alone. */
    graphReady: () => Promise.resolve(),
  };
}

async function ourWorkers(stack: Stack, namespace: string, graphCap: number) {
  return createOnboardingWorkers({
    connection: stack.native,
    namespace,
    deps: stack.deps,
    graphMaxRequestsPerSecond: graphCap,
    graphBudget: stack.graphBudget,
    dataConverter: stack.dataConverter,
    workflowBundle: stack.ourBundle,
    maxConcurrentActivities: BENCH_WORKER_SETTINGS.maxConcurrentActivityTaskExecutions,
    maxConcurrentWorkflowTasks: BENCH_WORKER_SETTINGS.maxConcurrentWorkflowTaskExecutions,
  });
}

/** Start and close times of every Completed workflow in the namespace (server clock). */
async function completedTimes(client: Client): Promise<Array<{ start: number; close: number }>> {
  const times: Array<{ start: number; close: number }> = [];
  for await (const wf of client.workflow.list({ query: "ExecutionStatus = 'Completed'", pageSize: 1000 })) {
    if (wf.closeTime) times.push({ start: wf.startTime.getTime(), close: wf.closeTime.getTime() });
  }
  return times;
}

async function throughput(
  stack: Stack,
  workflow: ThroughputResult['workflow'],
  namespace: string,
  n: number,
): Promise<ThroughputResult> {
  const client = clientFor(stack, namespace);
  const ids = phoneNumberIds(randomIdBase(), n);
  const workers =
    workflow === 'baseline'
      ? await baselineWorkers(stack, namespace)
      : await ourWorkers(stack, namespace, BENCH_WORKER_SETTINGS.graphMaxRequestsPerSecond);
  const timeoutMs = Math.max(180_000, n * 200);
  let rss: PeakSampler | undefined;
  let cpuBefore = cpuNow(stack);
  const done = await workers.runUntil(async () => {
    // Fresh workers in each namespace: a long-lived worker has long joined the Graph grid.
    await workers.graphReady();
    rss = new PeakSampler(() => process.memoryUsage.rss());
    cpuBefore = cpuNow(stack);
    await pool(ids, START_CONCURRENCY, async (id) => {
      if (workflow === 'baseline') {
        await client.workflow.start(BASELINE_WORKFLOW_TYPE, {
          workflowId: workflowIdOf(workflow, id),
          taskQueue: BASELINE_TASK_QUEUE,
          args: [{ phoneNumberId: id }],
        });
      } else {
        const res = await startOnboarding(client, onboardingInput(workflow, id));
        if (res.outcome !== 'started') throw new Error(`${id}: ${res.outcome}`);
      }
    });
    return waitForCount(client, "ExecutionStatus = 'Completed'", n, { timeoutMs, everyMs: 200 });
  });
  const peakRss = rss?.stop() ?? Number.NaN;
  const cpuAfter = cpuNow(stack);
  if (done < n) throw new Error(`${workflow} N=${n}: only ${done} completed within ${timeoutMs / 1000} s`);
  const times = await completedTimes(client);
  const cost = await historyCostOf(
    client,
    ids.map((id) => workflowIdOf(workflow, id)),
  );
  const first = Math.min(...times.map((t) => t.start));
  const last = Math.max(...times.map((t) => t.close));
  const latencies = times.map((t) => t.close - t.start).sort((a, b) => a - b);
  const seconds = (last - first) / 1000;
  return {
    workflow,
    n,
    seconds: round(seconds, 2),
    perSecond: round(n / seconds, 1),
    latencyMs: {
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1] ?? Number.NaN,
    },
    peakRssMb: mb(peakRss),
    cost,
    cpuMsPerNumber: {
      benchProcess: round((cpuAfter.bench - cpuBefore.bench) / n, 2),
      temporalServer: round((cpuAfter.temporal - cpuBefore.temporal) / n, 2),
      openBao: round((cpuAfter.bao - cpuBefore.bao) / n, 2),
    },
  };
}

function cpuNow(stack: Stack) {
  const { user, system } = process.cpuUsage();
  return {
    bench: (user + system) / 1000,
    temporal: processCpuMs(stack.temporal.pid) ?? Number.NaN,
    bao: processCpuMs(stack.bao.pid) ?? Number.NaN,
  };
}

function onboardingInput(workflow: ThroughputResult['workflow'], phoneNumberId: string) {
  return workflow === 'registerNumber never'
    ? { phoneNumberId, register: 'never' as const }
    : { phoneNumberId };
}

function workflowIdOf(workflow: ThroughputResult['workflow'], phoneNumberId: string): string {
  return workflow === 'baseline' ? `baseline-${phoneNumberId}` : workflowIdFor(phoneNumberId);
}

/** One number at a time, `runs` of them, on fresh workers of the given workflow. */
async function latency(
  stack: Stack,
  workflow: ThroughputResult['workflow'],
  namespace: string,
  runs: number,
) {
  const client = clientFor(stack, namespace);
  // One more for the unmeasured warm-up run.
  const ids = phoneNumberIds(randomIdBase(), runs + 1);
  const workers =
    workflow === 'baseline'
      ? await baselineWorkers(stack, namespace)
      : await ourWorkers(stack, namespace, BENCH_WORKER_SETTINGS.graphMaxRequestsPerSecond);
  return workers.runUntil(() =>
    singleLatency(runs, async (i) => {
      const id = ids[i] ?? String(i);
      if (workflow === 'baseline') {
        return client.workflow.start(BASELINE_WORKFLOW_TYPE, {
          workflowId: workflowIdOf(workflow, id),
          taskQueue: BASELINE_TASK_QUEUE,
          args: [{ phoneNumberId: id }],
        });
      }
      const res = await startOnboarding(client, onboardingInput(workflow, id));
      if (res.outcome !== 'started') throw new Error(`${id}: ${res.outcome}`);
      return client.workflow.getHandle(res.workflowId);
    }),
  );
}

function csvOf(ids: readonly string[]): string {
  return `phone_number_id,waba_id,display_phone_number,tenant\n${ids
    .map(
      (id, i) =>
        `${id},${100_200_300 + (i % 50)},+1 555-01${String(i % 100).padStart(2, '0')},tenant-${i % 7}`,
    )
    .join('\n')}\n`;
}

async function writeCsv(file: string, ids: readonly string[]): Promise<void> {
  const out = createWriteStream(file);
  const chunk = 10_000;
  for (let i = 0; i < ids.length; i += chunk) {
    const text = csvOf(ids.slice(i, i + chunk));
    // Only the first chunk keeps its header line.
    const body = i === 0 ? text : text.slice(text.indexOf('\n') + 1);
    if (!out.write(body)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolveEnd, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolveEnd())),
  );
}

interface StartRateResult {
  n: number;
  concurrency: number;
  plainLoopPerSecond: number;
  /** A loop of startOnboarding: the starter's very requests (search attribute, summary, details). */
  sameRequestsPerSecond: number;
  starterPerSecond: number;
  /** Medians of the rounds' ratios: in each round the three sides ran back to back. */
  ratio: number;
  ratioToSameRequests: number;
  roundRatios: number[];
}

/** Rounds of the start-rate comparison; the order of the sides rotates from round to round. */
const START_ROUNDS = 4;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function startRates(stack: Stack, n: number): Promise<StartRateResult> {
  // No worker polls these namespaces: the starts are measured alone. The server's in-memory store
  // grows with every start, so a side that always went last would be measured on a slower server:
  // the order rotates round by round, and each ratio is the median of the rounds'.
  const plainClient = clientFor(stack, 'starts-plain');
  const sameClient = clientFor(stack, 'starts-same');
  const starterClient = clientFor(stack, 'starts-starter');
  const perRound = Math.max(1, Math.floor(n / START_ROUNDS));
  const timed = async (work: () => Promise<unknown>): Promise<number> => {
    const t0 = performance.now();
    await work();
    return (performance.now() - t0) / 1000;
  };
  const plainOnce = () => {
    const ids = phoneNumberIds(randomIdBase(), perRound);
    return timed(() =>
      pool(ids, START_CONCURRENCY, (id) =>
        plainClient.workflow.start(WORKFLOW_TYPE, {
          workflowId: workflowIdFor(id),
          taskQueue: ONBOARDING_TASK_QUEUE,
          args: [{ phoneNumberId: id }],
        }),
      ),
    );
  };
  const sameOnce = () => {
    const ids = phoneNumberIds(randomIdBase(), perRound);
    return timed(() =>
      pool(ids, START_CONCURRENCY, (id) => startOnboarding(sameClient, { phoneNumberId: id })),
    );
  };
  const starterOnce = async (r: number) => {
    const csv = join(stack.workDir, `starts-${r}.csv`);
    await writeCsv(csv, phoneNumberIds(randomIdBase(), perRound));
    let output = '';
    const sink = { write: (text: string) => (output += text) };
    let code = 0;
    const seconds = await timed(async () => {
      code = await runStarter({
        argv: ['--file', csv, '--concurrency', String(START_CONCURRENCY)],
        env: {},
        stdout: sink,
        stderr: sink,
        client: starterClient,
      });
    });
    if (code !== 0) throw new Error(`the starter exited ${code}:\n${output}`);
    return seconds;
  };
  const sides: ReadonlyArray<(r: number) => Promise<number>> = [plainOnce, sameOnce, starterOnce];
  const totals = [0, 0, 0];
  const toPlain: number[] = [];
  const toSame: number[] = [];
  for (let r = 0; r < START_ROUNDS; r++) {
    const seconds = [0, 0, 0];
    for (let k = 0; k < sides.length; k++) {
      const side = (r + k) % sides.length;
      seconds[side] = (await sides[side]?.(r)) ?? 0;
    }
    seconds.forEach((t, i) => (totals[i] = (totals[i] ?? 0) + t));
    const [plain = 0, same = 0, starter = 1] = seconds;
    toPlain.push(round(plain / starter, 2));
    toSame.push(round(same / starter, 2));
  }
  const total = perRound * START_ROUNDS;
  const [plainTotal = 1, sameTotal = 1, starterTotal = 1] = totals;
  return {
    n: total,
    concurrency: START_CONCURRENCY,
    plainLoopPerSecond: round(total / plainTotal),
    sameRequestsPerSecond: round(total / sameTotal),
    starterPerSecond: round(total / starterTotal),
    ratio: round(median(toPlain), 2),
    ratioToSameRequests: round(median(toSame), 2),
    roundRatios: toPlain,
  };
}

interface DryRunResult {
  rows: number;
  exitCode: number;
  wallSeconds: number;
  /** As the starter reports it with --stats (reading and validating only, no process start-up). */
  starterRowsPerSecond?: number;
  starterPeakRssMb?: number;
  /** The child process's VmHWM: the whole process, tsx loader included. */
  processPeakRssMb: number;
}

async function dryRun(workDir: string, rows: number): Promise<DryRunResult> {
  const csv = join(workDir, 'dry-run.csv');
  await writeCsv(csv, phoneNumberIds(randomIdBase(), rows));
  const t0 = performance.now();
  // `node --import tsx` runs the starter in this one process, so /proc/<pid> is the starter itself.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/starter.ts', '--file', csv, '--dry-run', '--stats'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const pid = child.pid ?? -1;
  const hwm = new PeakSampler(() => procStatusBytes(pid, 'VmHWM'), 50);
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.resume();
  const exitCode = await new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
  const peak = hwm.stop();
  const wallSeconds = (performance.now() - t0) / 1000;
  const stats = /(\d+) rows\/s · peak RSS ([\d.]+) MB/.exec(stdout);
  return {
    rows,
    exitCode,
    wallSeconds: round(wallSeconds, 2),
    starterRowsPerSecond: stats?.[1] ? Number(stats[1]) : undefined,
    starterPeakRssMb: stats?.[2] ? Number(stats[2]) : undefined,
    processPeakRssMb: mb(peak),
  };
}

const loadavg = () => osLoadavg().map((l) => round(l, 2));

/** The Graph cap measured on K worker processes, in namespace rate-K of the bench's stack. */
function graphCapRun(stack: Stack, workers: number, cap: number, numbers: number): Promise<GraphCapResult> {
  return graphCapAcrossProcesses(
    {
      temporalAddress: stack.temporal.address,
      namespace: `rate-${workers}`,
      vaultAddress: stack.bao.address,
      vaultToken: stack.bao.rootToken,
      sandbox: stack.sandbox,
      sandboxToken: BENCH_GRAPH_TOKEN,
      logDir: stack.workDir,
    },
    { workers, cap, numbers },
  );
}

function profileSummary(profile: Stack['profile'], numbers: number) {
  return Object.fromEntries(
    [...profile].map(([name, { calls, ms }]) => [
      name,
      { callsPerNumber: round(calls / numbers, 2), msPerCall: round(ms / calls, 2) },
    ]),
  );
}

async function main(io: CliIo): Promise<number> {
  if (io.argv.includes('--production')) {
    // Imported here: production-bench.ts imports rateWindows from this file.
    const { runProductionBench } = await import('./production-bench');
    return runProductionBench({ ...io, argv: io.argv.filter((a) => a !== '--production') });
  }
  const opts = parseOptions(io);
  installRuntimeLogging(process.env.LOG_LEVEL, 'ERROR');
  const workDir = mkdtempSync(join(tmpdir(), 'pin-onboarding-bench-'));
  const namespaces = [
    'warmup-base',
    'warmup-ours',
    ...opts.sizes.flatMap((n) => [`ours-${n}`, `base-${n}`]),
    'latency-base',
    'latency-ours',
    'latency-never',
    ...opts.sizes.map((n) => `never-${n}`),
    'starts-plain',
    'starts-same',
    'starts-starter',
    ...opts.rateWorkers.map((k) => `rate-${k}`),
  ];
  console.error(`bench: starting the stack (logs in ${workDir})...`);
  const stack = await startStack([...new Set(namespaces)], workDir);
  const uninstall = onInterrupt(async () => {
    await stopStack(stack);
    rmSync(workDir, { recursive: true, force: true });
  });
  try {
    console.error('bench: warm-up...');
    await throughput(stack, 'baseline', 'warmup-base', 50);
    await throughput(stack, 'registerNumber', 'warmup-ours', 50);
    stack.profile.clear();

    const loadAtStart = loadavg();
    console.error(`bench: single-number latency, ${opts.latencyRuns} runs each...`);
    const latencies = {
      baseline: await latency(stack, 'baseline', 'latency-base', opts.latencyRuns),
      registerNumber: await latency(stack, 'registerNumber', 'latency-ours', opts.latencyRuns),
      'registerNumber never': await latency(stack, 'registerNumber never', 'latency-never', opts.latencyRuns),
    };

    const throughputs: ThroughputResult[] = [];
    const profiles: Record<string, unknown> = {};
    for (const n of opts.sizes) {
      console.error(`bench: N=${n} baseline...`);
      throughputs.push(await throughput(stack, 'baseline', `base-${n}`, n));
      console.error(`bench: N=${n} registerNumber...`);
      stack.profile.clear();
      throughputs.push(await throughput(stack, 'registerNumber', `ours-${n}`, n));
      profiles[String(n)] = profileSummary(stack.profile, n);
      console.error(`bench: N=${n} registerNumber, register: never...`);
      throughputs.push(await throughput(stack, 'registerNumber never', `never-${n}`, n));
    }
    console.error(`bench: start rates over ${opts.starts} starts...`);
    const starts = await startRates(stack, opts.starts);
    const rates: GraphCapResult[] = [];
    for (const k of opts.rateWorkers) {
      console.error(
        `bench: Graph cap ${opts.rate}/s, ${k} worker process(es), ${opts.rateNumbers} numbers...`,
      );
      rates.push(await graphCapRun(stack, k, opts.rate, opts.rateNumbers));
    }
    console.error(`bench: starter --dry-run over ${opts.dryRunRows} rows...`);
    const dry = await dryRun(workDir, opts.dryRunRows);

    const ratioOf = (t: ThroughputResult) => {
      const base = throughputs.find((b) => b.n === t.n && b.workflow === 'baseline');
      return base ? round(t.perSecond / base.perSecond, 2) : Number.NaN;
    };
    const ratios = throughputs
      .filter((t) => t.workflow !== 'baseline')
      .map((t) => ({ n: t.n, workflow: t.workflow, ratio: ratioOf(t) }));

    console.log('\nEnd-to-end throughput (first start to last Completed; latency = workflow start to close)');
    printTable(
      ['workflow', 'N', 'seconds', 'numbers/s', 'p50 ms', 'p95 ms', 'p99 ms', 'peak RSS MB', 'vs baseline'],
      throughputs.map((t) => [
        t.workflow,
        t.n,
        t.seconds,
        t.perSecond,
        t.latencyMs.p50,
        t.latencyMs.p95,
        t.latencyMs.p99,
        t.peakRssMb,
        t.workflow === 'baseline' ? '' : ratioOf(t),
      ]),
    );
    console.log(
      '\nCost per number (Temporal Cloud billable actions and history events, from real histories)',
    );
    printTable(
      ['workflow', 'N', 'histories', 'actions', 'min', 'max', 'events', 'by kind'],
      throughputs.map((t) => [
        t.workflow,
        t.n,
        t.cost.histories,
        t.cost.actionsPerNumber,
        t.cost.minActions,
        t.cost.maxActions,
        t.cost.eventsPerNumber,
        Object.entries(t.cost.actionsByKind)
          .filter(([, v]) => v > 0)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      ]),
    );
    console.log('\nCPU per number, ms (where the difference to the baseline goes)');
    printTable(
      ['workflow', 'N', 'bench process (worker, client, sandbox)', 'Temporal server', 'OpenBao', 'total'],
      throughputs.map((t) => [
        t.workflow,
        t.n,
        t.cpuMsPerNumber.benchProcess,
        t.cpuMsPerNumber.temporalServer,
        t.cpuMsPerNumber.openBao,
        round(t.cpuMsPerNumber.benchProcess + t.cpuMsPerNumber.temporalServer + t.cpuMsPerNumber.openBao, 2),
      ]),
    );
    console.log(`\nSingle-number latency, start to Completed, one at a time (${opts.latencyRuns} runs)`);
    printTable(
      ['workflow', 'p50 ms', 'p95 ms', 'max ms', 'client p50 ms', 'client p95 ms'],
      Object.entries(latencies).map(([name, l]) => [
        name,
        l.serverMs.p50,
        l.serverMs.p95,
        l.serverMs.max,
        l.clientMs.p50,
        l.clientMs.p95,
      ]),
    );
    console.log(
      `\nStarts (concurrency ${starts.concurrency}, ${starts.n} starts in ${START_ROUNDS} rounds, no worker running; goal >= 0.9)`,
    );
    printTable(
      [
        'plain loop /s',
        'startOnboarding loop /s',
        'starter /s',
        'starter / plain',
        'starter / startOnboarding',
        'rounds (starter / plain)',
      ],
      [
        [
          starts.plainLoopPerSecond,
          starts.sameRequestsPerSecond,
          starts.starterPerSecond,
          starts.ratio,
          starts.ratioToSameRequests,
          starts.roundRatios.join(' '),
        ],
      ],
    );
    console.log(
      `\nGraph cap R = ${opts.rate}/s, ${opts.rateNumbers} numbers, worker processes started at once on an idle queue`,
    );
    printTable(
      ['workers', 'requests', 'span s', 'max in any 1 s', 'max / R', 'steady /s', 'steady / R'],
      rates.map((r) => [
        r.workers,
        r.requests,
        r.spanSeconds,
        r.maxPerSecondWindow,
        r.maxRatio,
        r.steadyMeanPerSecond,
        r.steadyRatio,
      ]),
    );
    console.log(`\nStarter --dry-run (${dry.rows} rows)`);
    printTable(
      ['rows/s (starter)', 'peak RSS MB (starter)', 'process VmHWM MB', 'wall s', 'exit'],
      [
        [
          dry.starterRowsPerSecond ?? '?',
          dry.starterPeakRssMb ?? '?',
          dry.processPeakRssMb,
          dry.wallSeconds,
          dry.exitCode,
        ],
      ],
    );
    console.log('\nWhere registerNumber spends its activity time (per number)');
    for (const [n, summary] of Object.entries(profiles)) console.log(`  N=${n}: ${JSON.stringify(summary)}`);
    const loadAtEnd = loadavg();
    console.log(
      `\nload average (1, 5, 15 min): at start ${loadAtStart.join(' ')}, at end ${loadAtEnd.join(' ')}`,
    );

    writeJson(opts.out, {
      when: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        node: process.version,
        platform: process.platform,
        loadAverage: { atStart: loadAtStart, atEnd: loadAtEnd },
      },
      workerSettings: {
        ...BENCH_WORKER_SETTINGS,
        startConcurrency: START_CONCURRENCY,
        maxCachedWorkflows: 'SDK default',
      },
      throughput: throughputs,
      ratioToBaseline: ratios,
      activityProfile: profiles,
      singleNumberLatency: latencies,
      starts,
      graphCap: rates,
      dryRun: dry,
    });
    console.log(`\nresults: ${opts.out}`);
    return 0;
  } finally {
    uninstall();
    await stopStack(stack);
    rmSync(workDir, { recursive: true, force: true });
  }
}

// Ctrl-C is onInterrupt's: it stops the stack this run started, then exits 130.
if (require.main === module) runMain({ name: 'bench' }, main);
