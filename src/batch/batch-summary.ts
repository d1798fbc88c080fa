// What the starter prints on stdout once the rows are handled: the counts, the first problems,
// why it stopped early, the outcomes it waited for, and --stats.
import { basename } from 'node:path';
import type { TextWriter } from '../cli/cli-io';
import type { PeakMemory } from './peak-memory';
import type { BatchCounts } from './progress';
import { formatCounts, formatWaitCounts, type ProblemList, type WaitEntry } from './report';

/** How many unfinished workflows --wait lists by name; the report has them all. */
const LISTED_UNFINISHED = 50;

export interface BatchSummary {
  file: string;
  format: string;
  dryRun: boolean;
  reonboard: boolean;
  reportPath?: string;
  counts: BatchCounts;
  seconds: number;
  problems: ProblemList;
  /** Why reading stopped before the end of the file. */
  fileProblem?: Error;
  interrupted: boolean;
}

export function printBatchSummary(out: TextWriter, s: BatchSummary): void {
  out.write(
    `${basename(s.file)} (${s.format}): ${s.counts.rows} rows in ${s.seconds.toFixed(1)} s` +
      `${s.dryRun ? ' · dry run: nothing started, Temporal not contacted' : ''}\n`,
  );
  out.write(`${formatCounts(s.counts, { dryRun: s.dryRun, reonboard: s.reonboard })}\n`);
  s.problems.print(out, reportHint(s.reportPath, ' (use --report FILE for all)'));
  if (s.fileProblem) {
    out.write(`stopped: ${s.fileProblem.message}; rows after this point were not read\n`);
  }
  if (s.interrupted) {
    out.write(
      'interrupted: no new rows were started; the starts in flight finished and are counted above.\n' +
        'Run the same command again to continue: rows already started are reported as already running or done.\n',
    );
  }
}

export function isFinishedWell(w: WaitEntry): boolean {
  return w.outcome === 'Completed' || w.outcome === 'CompletedManually';
}

export function printWaitOutcomes(out: TextWriter, waited: readonly WaitEntry[], reportPath?: string): void {
  out.write(`outcomes of ${waited.length} followed workflows:\n${formatWaitCounts(waited)}\n`);
  const unfinished = waited.filter((w) => !isFinishedWell(w));
  for (const w of unfinished.slice(0, LISTED_UNFINISHED)) {
    out.write(`  ${w.phoneNumberId}: ${w.outcome}${w.detail ? ` (${w.detail})` : ''} · ${w.workflowId}\n`);
  }
  if (unfinished.length > LISTED_UNFINISHED) {
    out.write(`  ... and ${unfinished.length - LISTED_UNFINISHED} more${reportHint(reportPath, '')}\n`);
  }
}

export function printRunStats(out: TextWriter, rows: number, seconds: number, memory: PeakMemory): void {
  const rate = seconds > 0 ? Math.round(rows / seconds) : rows;
  out.write(
    `stats: ${rows} rows in ${seconds.toFixed(2)} s · ${rate} rows/s · ` +
      `peak RSS ${megabytes(memory.peak)} MB (${megabytes(memory.before)} MB before reading)\n`,
  );
}

function reportHint(reportPath: string | undefined, otherwise: string): string {
  return reportPath ? ` (see ${reportPath})` : otherwise;
}

function megabytes(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}
