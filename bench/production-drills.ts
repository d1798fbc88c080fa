// `npm run drill -- --production`: the fault drills on the production shape. The real Temporal
// server on PostgreSQL (frontend, history, matching and worker services as separate processes),
// OpenBao in server mode with Raft, the Graph sandbox, and several worker processes sharing the
// task queues. Each drill runs a batch, disrupts one part, and checks every number as the other
// drills do: Completed or AwaitingManualReset with a reason, the vault's active PIN equal to the PIN
// the sandbox holds.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CliIo } from '../src/cli/cli-io';
import { wholeNumberFlag } from '../src/cli/flag-values';
import { parseFlags } from '../src/cli/parse-flags';
import { UsageError } from '../src/cli/usage-error';
import { startGraphSandbox } from '../src/graph-sandbox/server';
import { freePort, type ManagedProcess } from '../src/local-stack/processes';
import { ensureProductionBinaries } from '../src/local-stack/production-binaries';
import { startProductionStack, type ProductionStack } from '../src/local-stack/production-stack';
import type { TemporalLayout } from '../src/local-stack/temporal-server';
import { installRuntimeLogging } from '../src/temporal/runtime-logging';
import { onInterrupt, sleep, writeJson } from './common';
import {
  drillsPassed,
  openDrillContext,
  printDrillReport,
  resumes,
  runDrill,
  workerLossDrill,
  type BatchProgress,
  type DrillContext,
  type DrillResult,
  type DrillSpec,
} from './drill-lib';

export const PRODUCTION_DRILLS = [
  'worker-loss',
  'temporal-kill',
  'postgres-restart',
  'openbao-seal',
] as const;
type ProductionDrill = (typeof PRODUCTION_DRILLS)[number];

const HELP = `Usage: npm run drill -- --production [options]

Fault drills on the production shape, on a stack of its own (free ports, a temporary folder, all
stopped at the end): PostgreSQL, the real Temporal server (built on first use), OpenBao in server
mode with Raft, the Graph sandbox, and several worker processes (src/worker.ts).

  worker-loss        one of the workers SIGKILLed mid-batch and not restarted
  temporal-kill      every Temporal server process SIGKILLed mid-batch, restarted after a pause
  postgres-restart   PostgreSQL stopped mid-batch and started again on the same cluster
  openbao-seal       OpenBao sealed mid-batch, unsealed after a pause

Options:
  --size N             numbers per drill (default 300)
  --workers N          worker processes (default 3)
  --only NAME          one drill (${PRODUCTION_DRILLS.join(', ')})
  --graph-rate R       GRAPH_MAX_REQUESTS_PER_SECOND (default 10)
  --temporal-down S    seconds Temporal stays down (default 10)
  --postgres-down S    seconds PostgreSQL stays down (default 10)
  --vault-sealed S     seconds OpenBao stays sealed (default 30)
  --single-process     run the Temporal services in one process instead of four
  --out FILE           results JSON (default bench-results/drill-production.json)
  --help               this text`;

interface ProductionDrillOptions {
  size: number;
  workers: number;
  only?: ProductionDrill;
  graphRate: number;
  temporalDownMs: number;
  postgresDownMs: number;
  vaultSealedMs: number;
  layout: TemporalLayout;
  out: string;
}

function parseOptions(io: CliIo): ProductionDrillOptions {
  const { values } = parseFlags(io, {
    strings: 'size workers only graph-rate temporal-down postgres-down vault-sealed out',
    booleans: 'single-process',
    help: HELP,
  });
  if (values.only !== undefined && !(PRODUCTION_DRILLS as readonly string[]).includes(values.only)) {
    throw new UsageError(`--only must be one of ${PRODUCTION_DRILLS.join(', ')}`);
  }
  const seconds = (flag: string, raw: string | undefined, fallback: number) =>
    wholeNumberFlag(flag, raw, { fallback, min: 0, max: 3_600 }) * 1000;
  return {
    size: wholeNumberFlag('--size', values.size, { fallback: 300, max: 5_000 }),
    workers: wholeNumberFlag('--workers', values.workers, { fallback: 3, min: 2, max: 16 }),
    only: values.only as ProductionDrill | undefined,
    graphRate: wholeNumberFlag('--graph-rate', values['graph-rate'], { fallback: 10, max: 1_000 }),
    temporalDownMs: seconds('--temporal-down', values['temporal-down'], 10),
    postgresDownMs: seconds('--postgres-down', values['postgres-down'], 10),
    vaultSealedMs: seconds('--vault-sealed', values['vault-sealed'], 30),
    layout: values['single-process'] ? 'single' : 'split',
    out: resolve(values.out ?? 'bench-results/drill-production.json'),
  };
}

