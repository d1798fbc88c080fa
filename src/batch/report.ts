// The starter's account of a batch: one JSON report entry per row, written as rows finish (so a
// 100,000-row report never sits in memory) to a temporary file renamed into place at the end, and
// the human summary printed on stdout.
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import type { TextWriter } from '../cli/cli-io';
import type { BatchCounts } from './progress';

export type RowOutcome =
  'valid' | 'started' | 'restarted' | 'already-running' | 'already-completed' | 'invalid' | 'failed';

export interface ReportEntry {
  line: number;
  phoneNumberId?: string;
  outcome: RowOutcome;
  /** Why a row is invalid or failed, or the state of the run a number already has. */
  reason?: string;
  workflowId?: string;
  runId?: string;
}

/** How a followed workflow ended (--wait). */
export type WaitOutcome =
  'Completed' | 'CompletedManually' | 'Abandoned' | 'AwaitingManualReset' | 'Failed' | 'StillRunning';

export interface WaitEntry {
  phoneNumberId: string;
  workflowId: string;
  outcome: WaitOutcome;
  /** Execution status for Failed, the stage for StillRunning, the reason for Abandoned. */
  detail?: string;
}

const FLUSH_BYTES = 64 * 1024;

export class ReportWriter {
  private readonly fd: number;
  private readonly tempPath: string;
  private pending = '';
  private entries = 0;

  /** Opens `path` for writing (via a temporary file); throws when it cannot be created. */
  constructor(
    private readonly path: string,
    header: Record<string, unknown>,
  ) {
    this.tempPath = `${path}.partial`;
    this.fd = openSync(this.tempPath, 'w');
    const head = JSON.stringify(header, null, 2);
    this.pending = `${head.slice(0, -2)},\n  "rows": [`;
  }

  add(entry: ReportEntry): void {
    this.pending += `${this.entries++ === 0 ? '\n' : ',\n'}    ${JSON.stringify(entry)}`;
    // Synchronous, buffered writes: memory stays bounded whatever the disk's speed.
    if (this.pending.length >= FLUSH_BYTES) this.flush();
  }

  /** Appends the trailer's fields after "rows" and moves the file into place. */
  close(trailer: Record<string, unknown>): void {
    const tail = JSON.stringify(trailer, null, 2);
    this.pending += `${this.entries > 0 ? '\n  ' : ''}]${tail.length > 2 ? `,\n${tail.slice(2)}` : '\n}'}\n`;
    this.flush();
    closeSync(this.fd);
    renameSync(this.tempPath, this.path);
  }

  private flush() {
    if (this.pending) writeSync(this.fd, this.pending);
    this.pending = '';
  }
}

export const OUTCOME_LABELS: Readonly<Record<RowOutcome, string>> = {
  valid: 'valid (dry run)',
  started: 'started',
  restarted: 'restarted (--reonboard)',
  'already-running': 'already running',
  'already-completed': 'already done',
  invalid: 'invalid',
  failed: 'failed to start',
};

/** The end-of-run table: only the lines that apply (restarted only with --reonboard, valid only dry). */
export function formatCounts(counts: BatchCounts, opts: { dryRun: boolean; reonboard: boolean }): string {
  const rows: Array<[string, number]> = opts.dryRun
    ? [
        [OUTCOME_LABELS.valid, counts.valid],
        [OUTCOME_LABELS.invalid, counts.invalid],
      ]
    : [
        [OUTCOME_LABELS.started, counts.started],
        ...(opts.reonboard ? [[OUTCOME_LABELS.restarted, counts.restarted] as [string, number]] : []),
        [OUTCOME_LABELS['already-running'], counts.alreadyRunning],
        [OUTCOME_LABELS['already-completed'], counts.alreadyCompleted],
        [OUTCOME_LABELS.invalid, counts.invalid],
        [OUTCOME_LABELS.failed, counts.failed],
      ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const numberWidth = Math.max(...rows.map(([, n]) => String(n).length));
  return rows.map(([label, n]) => `  ${label.padEnd(width)}  ${String(n).padStart(numberWidth)}`).join('\n');
}

export function formatWaitCounts(entries: readonly WaitEntry[]): string {
  const order: WaitOutcome[] = [
    'Completed',
    'CompletedManually',
    'AwaitingManualReset',
    'Abandoned',
    'Failed',
    'StillRunning',
  ];
  const counts = new Map<WaitOutcome, number>(order.map((o) => [o, 0]));
  for (const e of entries) counts.set(e.outcome, (counts.get(e.outcome) ?? 0) + 1);
  const width = Math.max(...order.map((o) => o.length));
  return order.map((o) => `  ${o.padEnd(width)}  ${counts.get(o) ?? 0}`).join('\n');
}

/** Keeps the first problems for the summary; the report has them all. */
export class ProblemList {
  private readonly lines: string[] = [];
  private more = 0;
  constructor(private readonly limit: number) {}

  add(entry: ReportEntry): void {
    if (this.lines.length >= this.limit) {
      this.more++;
      return;
    }
    const id = entry.phoneNumberId ? ` ${entry.phoneNumberId}` : '';
    this.lines.push(`  line ${entry.line}${id}: ${OUTCOME_LABELS[entry.outcome]}: ${entry.reason ?? ''}`);
  }

  print(out: TextWriter, reportHint: string): void {
    for (const line of this.lines) out.write(`${line}\n`);
    if (this.more > 0) out.write(`  ... and ${this.more} more${reportHint}\n`);
  }

  get size(): number {
    return this.lines.length + this.more;
  }
}
