// Keeps one of the stack's own processes running (the worker of `npm run stack`): when it ends
// without being asked, one line says which process, how it ended and where its log is, and it
// is started again after a pause that doubles with each quick failure. A process that keeps
// failing is given up on, with one line that says how to start it again; the stack then stops.
//
// Restart, rather than stop the stack at the first exit: the worker holds no state (Temporal
// retries what it had in flight), and the rest of the stack (the UI, history, the vault) is what
// the engineer is looking at. Give up after a few quick failures: a worker that cannot stay up
// is a configuration or code problem that restarting only hides.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ManagedProcess } from './processes';

export interface SupervisorOptions {
  /** As the lines name it: 'the worker'. */
  name: string;
  logFile: string;
  /** Starts the process and resolves once it is ready (rejects when it cannot start). */
  start(): Promise<ManagedProcess>;
  /** Where the lines go (the stack CLI: stderr). */
  report(line: string): void;
  /** What a person runs to start it again once the supervisor gave up. */
  restartByHand: string;
  /** Pauses before each restart in a row; the last repeats. Default 1, 2, 4, 8, 16 s. */
  backoffMs?: readonly number[];
  /** Running this long counts as healthy: the next failure starts the pauses over. Default 60 s. */
  healthyAfterMs?: number;
  /** Restarts in a row without a healthy run before giving up. Default 5. */
  maxRestarts?: number;
  /**
   * How long an exit waits before it counts: a Ctrl-C in the terminal reaches the process and
   * the stack together, and the stack's stop must win. Default 1 s.
   */
  graceMs?: number;
}

export interface SupervisedProcess {
  /** The running process's pid (it changes with each restart). */
  readonly pid: number | undefined;
  readonly restarts: number;
  /** Resolves with the give-up line once the supervisor stops restarting. */
  readonly gaveUp: Promise<string>;
  stop(): Promise<void>;
}

const DEFAULT_BACKOFF_MS = [1_000, 2_000, 4_000, 8_000, 16_000];

function howItEnded(code: number | NodeJS.Signals): string {
  return typeof code === 'string' ? `was killed by ${code}` : `exited with code ${code}`;
}

/** Starts the process (a failure to start the first time is thrown) and keeps it running. */
export async function superviseProcess(opts: SupervisorOptions): Promise<SupervisedProcess> {
  const backoff = opts.backoffMs ?? DEFAULT_BACKOFF_MS;
  const healthyAfterMs = opts.healthyAfterMs ?? 60_000;
  const maxRestarts = opts.maxRestarts ?? 5;
  const graceMs = opts.graceMs ?? 1_000;
  let current: ManagedProcess | undefined = await opts.start();
  let startedAt = Date.now();
  let stopping = false;
  let restarts = 0;
  let inARow = 0;
  const pause = new AbortController();
  /** A restart under way: stop() waits for it, so no process outlives the stack. */
  let starting: Promise<unknown> | undefined;
  let giveUp: (line: string) => void = () => undefined;
  const gaveUp = new Promise<string>((resolveGiveUp) => (giveUp = resolveGiveUp));

  const abandon = (last: string) => {
    current = undefined;
    const line =
      `stack: ${opts.name} keeps failing (${inARow} times in a row; ${last}): not restarting it again; ` +
      `stopping the stack. See its log ${opts.logFile}; fix the cause, then ${opts.restartByHand}`;
    opts.report(line);
    giveUp(line);
  };

  const watch = (proc: ManagedProcess) => {
    void proc.exited.then(async (code) => {
      await sleep(graceMs);
      if (stopping || current !== proc) return;
      const ranMs = Date.now() - startedAt;
      inARow = ranMs >= healthyAfterMs ? 1 : inARow + 1;
      const ended = `${opts.name} (pid ${proc.pid}) ${howItEnded(code)}`;
      if (inARow > maxRestarts) return abandon(`the last ${howItEnded(code)}`);
      let waitMs = backoff[Math.min(inARow - 1, backoff.length - 1)] ?? 1_000;
      opts.report(
        `stack: ${ended} after ${(ranMs / 1000).toFixed(0)} s; restarting it in ${waitMs / 1000} s ` +
          `(log: ${opts.logFile})`,
      );
      for (;;) {
        try {
          await sleep(waitMs, undefined, { signal: pause.signal });
        } catch {
          return; // stopped while waiting
        }
        try {
          const attempt = opts.start();
          starting = attempt.catch(() => undefined);
          const next = await attempt;
          if (stopping) {
            await next.stop();
            return;
          }
          restarts++;
          current = next;
          startedAt = Date.now();
          opts.report(`stack: ${opts.name} is running again (pid ${next.pid})`);
          watch(next);
          return;
        } catch (err) {
          if (stopping) return;
          inARow++;
          const why = err instanceof Error ? err.message : String(err);
          if (inARow > maxRestarts) return abandon(`the last did not start: ${why}`);
          waitMs = backoff[Math.min(inARow - 1, backoff.length - 1)] ?? 1_000;
          opts.report(`stack: ${opts.name} did not start (${why}); trying again in ${waitMs / 1000} s`);
        }
      }
    });
  };
  watch(current);

  return {
    get pid() {
      return current?.pid;
    },
    get restarts() {
      return restarts;
    },
    gaveUp,
    async stop() {
      stopping = true;
      pause.abort();
      await starting;
      await current?.stop();
    },
  };
}
