// What a command sees of its process, so tests run it in-process with strings for streams.
import type { Env } from '../config/env-reader';

export interface TextWriter {
  write(text: string): unknown;
}

export interface CliIo {
  readonly argv: readonly string[];
  readonly env: Env;
  readonly stdout: TextWriter;
  readonly stderr: TextWriter;
  /** Aborted at the first SIGINT or SIGTERM, for commands that stop gracefully (see runMain). */
  readonly signal?: AbortSignal;
}

/** Whether a person reads this stream (process.stdout at a terminal); never for in-process strings. */
export function isTerminal(stream: TextWriter): boolean {
  return (stream as { isTTY?: unknown }).isTTY === true;
}
