// Drives a batch: reads rows as a stream, validates each, starts the valid ones with bounded
// concurrency and an optional rate, and reports every row in file order. Stopping (Ctrl-C) ends
// the reading, never an in-flight start, so the report says exactly what was done; a rerun is safe
// because starts are idempotent (a started number comes back as already running or done).
import { setTimeout as sleep } from 'node:timers/promises';
import { firstLine } from '../cli/first-line';
import type { StartOnboardingResult } from '../onboarding/start-onboarding';
import type { RegisterNumberInput } from '../workflows/messages';
import { emptyCounts, type BatchCounts } from './progress';
import type { BatchRow } from './read-rows';
import type { ReportEntry } from './report';
import { RowValidator } from './validate-row';

export interface BatchRunOptions {
  rows: AsyncIterable<BatchRow>;
  /** Absent for a dry run: rows are only validated. */
  start?: (input: RegisterNumberInput) => Promise<StartOnboardingResult>;
  concurrency: number;
  /** Starts per second at most; unlimited when absent. */
  ratePerSecond?: number;
  /** Aborting stops reading new rows; starts already sent finish and are reported. */
  signal?: AbortSignal;
  /** Every row's entry, in file order. */
  onEntry(entry: ReportEntry): void;
  /** After every handled row. */
  onProgress?(counts: BatchCounts): void;
}

export interface BatchRunResult {
  counts: BatchCounts;
  /** Stopped by the signal before the end of the file. */
  interrupted: boolean;
  /** Why reading stopped early: a BatchFileError, the stream's own error, or the report's. */
  readError?: unknown;
}

/** Spaces starts `1/rate` seconds apart; the wait ends early (false) when the signal aborts. */
class StartPacer {
  private nextAt = 0;
  constructor(private readonly intervalMs: number) {}

  async wait(signal: AbortSignal | undefined): Promise<boolean> {
    const now = Date.now();
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + this.intervalMs;
    if (at <= now) return true;
    try {
      await sleep(at - now, undefined, { signal });
      return true;
    } catch {
      return false;
    }
  }
}

/** Hands entries out in sequence order although starts finish in any order. */
class InOrder {
  private next = 0;
  private readonly waiting = new Map<number, ReportEntry>();
  constructor(private readonly emit: (entry: ReportEntry) => void) {}

  put(seq: number, entry: ReportEntry) {
    this.waiting.set(seq, entry);
    for (let e = this.waiting.get(this.next); e !== undefined; e = this.waiting.get(this.next)) {
      this.waiting.delete(this.next++);
      this.emit(e);
    }
  }
}

function startedEntry(line: number, input: RegisterNumberInput, result: StartOnboardingResult): ReportEntry {
  const entry: ReportEntry = {
    line,
    phoneNumberId: input.phoneNumberId,
    outcome: result.outcome,
    workflowId: result.workflowId,
  };
  if (result.runId) entry.runId = result.runId;
  if (result.outcome === 'already-running' || result.outcome === 'already-completed') {
    const stage = result.onboardingStatus ? `, OnboardingStatus ${result.onboardingStatus}` : '';
    entry.reason = `existing run is ${result.executionStatus ?? 'unknown'}${stage}`;
  }
  return entry;
}

const COUNTER: Record<ReportEntry['outcome'], keyof BatchCounts> = {
  valid: 'valid',
  started: 'started',
  restarted: 'restarted',
  'already-running': 'alreadyRunning',
  'already-completed': 'alreadyCompleted',
  invalid: 'invalid',
  failed: 'failed',
};

export async function runBatch(opts: BatchRunOptions): Promise<BatchRunResult> {
  const counts = emptyCounts();
  const validator = new RowValidator();
  const pacer = opts.ratePerSecond ? new StartPacer(1000 / opts.ratePerSecond) : undefined;
  const inFlight = new Set<Promise<void>>();
  let seq = 0;
  const ordered = new InOrder((entry) => {
    counts[COUNTER[entry.outcome]]++;
    opts.onEntry(entry);
    opts.onProgress?.(counts);
  });
  const aborted = new Promise<void>((resolve) => {
    if (opts.signal?.aborted) resolve();
    opts.signal?.addEventListener('abort', () => resolve(), { once: true });
  });

  let interrupted = false;
  let readError: unknown;
  let sinkError: unknown;
  let abortReading = false;
  try {
    for await (const row of opts.rows) {
      if (abortReading) break;
      if (opts.signal?.aborted) {
        interrupted = true;
        break;
      }
      const verdict = validator.validate(row);
      if (!verdict.valid) {
        counts.rows++;
        ordered.put(seq++, {
          line: row.line,
          ...(verdict.phoneNumberId ? { phoneNumberId: verdict.phoneNumberId } : {}),
          outcome: 'invalid',
          reason: verdict.reason,
        });
        continue;
      }
      const { start } = opts;
      if (!start) {
        counts.rows++;
        ordered.put(seq++, { line: row.line, phoneNumberId: verdict.input.phoneNumberId, outcome: 'valid' });
        continue;
      }
      while (inFlight.size >= opts.concurrency && !opts.signal?.aborted) {
        await Promise.race([...inFlight, aborted]);
      }
      if (opts.signal?.aborted || (pacer && !(await pacer.wait(opts.signal)))) {
        interrupted = true;
        break;
      }
      counts.rows++;
      const mySeq = seq++;
      const { input } = verdict;
      const task = (async () => {
        let entry: ReportEntry;
        try {
          entry = startedEntry(row.line, input, await start(input));
        } catch (err) {
          entry = {
            line: row.line,
            phoneNumberId: input.phoneNumberId,
            outcome: 'failed',
            reason: firstLine(err),
          };
        }
        try {
          ordered.put(mySeq, entry);
        } catch (err) {
          // The report could not be written (disk full...): stop, and say so.
          sinkError ??= err;
          abortReading = true;
        }
      })();
      inFlight.add(task);
      void task.then(() => inFlight.delete(task));
    }
  } catch (err) {
    readError = err;
  }
  // In-flight starts always finish and are reported, whatever stopped the reading.
  await Promise.all(inFlight);
  readError ??= sinkError;
  return readError === undefined ? { counts, interrupted } : { counts, interrupted, readError };
}
