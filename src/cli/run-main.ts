// One runner for every command: in-process (tests, `npm start` running the starter) through
// runCommand, as a process through runMain. Whatever a command throws becomes its one-line error
// and exit code by the policy in exit-code-policy.ts.
import { loadLogFormat, type LogFormat } from '../logging/log-format';
import { formatLogLine } from '../logging/line-logger';
import { isTerminal, type CliIo } from './cli-io';
import { describeFailure, EXIT_INTERRUPTED, EXIT_OK } from './exit-code-policy';
import { HelpPrinted } from './parse-flags';

export type Command<I extends CliIo = CliIo> = (io: I) => Promise<number>;

/**
 * How a command's diagnostics are written: LOG_FORMAT when set. Otherwise a server (worker,
 * trigger, codec server) writes JSON unless its stdout is a terminal, as its log lines do, and a
 * one-shot command writes text, for the person who ran it. A LOG_FORMAT that is not json or text
 * is itself reported, in the default format.
 */
export function diagnosticFormat(io: CliIo, server: boolean): LogFormat {
  const fallback: LogFormat = server && !isTerminal(io.stdout) ? 'json' : 'text';
  try {
    return loadLogFormat(io.env, fallback === 'text');
  } catch {
    return fallback;
  }
}

/** Runs a command; never throws: a failure is printed on stderr as "<name>: ..." and returns its code. */
export async function runCommand<I extends CliIo>(
  name: string,
  io: I,
  command: Command<I>,
  options: { server?: boolean } = {},
): Promise<number> {
  try {
    return await command(io);
  } catch (err) {
    if (err instanceof HelpPrinted) return EXIT_OK;
    const failure = describeFailure(err);
    const format = diagnosticFormat(io, options.server === true);
    for (const line of failure.lines) {
      const text = `${name}: ${line}`;
      io.stderr.write(`${format === 'json' ? formatLogLine('json', 'ERROR', text) : text}\n`);
    }
    return failure.exitCode;
  }
}

export interface GracefulStop {
  /** Said on stderr at the first signal. */
  notice?: string;
  /**
   * A further signal: 'exit' quits at once with 130 ("Ctrl-C again to quit now"); 'wait' only
   * says that stopping is under way, for a command that must first stop the servers it started.
   */
  again: 'exit' | 'wait';
  /** SIGINT and SIGTERM by default. */
  signals?: readonly NodeJS.Signals[];
}

export interface MainOptions {
  /** How its lines start: "starter: ...". */
  name: string;
  /**
   * Without it, a signal ends the process as Node does by default (a shell reports 130); with it,
   * the first signal aborts `io.signal` and the command finishes on its own terms.
   */
  stop?: GracefulStop;
  /** A long-running server: its diagnostics follow its log format (see diagnosticFormat). */
  server?: boolean;
}

/** The process's entry point: runs the command on argv, env and the standard streams, then exits with its code. */
export function runMain(options: MainOptions, command: Command): void {
  const controller = new AbortController();
  if (options.stop) listenForStop(options.name, options.stop, controller);
  const io: CliIo = {
    argv: process.argv.slice(2),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    ...(options.stop && { signal: controller.signal }),
  };
  // Exit rather than wait for the event loop to drain: a client or runtime left open must not keep
  // a finished command alive. Writes to the standard streams are synchronous on Linux pipes and files.
  void runCommand(options.name, io, command, { server: options.server === true }).then((code) =>
    process.exit(code),
  );
}

function listenForStop(name: string, stop: GracefulStop, controller: AbortController): void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      if (stop.notice) process.stderr.write(`\n${name}: ${stop.notice}\n`);
      // The reason is the signal's name, for commands that log what stopped them.
      controller.abort(signal);
    } else if (stop.again === 'exit') {
      process.exit(EXIT_INTERRUPTED);
    } else {
      process.stderr.write(`${name}: still stopping, please wait...\n`);
    }
  };
  for (const signal of stop.signals ?? ['SIGINT', 'SIGTERM']) process.on(signal, onSignal);
}

/** Resolves when the command is asked to stop (never, without a signal); gives the signal's name. */
export function stopRequested(signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolveStop) => {
    if (!signal) return;
    const done = () => resolveStop(String(signal.reason));
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });
}
