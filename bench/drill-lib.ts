// The fault drills' machinery, shared by `npm run drill` and test/drill.test.ts: the worker as a
// separate process (src/worker.ts, configured through its environment exactly as in production),
// a batch started through startOnboarding, a disruption while it runs, then a check of every
// number: Completed, or AwaitingManualReset with a reason; and the vault's active PIN equal to
// the PIN the Graph sandbox holds.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { createDataConverter } from '../src/codec/data-converter';
import { generateKeyringValue, parseKeyring } from '../src/crypto/keyring';
import type { GraphSandbox } from '../src/graph-sandbox/server';
import { spawnManaged, type ManagedProcess } from '../src/local-stack/processes';
import { startOnboarding } from '../src/onboarding/start-onboarding';
import { createPinStore, type PinStore } from '../src/vault/pin-store';
import { createVaultClient } from '../src/vault/vault-client';
import {
  onboardingStatusKey,
  statusQuery,
  workflowIdFor,
  type RetrySchedules,
} from '../src/workflows/messages';
import { phoneNumberIds, pool, printTable, randomIdBase, sleep } from './common';

const ROOT = resolve(__dirname, '..');
const WORKER_ENTRY = join(ROOT, 'src', 'worker.ts');
const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/** Short retry schedules, so that a drill recovers in seconds rather than in production's minutes. */
export const DRILL_RETRY_SCHEDULES: RetrySchedules = {
  graph: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5s' },
  vault: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5s' },
};

/** Where the drills run: a dedicated stack (npm run drill) or the test suite's shared servers. */
export interface DrillTarget {
  temporalAddress: string;
  namespace: string;
  vaultAddress: string;
  vaultToken: string;
  sandbox: GraphSandbox;
  sandboxToken: string;
  logDir: string;
}

export interface DrillContext extends DrillTarget {
  client: Client;
  connection: Connection;
  pinStore: PinStore;
  vaultPrefix: string;
  /** The first of `workers`. */
  worker: WorkerChild;
  /** Worker processes sharing the task queues (one unless openDrillContext was asked for more). */
  workers: WorkerChild[];
  close(): Promise<void>;
}

/** The worker process: `node --import tsx src/worker.ts`, so its pid is the worker itself. */
export class WorkerChild {
  private proc: ManagedProcess | undefined;
  private readyLines = 0;
  starts = 0;
  kills = 0;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  alive(): boolean {
    return this.proc !== undefined && this.exitedWith === undefined;
  }

  private exitedWith: number | NodeJS.Signals | undefined;

  private exitStatus(): number | NodeJS.Signals | undefined {
    return this.exitedWith;
  }

  private countReady(): number {
    if (!existsSync(this.logFile)) return 0;
    return readFileSync(this.logFile, 'utf8').split('worker: ready').length - 1;
  }

