// `npm run drill`: fault drills on a real, persistent local stack (Temporal dev server with a
// database file, OpenBao with Raft storage, the Graph sandbox), the worker a separate process.
// Each drill runs a batch, disrupts it, and checks every number: nothing lost, nothing mismatched.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { startOpenBaoPersistent, type PersistentOpenBaoServer } from '../src/local-stack/openbao-persistent';
import { freePort, startTemporalDevServer, type TemporalDevServer } from '../src/local-stack/processes';
import type { CliIo } from '../src/cli/cli-io';
import { wholeNumberFlag } from '../src/cli/flag-values';
import { parseFlags } from '../src/cli/parse-flags';
import { runMain } from '../src/cli/run-main';
import { UsageError } from '../src/cli/usage-error';
import { installRuntimeLogging } from '../src/temporal/runtime-logging';
import { onInterrupt, sleep, writeJson } from './common';
import {
  drillsPassed,
  faultSummary,
  graphChaosDrill,
  openDrillContext,
  printDrillReport,
  resumes,
  runDrill,
  workerKillDrill,
  type DrillContext,
  type DrillResult,
  type DrillSpec,
} from './drill-lib';
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
  const { values } = parseFlags(io, {
    strings: 'size only vault-down temporal-down graph-rate out',
    booleans: 'quick',
    help: HELP,
  });
  if (values.only !== undefined && !(DRILLS as readonly string[]).includes(values.only)) {
    throw new UsageError(`--only must be one of ${DRILLS.join(', ')}`);
  }
  const quick = values.quick ?? false;
  const seconds = (flag: string, raw: string | undefined, fallback: number) =>
    wholeNumberFlag(flag, raw, { fallback, max: 3_600 }) * 1000;
  return {
    size: wholeNumberFlag('--size', values.size, { fallback: quick ? 60 : 200, max: 5_000 }),
    only: values.only as DrillName | undefined,
    vaultDownMs: seconds('--vault-down', values['vault-down'], quick ? 15 : 60),
    temporalDownMs: seconds('--temporal-down', values['temporal-down'], quick ? 5 : 10),
    graphRate: wholeNumberFlag('--graph-rate', values['graph-rate'], { fallback: 10, max: 1_000 }),
    out: resolve(values.out ?? 'bench-results/drill.json'),
  };
}

interface DrillStack {
  dir: string;
  temporalPort: number;
  vaultPort: number;
  temporal: TemporalDevServer;
  bao: PersistentOpenBaoServer;
  sandbox: GraphSandbox;
  namespaces: string[];
}

const SANDBOX_TOKEN = 'drill-graph-token';

function startTemporal(stack: Pick<DrillStack, 'dir' | 'temporalPort' | 'namespaces'>) {
  return startTemporalDevServer({
    port: stack.temporalPort,
    headless: true,
    dbFile: join(stack.dir, 'temporal.db'),
    extraNamespaces: stack.namespaces,
    logFile: join(stack.dir, 'temporal.log'),
  });
}

function startBao(stack: Pick<DrillStack, 'dir' | 'vaultPort'>) {
  return startOpenBaoPersistent({
    port: stack.vaultPort,
    dataDir: join(stack.dir, 'openbao'),
    logFile: join(stack.dir, 'openbao.log'),
  });
}

async function startStack(dir: string, namespaces: string[]): Promise<DrillStack> {
  const base = { dir, namespaces, temporalPort: await freePort(), vaultPort: await freePort() };
  const sandbox = await startGraphSandbox({ accessToken: SANDBOX_TOKEN });
  const [temporal, bao] = await Promise.allSettled([startTemporal(base), startBao(base)]);
  if (temporal.status === 'rejected' || bao.status === 'rejected') {
    await Promise.allSettled([
      sandbox.close(),
      temporal.status === 'fulfilled' ? temporal.value.stop() : undefined,
      bao.status === 'fulfilled' ? bao.value.stop() : undefined,
    ]);
    throw temporal.status === 'rejected' ? temporal.reason : (bao as PromiseRejectedResult).reason;
  }
  return { ...base, sandbox, temporal: temporal.value, bao: bao.value };
}

async function stopStack(stack: DrillStack): Promise<void> {
  await Promise.allSettled([stack.sandbox.close(), stack.temporal.stop(), stack.bao.stop()]);
}

