// The batch starter, runnable in-process: streams a CSV / JSON / JSON Lines file of numbers,
// validates every row, starts registerNumber for the valid ones (idempotently: a number already
// running or done is reported, never started twice), follows them with --wait, and reports each
// row. src/starter.ts runs it as `npm run starter`.
import { createReadStream } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { CliIo, TextWriter } from '../cli/cli-io';
import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_SETUP } from '../cli/exit-code-policy';
import { firstLine } from '../cli/first-line';
import { runCommand } from '../cli/run-main';
import { ConfigError, type Env } from '../config/env-reader';
import { loadOnboardingOptions, type OnboardingOptions } from '../onboarding/onboarding-config';
import type { RegisterNumberInput } from '../workflows/messages';
import { BatchFileError } from './batch-file-error';
import { openBatchInput, type BatchInput } from './batch-input';
import { isFinishedWell, printBatchSummary, printRunStats, printWaitOutcomes } from './batch-summary';
import type { FollowTarget } from './follow-workflows';
import { PeakMemory } from './peak-memory';
import { countLines, ProgressReporter, type BatchCounts } from './progress';
import { readRows } from './read-rows';
import { ProblemList, ReportWriter, type ReportEntry, type WaitEntry } from './report';
import { runBatch, type BatchRunResult } from './run-batch';
import { parseStarterArgs, type StarterArgs } from './starter-args';

/** Problems listed in the summary; the report has them all. */
const LISTED_PROBLEMS = 50;

export interface StarterIo extends CliIo {
  readonly stderr: TextWriter & { isTTY?: boolean };
  /** For --file -; a function so that stdin is only opened when it is read. */
  readonly stdin?: () => NodeJS.ReadableStream;
  /** Used as is (and not closed) instead of connecting from the environment. */
  readonly client?: Client;
}

/** Runs the starter as `npm run starter` would; returns the exit code (io.signal is Ctrl-C). */
export function runStarter(io: StarterIo): Promise<number> {
  return runCommand('starter', io, starter);
}

async function starter(io: StarterIo): Promise<number> {
  const args = parseStarterArgs(io);
  const options = loadOnboardingOptions(io.env);
  const input = openBatchInput(args.file, io.stdin);
  let ownClient: Client | undefined;
  try {
    let client = io.client;
    if (!args.dryRun && !client) {
      ownClient = await connect(io.env);
      client = ownClient;
    }
    const report = args.reportPath ? openReport(args.reportPath, args) : undefined;
    return await startBatch(io, args, options, input, client, report);
  } finally {
    input.close();
    await ownClient?.connection.close();
  }
}

async function connect(env: Env): Promise<Client> {
  // Loaded here, not at the top: a --dry-run never needs the Temporal client, and leaving it
  // out keeps the dry run's memory low on 100,000-row files.
  const { connectOnboardingClient, loadOnboardingClientSettings } =
    await import('../onboarding/onboarding-client');
  return connectOnboardingClient(loadOnboardingClientSettings(env));
}

function openReport(path: string, args: StarterArgs): ReportWriter {
  try {
    return new ReportWriter(path, {
      file: args.file,
      format: args.format,
      dryRun: args.dryRun,
      reonboard: args.reonboard,
      startedAt: new Date().toISOString(),
    });
  } catch (err) {
    throw new ConfigError('--report', `${path} cannot be written: ${firstLine(err)}`);
  }
}