  /** Starts a worker process and waits for its "ready" line (it bundles the workflows first). */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.alive()) throw new Error('the worker is already running');
    this.readyLines = this.countReady();
    this.exitedWith = undefined;
    const proc = spawnManaged({
      name: 'worker',
      command: process.execPath,
      args: ['--import', TSX_LOADER, WORKER_ENTRY],
      env: this.env,
      logFile: this.logFile,
    });
    this.proc = proc;
    this.starts++;
    void proc.exited.then((code) => {
      if (this.proc === proc) this.exitedWith = code;
    });
    const deadline = Date.now() + timeoutMs;
    while (this.countReady() <= this.readyLines) {
      const ended = this.exitStatus();
      if (ended !== undefined) {
        throw new Error(`the worker exited (${ended}) before it was ready; see ${this.logFile}`);
      }
      if (Date.now() > deadline) {
        await proc.stop();
        throw new Error(`the worker was not ready within ${timeoutMs / 1000} s; see ${this.logFile}`);
      }
      await sleep(100);
    }
  }

  /** SIGKILL: no shutdown, no goodbye to the server, activities in flight simply vanish. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.alive()) return;
    process.kill(proc.pid, 'SIGKILL');
    this.kills++;
    await proc.exited;
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }
}

export async function openDrillContext(
  target: DrillTarget,
  graphRate: number,
  opts: { workers?: number } = {},
): Promise<DrillContext> {
  const sealingKeys = generateKeyringValue('drill-seal');
  const codecKeys = generateKeyringValue('drill-codec');
  const vaultPrefix = `drills/${target.namespace}/${Date.now().toString(36)}`;
  const connection = await Connection.connect({ address: target.temporalAddress });
  const client = new Client({
    connection,
    namespace: target.namespace,
    dataConverter: createDataConverter(parseKeyring('PAYLOAD_CODEC_KEYS', codecKeys)),
  });
  const vault = createVaultClient({
    address: target.vaultAddress,
    auth: { kind: 'token', token: target.vaultToken },
    timeoutMs: 10_000,
  });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: target.temporalAddress,
    TEMPORAL_NAMESPACE: target.namespace,
    GRAPH_BASE_URL: target.sandbox.url,
    GRAPH_ACCESS_TOKEN: target.sandboxToken,
    GRAPH_MAX_REQUESTS_PER_SECOND: String(graphRate),
    // Short client timeouts, so the sandbox's slow answers become lost responses the worker retries.
    GRAPH_HEADERS_TIMEOUT_MS: '2000',
    GRAPH_BODY_TIMEOUT_MS: '2000',
    VAULT_ADDR: target.vaultAddress,
    VAULT_TOKEN: target.vaultToken,
    VAULT_PIN_PREFIX: vaultPrefix,
    VAULT_REQUEST_TIMEOUT_MS: '5000',
    PIN_SEALING_KEYS: sealingKeys,
    PAYLOAD_CODEC_KEYS: codecKeys,
    LOG_LEVEL: 'WARN',
  };
  const count = opts.workers ?? 1;
  const workers = Array.from(
    { length: count },
    (_, i) =>
      new WorkerChild(
        env,
        join(target.logDir, `worker-${target.namespace}${count > 1 ? `-${i + 1}` : ''}.log`),
      ),
  );
  const [worker] = workers as [WorkerChild];
  return {
    ...target,
    client,
    connection,
    pinStore: createPinStore({ vault, mount: 'secret', prefix: vaultPrefix }),
    vaultPrefix,
    worker,
    workers,
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      await connection.close();
    },
  };
}

export interface DrillSpec {
  name: string;
  size: number;
  /** Before the batch starts (e.g. sandbox scenarios), given the batch's ids. */
  prepare?(ctx: DrillContext, ids: readonly string[]): void | Promise<void>;
  /** The disruption, run while the batch runs; returns notes for the report. */
  disrupt?(ctx: DrillContext, run: BatchProgress): Promise<string[]>;
  /** After the check (e.g. clearing scenarios). */
  cleanup?(ctx: DrillContext, ids: readonly string[]): void | Promise<void>;
  settleTimeoutMs?: number;
}

export interface BatchProgress {
  size: number;
  /** Numbers that reached an end state (Completed / AwaitingManualReset / other close). */
  settled(): Promise<number>;
  /** Waits until at least `fraction` of the batch has settled (or the timeout passes). */
  waitForFraction(fraction: number, timeoutMs?: number): Promise<number>;
}

export interface DrillResult {
  name: string;
  size: number;
  started: number;
  completed: number;
  awaitingManualReset: number;
  lost: number;
  mismatched: number;
  /** AwaitingManualReset without a human-readable reason in its status. */
  withoutReason: number;
  /** Among the lost: still in progress when the drill's deadline passed. */
  unfinished: number;
  seconds: number;
  workerStarts: number;
  workerKills: number;
  /** AwaitingManualReset reasons, counted. */
  reasons: Record<string, number>;
  notes: string[];
  /** The first few individual problems, for diagnosis. */
  problems: string[];
  /** The chaos drill: the Graph requests the sandbox saw, by fault. */
  graphRequests?: Record<string, number>;
}

function settledQuery(since: string): string {
  return `(ExecutionStatus != 'Running' OR OnboardingStatus = 'AwaitingManualReset') AND StartTime >= '${since}'`;
}

