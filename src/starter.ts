// The batch starter: `npm run starter -- --file numbers.csv`. Streams a CSV / JSON / JSON Lines
// file of numbers, validates every row, starts registerNumber for the valid ones (idempotently:
// a number already running or done is reported, never started twice), and reports each row.
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { BatchFileError } from './batch/batch-file-error';
import type { FollowTarget } from './batch/follow-workflows';
import { countLines, ProgressReporter, type BatchCounts, type TextWriter } from './batch/progress';
import { BATCH_FORMATS, formatFromPath, readRows, type BatchFormat } from './batch/read-rows';
import {
  formatCounts,
  formatWaitCounts,
  ProblemList,
  ReportWriter,
  type ReportEntry,
  type WaitEntry,
} from './batch/report';
import { runBatch } from './batch/run-batch';
import { ConfigError, type Env } from './config/env-reader';
import type { RegisterNumberInput } from './workflows/messages';
import { durationToMs, loadOnboardingOptions, type OnboardingOptions } from './onboarding/onboarding-config';

export const EXIT_OK = 0;
export const EXIT_ROWS_NOT_HANDLED = 1;
export const EXIT_CONFIG = 2;
/** 128 + SIGINT, as shells report a Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

export const STARTER_HELP = `Usage: npm run starter -- --file FILE [options]

Starts the two-step-verification onboarding (workflow registerNumber, one per phone number)
for every number in FILE. The file is streamed, so its size does not matter.

Input
  --file FILE, -f FILE   the batch: .csv, .json (one array of objects), .jsonl / .ndjson
                         (one object per line); "-" reads stdin (then --format is required)
  --format FORMAT        csv | json | jsonl, when the extension does not say
  A row has phone_number_id (required), waba_id, display_phone_number, tenant. CSV needs a
  header row with these column names; JSON also accepts phoneNumberId, wabaId,
  displayPhoneNumber. UTF-8 (a BOM is fine), CRLF or LF, quoted CSV fields, blank lines skipped.

Validation (every problem is reported with its line; invalid rows are never started)
  a missing or malformed id, an unknown column (the whole file is refused) or unknown JSON
  field, a number given twice (the first occurrence wins; later ones name its line).

Starting
  --dry-run              validate and report; connects to nothing, starts nothing
  --concurrency N        starts in flight at once (default 20)
  --rate N               at most N starts per second (default: no limit)
  --reonboard            start a new run for numbers whose earlier run has closed (completed,
                         failed or terminated); a running workflow is never replaced
  Without --reonboard, a number whose workflow is running is reported "already running" and
  one whose workflow has closed, however it ended, "already done".

Output
  progress on stderr (a bar on a terminal, a line every --progress-every rows or 10 s otherwise),
  then a summary on stdout: started, already running, already done, invalid, failed to start.
  --report FILE          JSON report: one entry per row {line, phoneNumberId, outcome, reason,
                         workflowId, runId}, in file order, plus the summary
  --progress-every N     rows between progress lines when stderr is not a terminal (default 10000)
  --stats                also print rows/second and the peak memory (RSS) of the run

Waiting
  --wait                 after starting, follow the started and already-running workflows to
                         their outcome: Completed, CompletedManually, Abandoned, or
                         AwaitingManualReset (waiting for an operator: it does not close)
  --wait-timeout D       stop waiting after D (e.g. 90s, 30m, 2h; default 30m)

Interrupting
  Ctrl-C stops starting new rows, lets the starts in flight finish and prints what was done
  (exit 130). Run the same command again to continue: rows already started are reported as
  already running or done, never started twice. A second Ctrl-C quits at once.

Exit codes
  0  every row handled (started, already running or already done; with --wait, every
     followed workflow Completed or CompletedManually)
  1  some rows invalid or failed to start, a malformed file, or (with --wait) a workflow that
     needs a human, was abandoned, failed or was still running at the timeout
  2  configuration or connection error (bad flag, unreadable file, Temporal unreachable)
  130 interrupted

Environment
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*   where Temporal is
      (default: the local stack at 127.0.0.1:7233)
  PAYLOAD_CODEC_KEYS         payload encryption keys, as the workers have them (local stack:
                             generated into .data/ when TEMPORAL_ADDRESS is unset)
  ONBOARDING_RETRY_SCHEDULES JSON retry schedules per step: {"graph":{"initialInterval":"30s",
                             "backoffCoefficient":2,"maximumInterval":"10m","maximumAttempts":10,
                             "giveUpAfter":"1d"},"vault":{...},"generatePin":{...}}
  MANUAL_RESET_DEADLINE      how long a number waits for an operator before it is abandoned
                             (default 14d)
`;

export interface StarterIo {
  argv: readonly string[];
  env: Env;
  stdout: TextWriter;
  stderr: TextWriter & { isTTY?: boolean };
  /** For --file -; a function so that stdin is only opened when it is read. */
  stdin?: () => NodeJS.ReadableStream;
  /** Used as is (and not closed) instead of connecting from the environment. */
  client?: Client;
  /** Ctrl-C: stop starting new rows. */
  signal?: AbortSignal;
}

