// Progress of a batch on stderr: a bar redrawn in place on a terminal, plain lines every N rows or
// seconds otherwise (CI logs and `2> file` must stay readable). The bar's position is the line of
// the last row handled out of the file's line count (reading runs ahead of the starts).
import type { TextWriter } from '../cli/cli-io';

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
  /** Lines in the file, for the bar's percentage; unknown for stdin. */
  totalLines?: number;
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
  update(counts: BatchCounts, line: number): void {
    const now = this.now();
    if (this.opts.tty) {
      if (now - this.lastDrawAt >= TTY_REDRAW_MS) this.drawBar(counts, line, now);
    } else if (
      counts.rows - this.lastLineRows >= this.opts.everyRows ||
      now - this.lastDrawAt >= this.opts.everyMs
    ) {
      if (counts.rows !== this.lastLineRows) this.printLine(counts, now);
    }
  }

  /** The final state; on a terminal, leaves the bar complete and moves to a new line. */
  finish(counts: BatchCounts, line: number): void {
    if (this.opts.tty) {
      this.drawBar(counts, line, this.now());
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

  private drawBar(counts: BatchCounts, line: number, now: number) {
    this.lastDrawAt = now;
    this.drawn = true;
    const total = this.opts.totalLines;
    let bar = '';
    if (total && total > 0) {
      const fraction = Math.min(1, line / total);
      const filled = Math.round(fraction * BAR_WIDTH);
      bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% `;
    }
    // \r and "erase to end of line": the bar is redrawn in place.
    this.opts.out.write(
      `\r${bar}${counts.rows} rows · ${this.tally(counts)} · ${this.rate(counts, now)}\x1b[K`,
    );
  }

  private printLine(counts: BatchCounts, now: number) {
    this.lastDrawAt = now;
    this.lastLineRows = counts.rows;
    this.opts.out.write(
      `progress: ${counts.rows} rows · ${this.tally(counts)} · ${this.rate(counts, now)}\n`,
    );
  }
}

/** Lines in a file, counted in a quick streaming pass (constant memory), for the progress bar. */
export async function countLines(stream: AsyncIterable<Buffer>): Promise<number> {
  let lines = 0;
  let last = 10;
  for await (const chunk of stream) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    if (chunk.length > 0) last = chunk[chunk.length - 1] ?? 10;
  }
  // A last line without a line break still counts.
  return last === 10 ? lines : lines + 1;
}