/** Notes which of `processes` ended while `during` ran (a crash the drill must report). */
async function exitsDuring(
  processes: readonly ManagedProcess[],
  during: () => Promise<void>,
): Promise<string[]> {
  const ended: string[] = [];
  for (const p of processes) void p.exited.then((code) => ended.push(`${p.name} exited (${code})`));
  await during();
  await sleep(2_000);
  return ended;
}

/** After a disruption: did the workers carry on by themselves? Restart them only if not. */
async function workersCarryOn(ctx: DrillContext, run: BatchProgress): Promise<string> {
  const dead = ctx.workers.filter((w) => !w.alive());
  if (dead.length > 0) {
    await Promise.all(dead.map((w) => w.start()));
    return `${dead.length} worker process(es) had exited: restarted them`;
  }
  if (await resumes(run, 90_000)) return 'the same worker processes reconnected by themselves and carried on';
  if ((await run.settled().catch(() => 0)) >= run.size) return 'the batch had already settled';
  await Promise.all(ctx.workers.map(async (w) => (await w.stop(), await w.start())));
  return 'no progress 90 s after the restart: restarted the workers';
}

function temporalKillDrill(stack: ProductionStack, size: number, downMs: number): DrillSpec {
  return {
    name: 'temporal-kill',
    size,
    async disrupt(ctx, run) {
      const at = await run.waitForFraction(0.3);
      const names = stack.temporal.processes.map((p) => p.name).join(', ');
      const t0 = Date.now();
      await stack.restartTemporal({ kill: true, downMs });
      const notes = [
        `SIGKILL to ${names} at ${at}/${run.size} settled, down ${downMs / 1000} s, ` +
          `serving again ${((Date.now() - t0) / 1000).toFixed(1)} s after the kill`,
      ];
      notes.push(await workersCarryOn(ctx, run));
      return notes;
    },
  };
}