interface StarterArgs {
  file: string;
  format: BatchFormat;
  dryRun: boolean;
  concurrency: number;
  ratePerSecond?: number;
  reonboard: boolean;
  reportPath?: string;
  wait: boolean;
  waitTimeoutMs: number;
  progressEvery: number;
  stats: boolean;
}

class UsageError extends Error {}

function positiveInteger(flag: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`${flag} must be a whole number from 1 to ${max} (got "${raw}")`);
  return n;
}

function parseStarterArgs(argv: readonly string[]): StarterArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        file: { type: 'string', short: 'f' },
        format: { type: 'string' },
        'dry-run': { type: 'boolean' },
        concurrency: { type: 'string' },
        rate: { type: 'string' },
        reonboard: { type: 'boolean' },
        report: { type: 'string' },
        wait: { type: 'boolean' },
        'wait-timeout': { type: 'string' },
        'progress-every': { type: 'string' },
        stats: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length > 1 || (positionals.length === 1 && values.file !== undefined)) {
    throw new UsageError(
      `one batch file at a time (got ${[values.file, ...positionals].filter(Boolean).join(', ')})`,
    );
  }
  const file = values.file ?? positionals[0];
  if (!file) throw new UsageError('--file is required: the CSV, JSON or JSON Lines file of numbers');
  let format: BatchFormat | undefined;
  if (values.format !== undefined) {
    if (!(BATCH_FORMATS as readonly string[]).includes(values.format)) {
      throw new UsageError(`--format must be one of ${BATCH_FORMATS.join(', ')} (got "${values.format}")`);
    }
    format = values.format as BatchFormat;
  } else {
    format = file === '-' ? undefined : formatFromPath(file);
    if (!format) {
      throw new UsageError(
        `cannot tell the format of "${file}" from its name: use .csv, .json, .jsonl or .ndjson, or --format`,
      );
    }
  }
  let ratePerSecond: number | undefined;
  if (values.rate !== undefined) {
    ratePerSecond = Number(values.rate);
    if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
      throw new UsageError(`--rate must be a positive number of starts per second (got "${values.rate}")`);
    }
  }
  const waitTimeout = values['wait-timeout'] ?? '30m';
  const waitTimeoutMs = durationToMs(waitTimeout);
  if (waitTimeoutMs === undefined) {
    throw new UsageError(`--wait-timeout must be a duration like 90s, 30m or 2h (got "${waitTimeout}")`);
  }
  return {
    file,
    format,
    dryRun: values['dry-run'] ?? false,
    concurrency: positiveInteger('--concurrency', values.concurrency, 20, 1_000),
    ratePerSecond,
    reonboard: values.reonboard ?? false,
    reportPath: values.report,
    wait: values.wait ?? false,
    waitTimeoutMs,
    progressEvery: positiveInteger('--progress-every', values['progress-every'], 10_000, 10_000_000),
    stats: values.stats ?? false,
  };
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

interface BatchInput {
  stream: NodeJS.ReadableStream & AsyncIterable<string>;
  fromStdin?: boolean;
}

function openInput(args: StarterArgs, io: StarterIo): BatchInput {
  if (args.file === '-') {
    if (!io.stdin) throw new UsageError('--file - needs a standard input');
    const stdin = io.stdin();
    stdin.setEncoding('utf8');
    return {
      stream: stdin as NodeJS.ReadableStream & AsyncIterable<string>,
      fromStdin: true,
    };
  }
  try {
    if (!statSync(args.file).isFile()) throw new Error('not a regular file');
  } catch (err) {
    throw new UsageError(
      `cannot read ${args.file}: ${(err as NodeJS.ErrnoException).code ?? firstLine(err)}`,
    );
  }
  const stream = createReadStream(args.file, { encoding: 'utf8', highWaterMark: 64 * 1024 });
  return { stream };
}

