// Progress of a batch on stderr: a bar redrawn in place on a terminal, plain lines every N rows or
// seconds otherwise (CI logs and `2> file` must stay readable). The total is unknown while the
// file streams, so the bar follows the bytes read.

export interface TextWriter {
  write(text: string): unknown;
}

export interface BatchCounts {
  rows: number;
  /** Dry run: rows that would be started. */
  valid: number;
  started: number;
  restarted: number;
  alreadyRunning: number;
  alreadyCompleted: number;
  invalid: number;
  failed: number;
}

export function emptyCounts(): BatchCounts {
  return {
    rows: 0,
    valid: 0,
    started: 0,
    restarted: 0,
    alreadyRunning: 0,
    alreadyCompleted: 0,
    invalid: 0,
    failed: 0,
  };
}

export interface ProgressOptions {
  out: TextWriter;
  /** Redraw one bar in place (a terminal) rather than printing lines. */
  tty: boolean;
  /** File size, for the bar's percentage; unknown for stdin. */
  totalBytes?: number;
  /** Plain mode: a line every this many rows... */
  everyRows: number;
  /** ...or after this long, whichever comes first. */
  everyMs: number;
  now?: () => number;
}

const BAR_WIDTH = 24;
const TTY_REDRAW_MS = 100;

export class ProgressReporter {
  private readonly now: () => number;
  private readonly startedAt: number;
  private lastDrawAt = 0;
  private lastLineRows = 0;
  private drawn = false;

  constructor(private readonly opts: ProgressOptions) {
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
    this.lastDrawAt = this.startedAt;
  }

  /** Called as rows are handled; draws only when a redraw or a line is due. */
  update(counts: BatchCounts, bytesRead: number): void {
    const now = this.now();
    if (this.opts.tty) {
      if (now - this.lastDrawAt >= TTY_REDRAW_MS) this.drawBar(counts, bytesRead, now);
    } else if (counts.rows - this.lastLineRows >= this.opts.everyRows || now - this.lastDrawAt >= this.opts.everyMs) {
      if (counts.rows !== this.lastLineRows) this.printLine(counts, now);
    }
  }

  /** The final state; on a terminal, leaves the bar complete and moves to a new line. */
  finish(counts: BatchCounts, bytesRead: number): void {
    if (this.opts.tty) {
      this.drawBar(counts, bytesRead, this.now());
      if (this.drawn) this.opts.out.write('\n');
    }
  }

  private rate(counts: BatchCounts, now: number): string {
    const seconds = (now - this.startedAt) / 1000;
    return seconds > 0 ? `${Math.round(counts.rows / seconds)} rows/s` : '';
  }

  private tally(counts: BatchCounts): string {
    const parts = [
      counts.valid ? `valid ${counts.valid}` : '',
      `started ${counts.started + counts.restarted}`,
      `already ${counts.alreadyRunning + counts.alreadyCompleted}`,
      `invalid ${counts.invalid}`,
      counts.failed ? `failed ${counts.failed}` : '',
    ];
    return parts.filter(Boolean).join(' · ');
  }

  private drawBar(counts: BatchCounts, bytesRead: number, now: number) {
    this.lastDrawAt = now;
    this.drawn = true;
    const total = this.opts.totalBytes;
    let bar = '';
    if (total && total > 0) {
      const fraction = Math.min(1, bytesRead / total);
      const filled = Math.round(fraction * BAR_WIDTH);
      bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% `;
    }
    // \r and "erase to end of line": the bar is redrawn in place.
    this.opts.out.write(`\r${bar}${counts.rows} rows · ${this.tally(counts)} · ${this.rate(counts, now)}\x1b[K`);
  }

  private printLine(counts: BatchCounts, now: number) {
    this.lastDrawAt = now;
    this.lastLineRows = counts.rows;
    this.opts.out.write(`progress: ${counts.rows} rows · ${this.tally(counts)} · ${this.rate(counts, now)}\n`);
  }
}
