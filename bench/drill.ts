// `npm run drill`: fault drills on a real, persistent local stack (Temporal dev server with a
// database file, OpenBao with Raft storage, the Graph sandbox), the worker a separate process.
// Each drill runs a batch, disrupts it, and checks every number: nothing lost, nothing mismatched.
import { join } from 'node:path';
import { startOpenBaoPersistent, type PersistentOpenBaoServer } from '../src/local-stack/openbao-persistent';
import { freePort, startTemporalDevServer, type TemporalDevServer } from '../src/local-stack/processes';
import type { CliIo } from '../src/cli/cli-io';
import { runMain } from '../src/cli/run-main';
import { faultSummary, graphChaosDrill, outageDrill, workerKillDrill, type DrillSpec } from './drill-lib';
import { parseDrillFlags, runDrillSet, type DrillStack } from './drill-runner';
import { runProductionDrills } from './production-drills';

const DRILLS = ['worker-kill', 'temporal-restart', 'openbao-outage', 'graph-chaos'] as const;
type DrillName = (typeof DRILLS)[number];

const HELP = `Usage: npm run drill -- [options]

Fault drills on a persistent local stack of its own (free ports, a temporary folder, all stopped
at the end), the worker running as a separate process (src/worker.ts). Each drill starts a batch,
disrupts it, and checks every number: Completed, or AwaitingManualReset with a reason; the
vault's active PIN equal to the PIN the Graph sandbox holds.

  worker-kill        the worker SIGKILLed three times mid-batch, restarted each time
  temporal-restart   the Temporal dev server stopped and restarted mid-batch (same database)
  openbao-outage     OpenBao stopped mid-batch, restarted later on the same storage
  graph-chaos        a third of Graph calls throttled, 5xx, 502 or reset; one number in ten slow

Options:
  --size N             numbers per drill (default 200)
  --only NAME          one drill (${DRILLS.join(', ')})
  --vault-down S       seconds OpenBao stays down (default 60; 15 with --quick)
  --temporal-down S    seconds Temporal stays down (default 10)
  --graph-rate R       GRAPH_MAX_REQUESTS_PER_SECOND for the worker (default 10)
  --quick              --size 60 and shorter outages
  --production         the drills on the production shape instead (--production --help)
  --out FILE           results JSON (default bench-results/drill.json)
  --help               this text`;

function parseOptions(io: CliIo) {
  const flags = parseDrillFlags(io, {
    drills: DRILLS,
    help: HELP,
    strings: 'vault-down temporal-down',
    booleans: 'quick',
    defaultOut: 'bench-results/drill.json',
  });
  const quick = flags.flag('quick');
  return {
    ...flags,
    size: flags.whole('size', { fallback: quick ? 60 : 200, max: 5_000 }),
    vaultDownMs: flags.milliseconds('vault-down', quick ? 15 : 60),
    temporalDownMs: flags.milliseconds('temporal-down', quick ? 5 : 10),
  };
}

/** The dev server with a database file and OpenBao on Raft storage, restartable in place. */
class PersistentDevStack implements DrillStack {
  private constructor(
    private readonly dir: string,
    private readonly ports: { temporal: number; vault: number },
    private readonly namespaces: string[],
    private temporal: TemporalDevServer,
    private bao: PersistentOpenBaoServer,
  ) {}

  static async start(dir: string, namespaces: string[]): Promise<PersistentDevStack> {
    const ports = { temporal: await freePort(), vault: await freePort() };
    const [temporal, bao] = await Promise.allSettled([
      PersistentDevStack.startTemporal(dir, ports.temporal, namespaces),
      PersistentDevStack.startBao(dir, ports.vault),
    ]);
    if (temporal.status === 'rejected' || bao.status === 'rejected') {
      await Promise.allSettled([
        temporal.status === 'fulfilled' ? temporal.value.stop() : undefined,
        bao.status === 'fulfilled' ? bao.value.stop() : undefined,
      ]);
      throw temporal.status === 'rejected' ? temporal.reason : (bao as PromiseRejectedResult).reason;
    }
    return new PersistentDevStack(dir, ports, namespaces, temporal.value, bao.value);
  }

  private static startTemporal(dir: string, port: number, namespaces: string[]) {
    return startTemporalDevServer({
      port,
      headless: true,
      dbFile: join(dir, 'temporal.db'),
      extraNamespaces: namespaces,
      logFile: join(dir, 'temporal.log'),
    });
  }

  private static startBao(dir: string, port: number) {
    return startOpenBaoPersistent({
      port,
      dataDir: join(dir, 'openbao'),
      logFile: join(dir, 'openbao.log'),
    });
  }

  get temporalAddress() {
    return this.temporal.address;
  }
  get vaultAddress() {
    return this.bao.address;
  }
  get vaultToken() {
    return this.bao.rootToken;
  }
  get logDir() {
    return this.dir;
  }

  async stopTemporal() {
    await this.temporal.stop();
  }
  async restartTemporal() {
    this.temporal = await PersistentDevStack.startTemporal(this.dir, this.ports.temporal, this.namespaces);
  }
  async stopBao() {
    await this.bao.stop();
  }
  async restartBao() {
    this.bao = await PersistentDevStack.startBao(this.dir, this.ports.vault);
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.temporal.stop(), this.bao.stop()]);
  }
}

function drillFor(
  name: DrillName,
  stack: PersistentDevStack,
  opts: ReturnType<typeof parseOptions>,
): DrillSpec {
  switch (name) {
    case 'worker-kill':
      return workerKillDrill(opts.size, 3);
    case 'temporal-restart':
      return outageDrill({
        name,
        size: opts.size,
        downMs: opts.temporalDownMs,
        down: 'Temporal stopped',
        takeDown: () => stack.stopTemporal(),
        bringBack: async () => {
          await stack.restartTemporal();
          return 'Temporal restarted on the same database file';
        },
        // The SDK's connection retries polling on its own; check that the batch really moves on.
        workersResumeWithinMs: 60_000,
      });
    case 'openbao-outage':
      return outageDrill({
        name,
        size: opts.size,
        downMs: opts.vaultDownMs,
        down: 'OpenBao stopped',
        takeDown: () => stack.stopBao(),
        bringBack: async () => {
          await stack.restartBao();
          return 'OpenBao restarted on the same Raft storage and unsealed';
        },
      });
    case 'graph-chaos':
      return graphChaosDrill(opts.size);
  }
}

async function main(io: CliIo): Promise<number> {
  if (io.argv.includes('--production')) {
    return runProductionDrills({ ...io, argv: io.argv.filter((a) => a !== '--production') });
  }
  const opts = parseOptions(io);
  return runDrillSet({
    id: 'drill',
    drills: opts.chosen,
    size: opts.size,
    graphRate: opts.graphRate,
    out: opts.out,
    title: `Fault drills (worker as a separate process, GRAPH_MAX_REQUESTS_PER_SECOND=${opts.graphRate})`,
    options: {
      size: opts.size,
      graphRate: opts.graphRate,
      vaultDownSeconds: opts.vaultDownMs / 1000,
      temporalDownSeconds: opts.temporalDownMs / 1000,
    },
    startStack: (dir, namespaces) => PersistentDevStack.start(dir, namespaces),
    drill: (name, stack) => drillFor(name, stack, opts),
    annotate: (name, result, sandbox) =>
      name === 'graph-chaos' ? { ...result, graphRequests: faultSummary(sandbox) } : result,
  });
}

// Ctrl-C is onInterrupt's: it stops the stack this run started, then exits 130.
if (require.main === module) runMain({ name: 'drill' }, main);