/** Runs the starter as the CLI would; returns the exit code. Never throws for expected failures. */
export async function runStarter(io: StarterIo): Promise<number> {
  const { stdout, stderr } = io;
  let args: StarterArgs;
  let options: OnboardingOptions;
  let input: BatchInput;
  try {
    const parsed = parseStarterArgs(io.argv);
    if (parsed === 'help') {
      stdout.write(STARTER_HELP);
      return EXIT_OK;
    }
    args = parsed;
    options = loadOnboardingOptions(io.env);
    input = openInput(args, io);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      stderr.write(`starter: ${err.message}\n`);
      if (err instanceof UsageError) stderr.write('starter: see --help\n');
      return EXIT_CONFIG;
    }
    throw err;
  }

  let client = io.client;
  let ownClient: Client | undefined;
  let report: ReportWriter | undefined;
  try {
    if (!args.dryRun && !client) {
      // Loaded here, not at the top: a --dry-run never needs the Temporal client, and leaving it
      // out keeps the dry run's memory low on 100,000-row files.
      const { connectOnboardingClient, loadOnboardingClientSettings } =
        await import('./onboarding/onboarding-client');
      const { TemporalUnreachableError } = await import('./temporal/temporal-connection');
      try {
        ownClient = await connectOnboardingClient(loadOnboardingClientSettings(io.env));
        client = ownClient;
      } catch (err) {
        if (err instanceof ConfigError || err instanceof TemporalUnreachableError) {
          stderr.write(`starter: ${err.message}\n`);
          return EXIT_CONFIG;
        }
        throw err;
      }
    }
    if (args.reportPath) {
      try {
        report = new ReportWriter(args.reportPath, {
          file: args.file,
          format: args.format,
          dryRun: args.dryRun,
          reonboard: args.reonboard,
          startedAt: new Date().toISOString(),
        });
      } catch (err) {
        stderr.write(`starter: cannot write the report ${args.reportPath}: ${firstLine(err)}\n`);
        return EXIT_CONFIG;
      }
    }
    return await runWithClient(io, args, options, input, client, report);
  } finally {
    if (!input.fromStdin) (input.stream as unknown as { destroy(): void }).destroy();
    await ownClient?.connection.close();
  }
}