function temporalRestartDrill(stack: DrillStack, size: number, downMs: number): DrillSpec {
  return {
    name: 'temporal-restart',
    size,
    async disrupt(ctx: DrillContext, run) {
      const at = await run.waitForFraction(0.3);
      await stack.temporal.stop();
      const notes = [`Temporal stopped at ${at}/${run.size} settled, down ${downMs / 1000} s`];
      await sleep(downMs);
      stack.temporal = await startTemporal(stack);
      notes.push('Temporal restarted on the same database file');
      // The SDK's connection retries polling on its own; check that the batch really moves on.
      if (!ctx.worker.alive()) {
        notes.push('the worker process had exited while Temporal was down: restarted it');
        await ctx.worker.start();
      } else if (await resumes(run, 60_000)) {
        notes.push('the same worker process reconnected by itself and carried on');
      } else if ((await run.settled().catch(() => 0)) < run.size) {
        notes.push('no progress 60 s after the restart: restarted the worker');
        await ctx.worker.stop();
        await ctx.worker.start();
      }
      return notes;
    },
  };
}

function openBaoOutageDrill(stack: DrillStack, size: number, downMs: number): DrillSpec {
  return {
    name: 'openbao-outage',
    size,
    async disrupt(_ctx, run) {
      const at = await run.waitForFraction(0.3);
      await stack.bao.stop();
      const notes = [`OpenBao stopped at ${at}/${run.size} settled, down ${downMs / 1000} s`];
      await sleep(downMs);
      notes.push(`${await run.settled().catch(() => 0)}/${run.size} settled while OpenBao was down`);
      stack.bao = await startBao(stack);
      notes.push('OpenBao restarted on the same Raft storage and unsealed');
      return notes;
    },
  };
}

async function main(io: CliIo): Promise<number> {
  if (io.argv.includes('--production')) {
    return runProductionDrills({ ...io, argv: io.argv.filter((a) => a !== '--production') });
  }
  const opts = parseOptions(io);
  installRuntimeLogging(process.env.LOG_LEVEL, 'ERROR');
  const chosen = opts.only ? [opts.only] : [...DRILLS];
  const dir = mkdtempSync(join(tmpdir(), 'pin-onboarding-drill-'));
  console.error(`drill: starting the persistent stack in ${dir}...`);
  const stack = await startStack(
    dir,
    chosen.map((d) => `drill-${d}`),
  );
  let ctx: DrillContext | undefined;
  const uninstall = onInterrupt(async () => {
    await ctx?.close();
    await stopStack(stack);
  });
  const results: Array<DrillResult & { graphRequests?: Record<string, number> }> = [];
  try {
    for (const name of chosen) {
      const spec =
        name === 'worker-kill'
          ? workerKillDrill(opts.size, 3)
          : name === 'temporal-restart'
            ? temporalRestartDrill(stack, opts.size, opts.temporalDownMs)
            : name === 'openbao-outage'
              ? openBaoOutageDrill(stack, opts.size, opts.vaultDownMs)
              : graphChaosDrill(opts.size);
      console.error(`drill: ${name} over ${opts.size} numbers...`);
      stack.sandbox.reset();
      ctx = await openDrillContext(
        {
          temporalAddress: stack.temporal.address,
          namespace: `drill-${name}`,
          vaultAddress: stack.bao.address,
          vaultToken: stack.bao.rootToken,
          sandbox: stack.sandbox,
          sandboxToken: SANDBOX_TOKEN,
          logDir: dir,
        },
        opts.graphRate,
      );
      try {
        const result = await runDrill(ctx, spec);
        results.push(
          name === 'graph-chaos' ? { ...result, graphRequests: faultSummary(stack.sandbox) } : result,
        );
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
      `Fault drills (worker as a separate process, GRAPH_MAX_REQUESTS_PER_SECOND=${opts.graphRate})`,
      results,
    );
    writeJson(opts.out, {
      when: new Date().toISOString(),
      size: opts.size,
      graphRate: opts.graphRate,
      vaultDownSeconds: opts.vaultDownMs / 1000,
      temporalDownSeconds: opts.temporalDownMs / 1000,
      drills: results,
    });
    console.log(`\nresults: ${opts.out}`);
    return drillsPassed(results) ? 0 : 1;
  } finally {
    uninstall();
    await ctx?.close();
    await stopStack(stack);
    if (!process.env.KEEP_DRILL_DATA) rmSync(dir, { recursive: true, force: true });
  }
}

// Ctrl-C is onInterrupt's: it stops the stack this run started, then exits 130.
if (require.main === module) runMain({ name: 'drill' }, main);
