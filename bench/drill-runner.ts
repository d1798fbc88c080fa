// One runner for both sets of fault drills: `npm run drill` on the dev server and
// `npm run drill -- --production` on the production shape. The set names its stack, its drills and
// its extra flags; the runner does the rest the same way for both: a stack of its own in a
// temporary folder, one drill after another in a namespace of its own, the report and results
// JSON, and everything stopped at the end (Ctrl-C included).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CliIo } from '../src/cli/cli-io';
import { wholeNumberFlag } from '../src/cli/flag-values';
import { parseFlags } from '../src/cli/parse-flags';
import { UsageError } from '../src/cli/usage-error';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { installRuntimeLogging } from '../src/temporal/runtime-logging';
import { onInterrupt, writeJson } from './common';
import {
  drillsPassed,
  openDrillContext,
  printDrillReport,
  runDrill,
  type DrillContext,
  type DrillResult,
  type DrillSpec,
  type DrillTarget,
} from './drill-lib';

const SANDBOX_TOKEN = 'drill-graph-token';

/** What a drill set's stack offers the runner; addresses are read before each drill. */
export type DrillStack = Pick<DrillTarget, 'temporalAddress' | 'vaultAddress' | 'vaultToken' | 'logDir'> & {
  stop(): Promise<void>;
};

/** The flags every drill set has, and readers for the set's own (`strings`, `booleans`). */
export function parseDrillFlags<Name extends string>(
  io: CliIo,
  spec: {
    drills: readonly Name[];
    help: string;
    /** The set's own flags, space-separated as parseFlags takes them. */
    strings?: string;
    booleans?: string;
    defaultOut: string;
  },
) {
  const { values } = parseFlags<string, string>(io, {
    strings: `size only graph-rate out ${spec.strings ?? ''}`.trim(),
    booleans: spec.booleans ?? '',
    help: spec.help,
  });
  const raw = values as Record<string, string | boolean | undefined>;
  const text = (flag: string) => {
    const value = raw[flag];
    return typeof value === 'string' ? value : undefined;
  };
  const only = text('only');
  if (only !== undefined && !(spec.drills as readonly string[]).includes(only)) {
    throw new UsageError(`--only must be one of ${spec.drills.join(', ')}`);
  }
  return {
    chosen: only !== undefined ? [only as Name] : [...spec.drills],
    graphRate: wholeNumberFlag('--graph-rate', text('graph-rate'), { fallback: 10, max: 1_000 }),
    out: resolve(text('out') ?? spec.defaultOut),
    flag: (name: string) => raw[name] === true,
    whole: (name: string, limits: { fallback: number; min?: number; max: number }) =>
      wholeNumberFlag(`--${name}`, text(name), limits),
    /** A flag in whole seconds (0 to an hour), as milliseconds. */
    milliseconds: (name: string, fallback: number) =>
      wholeNumberFlag(`--${name}`, text(name), { fallback, min: 0, max: 3_600 }) * 1000,
  };
}

export interface DrillSet<Name extends string, Stack extends DrillStack> {
  /** Names the temporary folder and the namespaces: `pin-onboarding-${id}-`, `${id}-${drill}`. */
  id: string;
  drills: readonly Name[];
  size: number;
  graphRate: number;
  /** Worker processes sharing the task queues in each drill (default 1). */
  workers?: number;
  out: string;
  /** The report's heading. */
  title: string;
  /** What the results JSON records of the options, beside the drills. */
  options: Record<string, unknown>;
  /** Starts the set's stack in `dir`, with a namespace for each drill. */
  startStack(dir: string, namespaces: string[]): Promise<Stack>;
  drill(name: Name, stack: Stack, sandbox: GraphSandbox): DrillSpec;
  /** Extra figures for a drill's report (the chaos drill's Graph requests). */
  annotate?(name: Name, result: DrillResult, sandbox: GraphSandbox): DrillResult;
}

/** Runs the set's drills one after the other; 0 when nothing was lost or mismatched. */
export async function runDrillSet<Name extends string, Stack extends DrillStack>(
  set: DrillSet<Name, Stack>,
): Promise<number> {
  installRuntimeLogging(process.env.LOG_LEVEL, 'ERROR');
  const dir = mkdtempSync(join(tmpdir(), `pin-onboarding-${set.id}-`));
  // PostgreSQL runs as its own user when this runs as root: it must be able to enter the folder.
  chmodSync(dir, 0o711);
  const namespaceOf = (name: Name) => `${set.id}-${name}`;
  console.error(`drill: starting the stack in ${dir}...`);
  const t0 = Date.now();
  const sandbox = await startGraphSandbox({ accessToken: SANDBOX_TOKEN });
  let stack: Stack;
  try {
    stack = await set.startStack(dir, set.drills.map(namespaceOf));
  } catch (err) {
    await sandbox.close();
    throw err;
  }
  console.error(`drill: stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  let ctx: DrillContext | undefined;
  const stopAll = async () => {
    await ctx?.close();
    await Promise.allSettled([stack.stop(), sandbox.close()]);
  };
  const uninstall = onInterrupt(stopAll);
  const results: DrillResult[] = [];
  const workers = set.workers ?? 1;
  try {
    for (const name of set.drills) {
      console.error(`drill: ${name} over ${set.size} numbers with ${workers} worker(s)...`);
      sandbox.reset();
      const spec = set.drill(name, stack, sandbox);
      ctx = await openDrillContext(
        {
          temporalAddress: stack.temporalAddress,
          namespace: namespaceOf(name),
          vaultAddress: stack.vaultAddress,
          vaultToken: stack.vaultToken,
          sandbox,
          sandboxToken: SANDBOX_TOKEN,
          logDir: stack.logDir,
        },
        set.graphRate,
        { workers },
      );
      try {
        const result = await runDrill(ctx, spec);
        results.push(set.annotate?.(name, result, sandbox) ?? result);
        console.error(
          `drill: ${name}: ${result.completed} Completed, ${result.awaitingManualReset} AwaitingManualReset, ` +
            `${result.lost} lost, ${result.mismatched} mismatched in ${result.seconds} s`,
        );
      } finally {
        await ctx.close();
        ctx = undefined;
      }
    }
    printDrillReport(set.title, results);
    writeJson(set.out, { when: new Date().toISOString(), ...set.options, drills: results });
    console.log(`\nresults: ${set.out}`);
    return drillsPassed(results) ? 0 : 1;
  } finally {
    uninstall();
    await stopAll();
    if (!process.env.KEEP_DRILL_DATA) rmSync(dir, { recursive: true, force: true });
  }
}
