// `npm run drill -- --production`: the fault drills on the production shape. The real Temporal
// server on PostgreSQL (frontend, history, matching and worker services as separate processes),
// OpenBao in server mode with Raft, the Graph sandbox, and several worker processes sharing the
// task queues. Each drill runs a batch, disrupts one part, and checks every number as the other
// drills do: Completed or AwaitingManualReset with a reason, the vault's active PIN equal to the PIN
// the sandbox holds.
import type { CliIo } from '../src/cli/cli-io';
import { freePort, type ManagedProcess } from '../src/local-stack/processes';
import { ensureProductionBinaries } from '../src/local-stack/production-binaries';
import { startProductionStack, type ProductionStack } from '../src/local-stack/production-stack';
import { sleep } from './common';
import { outageDrill, workerLossDrill, workersCarryOn, type DrillSpec } from './drill-lib';
import { parseDrillFlags, runDrillSet } from './drill-runner';

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

function parseOptions(io: CliIo) {
  const flags = parseDrillFlags(io, {
    drills: PRODUCTION_DRILLS,
    help: HELP,
    strings: 'workers temporal-down postgres-down vault-sealed',
    booleans: 'single-process',
    defaultOut: 'bench-results/drill-production.json',
  });
  return {
    ...flags,
    size: flags.whole('size', { fallback: 300, max: 5_000 }),
    workers: flags.whole('workers', { fallback: 3, min: 2, max: 16 }),
    temporalDownMs: flags.milliseconds('temporal-down', 10),
    postgresDownMs: flags.milliseconds('postgres-down', 10),
    vaultSealedMs: flags.milliseconds('vault-sealed', 30),
    layout: flags.flag('single-process') ? ('single' as const) : ('split' as const),
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

function temporalKillDrill(stack: ProductionStack, size: number, downMs: number): DrillSpec {
  return {
    name: 'temporal-kill',
    size,
    async disrupt(ctx, run) {
      const at = await run.waitForFraction(0.3);
      const names = stack.temporal.processes.map((p) => p.name).join(', ');
      const t0 = Date.now();
      await stack.restartTemporal({ kill: true, downMs });
      return [
        `SIGKILL to ${names} at ${at}/${run.size} settled, down ${downMs / 1000} s, ` +
          `serving again ${((Date.now() - t0) / 1000).toFixed(1)} s after the kill`,
        await workersCarryOn(ctx, run),
      ];
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

function drillFor(
  name: ProductionDrill,
  stack: ProductionStack,
  opts: ReturnType<typeof parseOptions>,
): DrillSpec {
  switch (name) {
    case 'worker-loss':
      return workerLossDrill(opts.size);
    case 'temporal-kill':
      return temporalKillDrill(stack, opts.size, opts.temporalDownMs);
    case 'postgres-restart':
      return postgresRestartDrill(stack, opts.size, opts.postgresDownMs);
    case 'openbao-seal':
      return outageDrill({
        name,
        size: opts.size,
        downMs: opts.vaultSealedMs,
        down: 'OpenBao sealed',
        takeDown: () => stack.bao.seal(),
        bringBack: async () => {
          await stack.bao.unseal();
          return 'unsealed with the stored key; the workers kept their tokens';
        },
      });
  }
}

/** `npm run drill -- --production ...`: the options after --production. */
export async function runProductionDrills(io: CliIo): Promise<number> {
  const opts = parseOptions(io);
  ensureProductionBinaries();
  return runDrillSet({
    id: 'drill-prod',
    drills: opts.chosen,
    size: opts.size,
    graphRate: opts.graphRate,
    workers: opts.workers,
    out: opts.out,
    title:
      `Production-shape drills (Temporal ${opts.layout === 'split' ? 'as four service processes' : 'in one process'} ` +
      `on PostgreSQL, ${opts.workers} worker processes, GRAPH_MAX_REQUESTS_PER_SECOND=${opts.graphRate})`,
    options: {
      shape: { layout: opts.layout, workers: opts.workers, graphRate: opts.graphRate },
      size: opts.size,
      temporalDownSeconds: opts.temporalDownMs / 1000,
      postgresDownSeconds: opts.postgresDownMs / 1000,
      vaultSealedSeconds: opts.vaultSealedMs / 1000,
    },
    startStack: async (dir, namespaces) =>
      startProductionStack({
        dataDir: dir,
        temporalPort: await freePort(),
        vaultPort: await freePort(),
        namespace: namespaces[0],
        extraNamespaces: namespaces.slice(1),
        layout: opts.layout,
        ui: false,
      }),
    drill: (name, stack) => drillFor(name, stack, opts),
  });
}