async function startBatch(
  io: StarterIo,
  args: StarterArgs,
  options: OnboardingOptions,
  input: BatchInput,
  client: Client | undefined,
  report: ReportWriter | undefined,
): Promise<number> {
  const startedAt = Date.now();
  const memory = new PeakMemory();
  const problems = new ProblemList(LISTED_PROBLEMS);
  const followed: FollowTarget[] = [];
  const result = await startRows(io, args, input, memory, {
    start: client ? await starterFor(client, options, args) : undefined,
    onEntry(entry) {
      report?.add(entry);
      if (entry.outcome === 'invalid' || entry.outcome === 'failed') problems.add(entry);
      if (args.wait && entry.workflowId && isFollowed(entry)) {
        followed.push({
          phoneNumberId: entry.phoneNumberId ?? '',
          workflowId: entry.workflowId,
          runId: entry.runId,
        });
      }
    },
  });
  const { counts } = result;
  const seconds = (Date.now() - startedAt) / 1000;
  const fileProblem =
    result.readError instanceof BatchFileError
      ? result.readError
      : result.readError !== undefined
        ? new Error(`reading ${args.file} failed: ${firstLine(result.readError)}`)
        : undefined;
  printBatchSummary(io.stdout, {
    ...args,
    counts,
    seconds,
    problems,
    fileProblem,
    interrupted: result.interrupted,
  });

  const interrupted = result.interrupted || io.signal?.aborted === true;
  let waited: WaitEntry[] | undefined;
  if (args.wait && client && !interrupted && followed.length > 0) {
    io.stderr.write(
      `waiting for ${followed.length} workflows (at most ${Math.round(args.waitTimeoutMs / 1000)} s)...\n`,
    );
    const { followWorkflows } = await import('./follow-workflows');
    waited = await followWorkflows(client, followed, {
      timeoutMs: args.waitTimeoutMs,
      concurrency: args.concurrency,
      signal: io.signal,
    });
    printWaitOutcomes(io.stdout, waited, args.reportPath);
  }
  if (args.stats) printRunStats(io.stdout, counts.rows, seconds, memory);

  const exitCode = starterExitCode({ interrupted, fileProblem, counts, waited });
  if (report && args.reportPath) {
    report.close({
      finishedAt: new Date().toISOString(),
      interrupted: result.interrupted,
      ...(fileProblem ? { fileError: fileProblem.message } : {}),
      summary: counts,
      ...(waited ? { waited } : {}),
      exitCode,
    });
    io.stdout.write(`report: ${args.reportPath}\n`);
  }
  return exitCode;
}

/** What --wait follows: the runs this batch started and the ones it found running. */
function isFollowed(entry: ReportEntry): boolean {
  return entry.outcome === 'started' || entry.outcome === 'restarted' || entry.outcome === 'already-running';
}

async function starterFor(client: Client, options: OnboardingOptions, args: StarterArgs) {
  const { startOnboarding } = await import('../onboarding/start-onboarding');
  // A row's own register column wins over --register.
  const defaults = args.register === undefined ? {} : { register: args.register };
  return (row: RegisterNumberInput) =>
    startOnboarding(client, { ...defaults, ...row, ...options }, { reonboard: args.reonboard });
}

interface RowHandlers {
  /** Absent for a dry run. */
  start?: Awaited<ReturnType<typeof starterFor>>;
  onEntry(entry: ReportEntry): void;
}

/** Reads and starts every row, with progress on stderr and the memory sampled as it goes. */
async function startRows(
  io: StarterIo,
  args: StarterArgs,
  input: BatchInput,
  memory: PeakMemory,
  handlers: RowHandlers,
): Promise<BatchRunResult> {
  const tty = io.stderr.isTTY === true;
  const progress = new ProgressReporter({
    out: io.stderr,
    tty,
    // Only a bar needs the total; counting is a quick extra pass over the file.
    totalLines: tty && !input.fromStdin ? await countLines(createReadStream(args.file)) : undefined,
    everyRows: args.progressEvery,
    everyMs: 10_000,
  });
  let latest: BatchCounts | undefined;
  let lastLine = 0;
  // Slow starts (a low --rate) still get progress lines, and memory is sampled between rows too.
  const ticker = setInterval(() => {
    memory.sample();
    if (latest) progress.update(latest, lastLine);
  }, 1_000);
  ticker.unref();
  let result: BatchRunResult;
  try {
    result = await runBatch({
      rows: readRows(input.stream, args.format),
      start: handlers.start,
      concurrency: args.concurrency,
      ratePerSecond: args.ratePerSecond,
      signal: io.signal,
      onEntry(entry) {
        lastLine = entry.line;
        handlers.onEntry(entry);
      },
      onProgress(counts) {
        latest = counts;
        if (counts.rows % 1_000 === 0) memory.sample();
        progress.update(counts, lastLine);
      },
    });
  } finally {
    clearInterval(ticker);
  }
  progress.finish(result.counts, lastLine);
  memory.sample();
  return result;
}

function starterExitCode(run: {
  interrupted: boolean;
  fileProblem: Error | undefined;
  counts: BatchCounts;
  waited: readonly WaitEntry[] | undefined;
}): number {
  if (run.interrupted) return EXIT_INTERRUPTED;
  // A read that broke off (not a malformed file) is a file that could not be read: exit 2.
  if (run.fileProblem && !(run.fileProblem instanceof BatchFileError)) return EXIT_SETUP;
  if (run.fileProblem || run.counts.invalid > 0 || run.counts.failed > 0) return EXIT_FAILURE;
  if (run.waited?.some((w) => !isFinishedWell(w))) return EXIT_FAILURE;
  return EXIT_OK;
}