export async function runDrill(ctx: DrillContext, spec: DrillSpec): Promise<DrillResult> {
  const t0 = Date.now();
  const since = new Date(t0 - 1_000).toISOString();
  const ids = phoneNumberIds(randomIdBase(), spec.size);
  await spec.prepare?.(ctx, ids);
  await Promise.all(ctx.workers.filter((w) => !w.alive()).map((w) => w.start()));

  const problems: string[] = [];
  const note = (p: string) => {
    if (problems.length < 20) problems.push(p);
  };
  const started: string[] = [];
  await pool(ids, 20, async (id) => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const res = await startOnboarding(ctx.client, {
          phoneNumberId: id,
          retrySchedules: DRILL_RETRY_SCHEDULES,
        });
        if (res.outcome === 'started' || res.outcome === 'already-running') started.push(id);
        else note(`${id}: start answered ${res.outcome}`);
        return;
      } catch (err) {
        if (attempt === 5) note(`${id}: could not be started: ${(err as Error).message}`);
        else await sleep(1_000 * attempt);
      }
    }
  });

  const progress: BatchProgress = {
    size: started.length,
    async settled() {
      return (await ctx.client.workflow.count(settledQuery(since))).count;
    },
    async waitForFraction(fraction, timeoutMs = 300_000) {
      const target = Math.ceil(started.length * fraction);
      const deadline = Date.now() + timeoutMs;
      let seen = 0;
      while (Date.now() < deadline) {
        seen = await progress.settled().catch(() => seen);
        if (seen >= target) break;
        await sleep(200);
      }
      return seen;
    },
  };
  const notes = spec.disrupt ? await spec.disrupt(ctx, progress) : [];
  const settleTimeoutMs = spec.settleTimeoutMs ?? 300_000;
  const settled = await progress.waitForFraction(1, settleTimeoutMs);
  if (settled < started.length)
    notes.push(`only ${settled} of ${started.length} settled in ${settleTimeoutMs / 1000} s`);

  const result: DrillResult = {
    name: spec.name,
    size: spec.size,
    started: started.length,
    completed: 0,
    awaitingManualReset: 0,
    lost: 0,
    mismatched: 0,
    withoutReason: 0,
    unfinished: 0,
    seconds: 0,
    workerStarts: 0,
    workerKills: 0,
    reasons: {},
    notes,
    problems,
  };
  await pool(started, 10, async (id) => {
    const outcome = await checkNumber(ctx, id);
    switch (outcome.kind) {
      case 'completed':
        result.completed++;
        break;
      case 'awaiting':
        result.awaitingManualReset++;
        if (outcome.reason) result.reasons[outcome.reason] = (result.reasons[outcome.reason] ?? 0) + 1;
        else {
          result.withoutReason++;
          note(`${id}: AwaitingManualReset without a reason`);
        }
        break;
      case 'unfinished':
        result.lost++;
        result.unfinished++;
        note(`${id}: still ${outcome.detail} at the deadline`);
        break;
      case 'lost':
        result.lost++;
        note(`${id}: lost (${outcome.detail})`);
        break;
    }
    if (outcome.mismatch) {
      result.mismatched++;
      note(`${id}: ${outcome.mismatch}`);
    }
  });
  result.lost += spec.size - started.length;
  result.seconds = Math.round((Date.now() - t0) / 100) / 10;
  result.workerStarts = ctx.workers.reduce((n, w) => n + w.starts, 0);
  result.workerKills = ctx.workers.reduce((n, w) => n + w.kills, 0);
  await spec.cleanup?.(ctx, ids);
  return result;
}

type NumberOutcome =
  | { kind: 'completed'; mismatch?: string }
  | { kind: 'awaiting'; reason?: string; mismatch?: string }
  | { kind: 'unfinished' | 'lost'; detail: string; mismatch?: string };

async function withRetries<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || err instanceof WorkflowNotFoundError) throw err;
      await sleep(500 * i);
    }
  }
}