async function runWithClient(
  io: StarterIo,
  args: StarterArgs,
  options: OnboardingOptions,
  input: BatchInput,
  client: Client | undefined,
  report: ReportWriter | undefined,
): Promise<number> {
  const { stdout, stderr } = io;
  const startedAt = Date.now();
  const rssBefore = process.memoryUsage.rss();
  let peakRss = rssBefore;
  const sampleMemory = () => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  };
  const progress = new ProgressReporter({
    out: stderr,
    tty: stderr.isTTY === true,
    // Only a bar needs the total; counting is a quick extra pass over the file.
    totalLines:
      stderr.isTTY === true && !input.fromStdin ? await countLines(createReadStream(args.file)) : undefined,
    everyRows: args.progressEvery,
    everyMs: 10_000,
  });
  const problems = new ProblemList(50);
  const followed: FollowTarget[] = [];
  let latest: BatchCounts | undefined;
  let lastLine = 0;
  // Slow starts (a low --rate) still get progress lines, and memory is sampled between rows too.
  const ticker = setInterval(() => {
    sampleMemory();
    if (latest) progress.update(latest, lastLine);
  }, 1_000);
  ticker.unref();

  const startOnboarding = client
    ? (await import('./onboarding/start-onboarding')).startOnboarding
    : undefined;
  const start =
    client && startOnboarding
      ? (row: RegisterNumberInput) =>
          startOnboarding(client, { ...row, ...options }, { reonboard: args.reonboard })
      : undefined;
  let result;
  try {
    result = await runBatch({
      rows: readRows(input.stream, args.format),
      start,
      concurrency: args.concurrency,
      ratePerSecond: args.ratePerSecond,
      signal: io.signal,
      onEntry(entry: ReportEntry) {
        lastLine = entry.line;
        report?.add(entry);
        if (entry.outcome === 'invalid' || entry.outcome === 'failed') problems.add(entry);
        if (
          args.wait &&
          entry.workflowId &&
          (entry.outcome === 'started' ||
            entry.outcome === 'restarted' ||
            entry.outcome === 'already-running')
        ) {
          followed.push({
            phoneNumberId: entry.phoneNumberId ?? '',
            workflowId: entry.workflowId,
            runId: entry.runId,
          });
        }
      },
      onProgress(counts) {
        latest = counts;
        if (counts.rows % 1_000 === 0) sampleMemory();
        progress.update(counts, lastLine);
      },
    });
  } finally {
    clearInterval(ticker);
  }
  const { counts } = result;
  progress.finish(counts, lastLine);
  sampleMemory();
  const seconds = (Date.now() - startedAt) / 1000;

  const fileProblem =
    result.readError instanceof BatchFileError
      ? result.readError
      : result.readError !== undefined
        ? new Error(`reading ${args.file} failed: ${firstLine(result.readError)}`)
        : undefined;

  stdout.write(
    `${basename(args.file)} (${args.format}): ${counts.rows} rows in ${seconds.toFixed(1)} s` +
      `${args.dryRun ? ' · dry run: nothing started, Temporal not contacted' : ''}\n`,
  );
  stdout.write(`${formatCounts(counts, { dryRun: args.dryRun, reonboard: args.reonboard })}\n`);
  problems.print(stdout, args.reportPath ? ` (see ${args.reportPath})` : ' (use --report FILE for all)');
  if (fileProblem) {
    stdout.write(`stopped: ${fileProblem.message}; rows after this point were not read\n`);
  }
  if (result.interrupted) {
    stdout.write(
      'interrupted: no new rows were started; the starts in flight finished and are counted above.\n' +
        'Run the same command again to continue: rows already started are reported as already running or done.\n',
    );
  }

  let waited: WaitEntry[] | undefined;
  if (args.wait && client && !result.interrupted && !io.signal?.aborted && followed.length > 0) {
    stderr.write(
      `waiting for ${followed.length} workflows (at most ${Math.round(args.waitTimeoutMs / 1000)} s)...\n`,
    );
    const { followWorkflows } = await import('./batch/follow-workflows');
    waited = await followWorkflows(client, followed, {
      timeoutMs: args.waitTimeoutMs,
      concurrency: args.concurrency,
      signal: io.signal,
    });
    stdout.write(`outcomes of ${waited.length} followed workflows:\n${formatWaitCounts(waited)}\n`);
    const unfinished = waited.filter((w) => w.outcome !== 'Completed' && w.outcome !== 'CompletedManually');
    for (const w of unfinished.slice(0, 50)) {
      stdout.write(
        `  ${w.phoneNumberId}: ${w.outcome}${w.detail ? ` (${w.detail})` : ''} · ${w.workflowId}\n`,
      );
    }
    if (unfinished.length > 50) {
      stdout.write(
        `  ... and ${unfinished.length - 50} more${args.reportPath ? ` (see ${args.reportPath})` : ''}\n`,
      );
    }
  }

  if (args.stats) {
    const rate = seconds > 0 ? Math.round(counts.rows / seconds) : counts.rows;
    stdout.write(
      `stats: ${counts.rows} rows in ${seconds.toFixed(2)} s · ${rate} rows/s · ` +
        `peak RSS ${(peakRss / 1048576).toFixed(1)} MB (${(rssBefore / 1048576).toFixed(1)} MB before reading)\n`,
    );
  }

  const exitCode =
    result.interrupted || io.signal?.aborted
      ? EXIT_INTERRUPTED
      : fileProblem && !(fileProblem instanceof BatchFileError)
        ? EXIT_CONFIG
        : fileProblem || counts.invalid > 0 || counts.failed > 0
          ? EXIT_ROWS_NOT_HANDLED
          : waited?.some((w) => w.outcome !== 'Completed' && w.outcome !== 'CompletedManually')
            ? EXIT_ROWS_NOT_HANDLED
            : EXIT_OK;

  if (report && args.reportPath) {
    report.close({
      finishedAt: new Date().toISOString(),
      interrupted: result.interrupted,
      ...(fileProblem ? { fileError: fileProblem.message } : {}),
      summary: counts,
      ...(waited ? { waited } : {}),
      exitCode,
    });
    stdout.write(`report: ${args.reportPath}\n`);
  }
  return exitCode;
}

async function main(): Promise<void> {
  const controller = new AbortController();
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write(
        '\nstopping: no new starts; waiting for the starts in flight (Ctrl-C again to quit now)\n',
      );
      controller.abort();
    } else {
      process.exit(EXIT_INTERRUPTED);
    }
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  try {
    process.exitCode = await runStarter({
      argv: process.argv.slice(2),
      env: process.env,
      stdout: process.stdout,
      stderr: process.stderr,
      stdin: () => process.stdin,
      signal: controller.signal,
    });
  } catch (err) {
    console.error(`starter: ${firstLine(err)}`);
    process.exitCode = EXIT_CONFIG;
  }
}

if (require.main === module) void main();
