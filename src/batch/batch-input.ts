// Where the batch's text comes from: a regular file, streamed, or standard input for "--file -".
import { createReadStream, statSync } from 'node:fs';
import { UsageError } from '../cli/usage-error';

export interface BatchInput {
  stream: NodeJS.ReadableStream & AsyncIterable<string>;
  fromStdin: boolean;
  /** Releases the file (stdin is left to the process). */
  close(): void;
}

/** Opens the batch; a path that is not a readable regular file is a usage error. */
export function openBatchInput(file: string, stdin: (() => NodeJS.ReadableStream) | undefined): BatchInput {
  if (file === '-') {
    if (!stdin) throw new UsageError('--file - needs a standard input');
    const stream = stdin();
    stream.setEncoding('utf8');
    return {
      stream: stream as NodeJS.ReadableStream & AsyncIterable<string>,
      fromStdin: true,
      close: () => undefined,
    };
  }
  try {
    if (!statSync(file).isFile()) throw new Error('not a regular file');
  } catch (err) {
    throw new UsageError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 64 * 1024 });
  return { stream, fromStdin: false, close: () => stream.destroy() };
}
