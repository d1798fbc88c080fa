// Runs a program as a real child process (the product's CLIs through tsx, as `npm run ...` does,
// or a server binary's own CLI) and keeps every byte it writes to stdout and stderr, so tests can
// read what an operator would see. Every test that spawns a process goes through here.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const PROJECT_ROOT = resolve(__dirname, '..', '..');
const TSX_CLI = resolve(PROJECT_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

export interface CapturedProcess {
  readonly name: string;
  readonly pid: number;
  /** Exit code, or the signal that ended the process. */
  readonly exited: Promise<number | NodeJS.Signals>;
  stdout(): string;
  stderr(): string;
  /** Whether the process has ended (both pipes drained). */
  ended(): boolean;
  /** Sends a signal (SIGINT for a Ctrl-C); does nothing once the process has ended. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves with the first line (stdout or stderr) matching; fails if the process exits first. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /**
   * `signal` (SIGTERM unless said), then SIGKILL after `graceMs`; resolves once the process is
   * gone. Safe to call twice.
   */
  stop(graceMs?: number, signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>;
}

export interface RunProgramOptions {
  name: string;
  command: string;
  args?: string[];
  /** The whole environment of the child: nothing is inherited unless passed here. */
  env: Record<string, string | undefined>;
  /** The project root unless said. */
  cwd?: string;
}

export interface RunTsxOptions extends Omit<RunProgramOptions, 'command'> {
  /** The entry point relative to the project root, e.g. src/worker.ts. */
  script: string;
  /**
   * 'cli' (default): `node tsx/dist/cli.mjs script`, as `npm run` does: tsx relays signals to a
   * child of its own. 'import': `node --import tsx script`, one process, so that the pid is the
   * script's (memory readings) and a signal reaches it directly.
   */
  loader?: 'cli' | 'import';
}

/** The program with its arguments in the project root (or `cwd`), stdin closed. */
export function runProgram(opts: RunProgramOptions): CapturedProcess {
  const child: ChildProcess = spawn(opts.command, opts.args ?? [], {
    cwd: opts.cwd ?? PROJECT_ROOT,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  let spawnError: Error | undefined;
  const exited = new Promise<number | NodeJS.Signals>((resolveExit) => {
    // 'close' rather than 'exit': by then both pipes are drained, so nothing written is missed.
    child.once('close', (code, signal) => resolveExit(code ?? signal ?? 0));
    child.once('error', (error) => {
      spawnError = error;
      resolveExit(-1);
    });
  });
  let ended = false;
  void exited.then(() => (ended = true));
  const stdout = () => Buffer.concat(out).toString('utf8');
  const stderr = () => Buffer.concat(err).toString('utf8') + (spawnError ? `\n${spawnError.message}` : '');
  const running = () => !ended && child.exitCode === null && child.signalCode === null;

  return {
    name: opts.name,
    pid: child.pid ?? -1,
    exited,
    stdout,
    stderr,
    ended: () => ended,
    signal(signal) {
      if (running()) child.kill(signal);
    },
    async waitForLine(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = `${stdout()}\n${stderr()}`.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) return line;
        if (ended) {
          throw new Error(
            `${opts.name} exited (${String(await exited)}) before printing ${pattern}:\n${stderr()}\n${stdout()}`,
          );
        }
        if (Date.now() >= deadline) {
          throw new Error(`${opts.name} did not print ${pattern} within ${timeoutMs} ms:\n${stderr()}`);
        }
        await sleep(100);
      }
    },
    async stop(graceMs = 10_000, signal = 'SIGTERM') {
      if (running()) {
        child.kill(signal);
        const cancel = new AbortController();
        const grace = sleep(graceMs, false, { signal: cancel.signal }).catch(() => true);
        const done = await Promise.race([exited.then(() => true), grace]).finally(() => cancel.abort());
        if (!done) child.kill('SIGKILL');
      }
      return exited;
    },
  };
}

/** One of the product's TypeScript entry points, run through tsx in the project root. */
export function runTsx(opts: RunTsxOptions): CapturedProcess {
  const loaderArgs = opts.loader === 'import' ? ['--import', 'tsx'] : [TSX_CLI];
  return runProgram({
    ...opts,
    command: process.execPath,
    args: [...loaderArgs, opts.script, ...(opts.args ?? [])],
  });
}

/** Waits for a process to end by itself; kills it and fails if it takes longer than `timeoutMs`. */
export async function waitForExit(
  proc: CapturedProcess,
  timeoutMs: number,
): Promise<number | NodeJS.Signals> {
  const cancel = new AbortController();
  const timer = sleep(timeoutMs, 'timeout' as const, { signal: cancel.signal }).catch(() => undefined);
  const result = await Promise.race([proc.exited, timer]).finally(() => cancel.abort());
  if (result === 'timeout' || result === undefined) {
    await proc.stop(1_000);
    throw new Error(
      `${proc.name} did not finish within ${timeoutMs} ms:\n${proc.stderr()}\n${proc.stdout()}`,
    );
  }
  return result;
}

/** Runs a program to its end: its exit and everything it printed. */
export async function runToExit(
  opts: RunProgramOptions | RunTsxOptions,
  timeoutMs = 60_000,
): Promise<{ code: number | NodeJS.Signals; stdout: string; stderr: string }> {
  const proc = 'script' in opts ? runTsx(opts) : runProgram(opts);
  const code = await waitForExit(proc, timeoutMs);
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}