async function checkNumber(ctx: DrillContext, id: string): Promise<NumberOutcome> {
  const handle = ctx.client.workflow.getHandle(workflowIdFor(id));
  let status: string;
  let stage: string | undefined;
  try {
    const d = await withRetries(() => handle.describe());
    status = d.status.name;
    stage = d.typedSearchAttributes.get(onboardingStatusKey);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { kind: 'lost', detail: 'workflow not found' };
    return { kind: 'lost', detail: `describe failed: ${(err as Error).message}` };
  }
  const sandboxPin = ctx.sandbox.pinOf(id);
  const active = await withRetries(() => ctx.pinStore.readActivePin(id));
  if (status === 'COMPLETED') {
    if (!active) return { kind: 'completed', mismatch: 'Completed but no active PIN in the vault' };
    if (active.pin !== sandboxPin) {
      return {
        kind: 'completed',
        mismatch: `vault active v${active.version} differs from the sandbox's PIN`,
      };
    }
    return { kind: 'completed' };
  }
  if (status === 'RUNNING' && stage === 'AwaitingManualReset') {
    const s = await withRetries(() => handle.query(statusQuery)).catch(() => undefined);
    const reason = s?.lastError
      ? `${s.lastError.step}: ${s.lastError.type}: ${s.lastError.message}`
      : undefined;
    let mismatch: string | undefined;
    // Meta may hold a PIN that was set but never confirmed: it must then be the stored pending one.
    if (sandboxPin !== undefined && active?.pin !== sandboxPin) {
      const pending = s?.vault
        ? await withRetries(() =>
            ctx.pinStore.readPin({ phoneNumberId: id, version: s.vault?.version ?? 0 }),
          ).catch(() => undefined)
        : undefined;
      if (pending !== sandboxPin)
        mismatch = 'the sandbox holds a PIN the vault does not have for this number';
    }
    return { kind: 'awaiting', reason, mismatch };
  }
  if (status === 'RUNNING') return { kind: 'unfinished', detail: `running in stage ${stage ?? '?'}` };
  return { kind: 'lost', detail: `closed as ${status}` };
}

/** Waits for the batch to move again; false when nothing settled within `ms`. */
export async function resumes(run: { settled(): Promise<number> }, ms: number): Promise<boolean> {
  const before = await run.settled().catch(() => 0);
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await run.settled().catch(() => 0)) > before) return true;
    await sleep(500);
  }
  return false;
}

/** The drills' table and each drill's notes, reasons and problems, on stdout. */
export function printDrillReport(title: string, results: readonly DrillResult[]): void {
  console.log(`\n${title}`);
  printTable(
    ['drill', 'started', 'Completed', 'AwaitingManualReset', 'lost', 'mismatched', 'no reason', 'seconds'],
    results.map((r) => [
      r.name,
      r.started,
      r.completed,
      r.awaitingManualReset,
      r.lost,
      r.mismatched,
      r.withoutReason,
      r.seconds,
    ]),
  );
  for (const r of results) {
    console.log(`\n${r.name}: ${r.notes.join('; ') || 'no notes'}`);
    if (Object.keys(r.reasons).length > 0)
      console.log(`  AwaitingManualReset reasons: ${JSON.stringify(r.reasons)}`);
    if (r.graphRequests)
      console.log(`  Graph requests seen by the sandbox: ${JSON.stringify(r.graphRequests)}`);
    for (const p of r.problems) console.log(`  problem: ${p}`);
  }
}

/** Nothing lost, nothing mismatched, every parked number with a reason. */
export function drillsPassed(results: readonly DrillResult[]): boolean {
  return results.every((r) => r.lost === 0 && r.mismatched === 0 && r.withoutReason === 0);
}

// ---------------------------------------------------------------------------------------------------
// The drills

/** SIGKILLs the worker `times` times as the batch progresses, restarting it each time. */
export function workerKillDrill(size: number, times = 3): DrillSpec {
  return {
    name: 'worker-sigkill',
    size,
    async disrupt(ctx, run) {
      const notes: string[] = [];
      for (let k = 1; k <= times; k++) {
        const at = await run.waitForFraction(k / (times + 1));
        await ctx.worker.kill();
        const killedAt = Date.now();
        await ctx.worker.start();
        notes.push(
          `SIGKILL #${k} at ${at}/${run.size} settled, new worker ready after ${((Date.now() - killedAt) / 1000).toFixed(1)} s`,
        );
      }
      const lastStart = Date.now();
      await run.waitForFraction(1);
      notes.push(`batch settled ${((Date.now() - lastStart) / 1000).toFixed(1)} s after the last restart`);
      return notes;
    },
  };
}

/**
 * SIGKILLs the last of several workers once `fraction` of the batch has settled and leaves it dead:
 * the others must take over its workflows (sticky queues time out) and its in-flight activities
 * (retried when their start-to-close timeout passes).
 */