function postgresRestartDrill(stack: ProductionStack, size: number, downMs: number): DrillSpec {
  return {
    name: 'postgres-restart',
    size,
    async disrupt(ctx, run) {
      const at = await run.waitForFraction(0.3);
      const t0 = Date.now();
      const crashed = await exitsDuring(stack.temporal.processes, () => stack.restartPostgres(downMs));
      const notes = [
        `PostgreSQL stopped (fast shutdown) at ${at}/${run.size} settled, down ${downMs / 1000} s, ` +
          `accepting connections again after ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      ];
      if (crashed.length > 0) {
        // What compose's `restart: unless-stopped` would do for the temporal service.
        notes.push(`Temporal did not ride it out (${crashed.join('; ')}): restarted it`);
        await stack.restartTemporal({ kill: false, downMs: 0 });
      } else {
        notes.push('every Temporal service process stayed up and reconnected to PostgreSQL');
      }
      notes.push(await workersCarryOn(ctx, run));
      return notes;
    },
  };
}

function openBaoSealDrill(stack: ProductionStack, size: number, sealedMs: number): DrillSpec {
  return {
    name: 'openbao-seal',
    size,
    async disrupt(_ctx, run) {
      const at = await run.waitForFraction(0.3);
      await stack.bao.seal();
      const notes = [`OpenBao sealed at ${at}/${run.size} settled, for ${sealedMs / 1000} s`];
      await sleep(sealedMs);
      notes.push(`${await run.settled().catch(() => 0)}/${run.size} settled while sealed`);
      await stack.bao.unseal();
      notes.push('unsealed with the stored key; the workers kept their tokens');
      return notes;
    },
  };
}

const SANDBOX_TOKEN = 'drill-graph-token';

/** `npm run drill -- --production ...`: the options after --production. */
export async function runProductionDrills(io: CliIo): Promise<number> {
  const opts = parseOptions(io);
  installRuntimeLogging(process.env.LOG_LEVEL, 'ERROR');
  ensureProductionBinaries();
  const chosen = opts.only ? [opts.only] : [...PRODUCTION_DRILLS];
  const dir = mkdtempSync(join(tmpdir(), 'pin-onboarding-drill-production-'));
  // PostgreSQL runs as its own user when this runs as root: it must be able to enter the folder.
  chmodSync(dir, 0o711);
  console.error(`drill: starting the production-shaped stack in ${dir}...`);
  const t0 = Date.now();
  const namespaces = chosen.map((d) => `drill-prod-${d}`);
  const sandbox = await startGraphSandbox({ accessToken: SANDBOX_TOKEN });
  let stack: ProductionStack;
  try {
    stack = await startProductionStack({
      dataDir: dir,
      temporalPort: await freePort(),
      vaultPort: await freePort(),
      namespace: namespaces[0],
      extraNamespaces: namespaces.slice(1),
      layout: opts.layout,
      ui: false,
    });
  } catch (err) {
    await sandbox.close();
    throw err;
  }
  console.error(`drill: stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (${opts.layout} layout)`);
  let ctx: DrillContext | undefined;
  const uninstall = onInterrupt(async () => {
    await ctx?.close();
    await Promise.allSettled([stack.stop(), sandbox.close()]);
  });
  const results: DrillResult[] = [];
  try {
    for (const name of chosen) {
      const spec =
        name === 'worker-loss'
          ? workerLossDrill(opts.size)
          : name === 'temporal-kill'
            ? temporalKillDrill(stack, opts.size, opts.temporalDownMs)
            : name === 'postgres-restart'
              ? postgresRestartDrill(stack, opts.size, opts.postgresDownMs)
              : openBaoSealDrill(stack, opts.size, opts.vaultSealedMs);
      console.error(`drill: ${name} over ${opts.size} numbers with ${opts.workers} workers...`);
      sandbox.reset();
      ctx = await openDrillContext(
        {
          temporalAddress: stack.temporalAddress,
          namespace: `drill-prod-${name}`,
          vaultAddress: stack.vaultAddress,
          vaultToken: stack.vaultToken,
          sandbox,
          sandboxToken: SANDBOX_TOKEN,
          logDir: stack.logDir,
        },
        opts.graphRate,
        { workers: opts.workers },
      );
      try {
        const result = await runDrill(ctx, spec);
        results.push(result);
        console.error(
          `drill: ${name}: ${result.completed} Completed, ${result.awaitingManualReset} AwaitingManualReset, ` +
            `${result.lost} lost, ${result.mismatched} mismatched in ${result.seconds} s`,
        );
      } finally {
        await ctx.close();
        ctx = undefined;
      }
    }
    printDrillReport(
      `Production-shape drills (Temporal ${opts.layout === 'split' ? 'as four service processes' : 'in one process'} ` +
        `on PostgreSQL, ${opts.workers} worker processes, GRAPH_MAX_REQUESTS_PER_SECOND=${opts.graphRate})`,
      results,
    );
    writeJson(opts.out, {
      when: new Date().toISOString(),
      shape: { layout: opts.layout, workers: opts.workers, graphRate: opts.graphRate },
      size: opts.size,
      temporalDownSeconds: opts.temporalDownMs / 1000,
      postgresDownSeconds: opts.postgresDownMs / 1000,
      vaultSealedSeconds: opts.vaultSealedMs / 1000,
      drills: results,
    });
    console.log(`\nresults: ${opts.out}`);
    return drillsPassed(results) ? 0 : 1;
  } finally {
    uninstall();
    await ctx?.close();
    await Promise.allSettled([stack.stop(), sandbox.close()]);
    if (!process.env.KEEP_DRILL_DATA) rmSync(dir, { recursive: true, force: true });
  }
}
