// Small helpers shared by the benchmark and the fault drills: bounded concurrency, percentiles,
// memory sampling, tables and the JSON results file.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';

export { sleep };

export const SILENT_LOGGER = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Runs `fn` over `items` with at most `concurrency` calls in flight; results in input order. */
export async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Nearest-rank percentile of an ascending list; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** Distinct 15-digit phone-number ids, `count` of them from `base`. */
export function phoneNumberIds(base: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => String(base + i));
}

/** A random 15-digit base so that runs never collide with an earlier run's ids. */
export function randomIdBase(): number {
  return 100_000_000_000_000 + Math.floor(Math.random() * 8e5) * 1e9;
}

export const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** A /proc/<pid>/status field in bytes (VmHWM = peak RSS, VmRSS = current); undefined when gone. */
export function procStatusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match?.[1] ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used so far, in ms; undefined when it is gone. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, inside parentheses): utime is the 14th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/** USER_HZ on Linux: 100 on every mainstream kernel configuration. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Samples a byte count every `everyMs` and keeps the peak. */
export class PeakSampler {
  peak = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly read: () => number | undefined,
    everyMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }
  sample(): void {
    const value = this.read();
    if (value !== undefined && value > this.peak) this.peak = value;
  }
  stop(): number {
    this.sample();
    clearInterval(this.timer);
    return this.peak;
  }
}

/** Polls a visibility count until it reaches `target`; returns the last count seen. */
export async function waitForCount(
  client: Client,
  query: string,
  target: number,
  opts: { timeoutMs: number; everyMs?: number },
): Promise<number> {
  const deadline = Date.now() + opts.timeoutMs;
  let count = 0;
  while (Date.now() < deadline) {
    try {
      count = (await client.workflow.count(query)).count;
      if (count >= target) return count;
    } catch {
      // The server may be restarting (drills): keep polling until the deadline.
    }
    await sleep(opts.everyMs ?? 250);
  }
  return count;
}

export function printTable(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>) {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

export function writeJson(file: string, data: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}

/** Runs `cleanup` once on SIGINT/SIGTERM, then exits 130; returns a function that uninstalls it. */
export function onInterrupt(cleanup: () => Promise<void>): () => void {
  let stopping = false;
  const handler = () => {
    if (stopping) process.exit(130);
    stopping = true;
    console.error('\ninterrupted: stopping everything this run started...');
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