export function workerLossDrill(size: number, fraction = 0.3): DrillSpec {
  return {
    name: 'worker-sigkill-not-restarted',
    size,
    async disrupt(ctx, run) {
      const victim = ctx.workers.at(-1);
      if (!victim || ctx.workers.length < 2)
        throw new Error('the worker-loss drill needs two workers or more');
      const at = await run.waitForFraction(fraction);
      const pid = victim.pid;
      await victim.kill();
      const killedAt = Date.now();
      const notes = [
        `SIGKILL to worker pid ${pid} (1 of ${ctx.workers.length}) at ${at}/${run.size} settled, not restarted`,
      ];
      await run.waitForFraction(1);
      notes.push(
        `the other ${ctx.workers.length - 1} settled the batch ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`,
      );
      return notes;
    },
  };
}

/** After Temporal went away: did the workers carry on by themselves? Restart them only if not. */
export async function workersCarryOn(
  ctx: DrillContext,
  run: BatchProgress,
  waitMs = 90_000,
): Promise<string> {
  const dead = ctx.workers.filter((w) => !w.alive());
  if (dead.length > 0) {
    await Promise.all(dead.map((w) => w.start()));
    return `${dead.length} worker process(es) had exited: restarted them`;
  }
  if (await resumes(run, waitMs))
    return 'the same worker process(es) reconnected by themselves and carried on';
  if ((await run.settled().catch(() => 0)) >= run.size) return 'the batch had already settled';
  await Promise.all(ctx.workers.map(async (w) => (await w.stop(), await w.start())));
  return `no progress ${waitMs / 1000} s after the restart: restarted the worker process(es)`;
}

/**
 * One part of the stack taken away once 30% of the batch has settled, and brought back after
 * `downMs`. The notes say when, for how long, how far the batch got meanwhile (when Temporal can
 * still count), and how the part came back.
 */
export function outageDrill(o: {
  name: string;
  size: number;
  downMs: number;
  /** What happens, as the first note says it: 'OpenBao sealed'. */
  down: string;
  takeDown(): Promise<void>;
  /** Brings the part back; returns the note that says how. */
  bringBack(): Promise<string>;
  /** Temporal itself went away: check that the workers pick up again within this long. */
  workersResumeWithinMs?: number;
}): DrillSpec {
  return {
    name: o.name,
    size: o.size,
    async disrupt(ctx, run) {
      const at = await run.waitForFraction(0.3);
      await o.takeDown();
      const notes = [`${o.down} at ${at}/${run.size} settled, for ${o.downMs / 1000} s`];
      await sleep(o.downMs);
      const meanwhile = await run.settled().catch(() => undefined);
      if (meanwhile !== undefined) notes.push(`${meanwhile}/${run.size} settled meanwhile`);
      notes.push(await o.bringBack());
      if (o.workersResumeWithinMs !== undefined)
        notes.push(await workersCarryOn(ctx, run, o.workersResumeWithinMs));
      return notes;
    },
  };
}

/** A third of Graph calls fail: throttled, 5xx, 502 pages, resets; one number in ten answers slowly. */
export function graphChaosDrill(size: number, seed = 7): DrillSpec {
  return {
    name: 'graph-chaos',
    size,
    prepare(ctx, ids) {
      ctx.sandbox.setScenario('*', {
        kind: 'chaos',
        probability: 0.33,
        seed,
        faults: ['throttled', 'serverError', 'html502', 'connectionReset'],
      });
      // The chaos scenario has no 'slow' fault: every tenth number answers late once instead,
      // half of them later than the worker's 2 s client timeout (a lost response: Meta has the PIN).
      ids.forEach((id, i) => {
        if (i % 10 === 0)
          ctx.sandbox.setScenario(id, { kind: 'slow', delayMs: i % 20 === 0 ? 3_000 : 800, times: 1 });
      });
    },
    cleanup(ctx, ids) {
      ctx.sandbox.setScenario('*', undefined);
      ids.forEach((id, i) => {
        if (i % 10 === 0) ctx.sandbox.setScenario(id, undefined);
      });
    },
  };
}

export function faultSummary(sandbox: GraphSandbox): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of sandbox.requests()) {
    const key = r.fault ?? (r.status === 200 ? 'ok' : `status ${r.status}`);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
