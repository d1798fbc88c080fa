// A server command that cannot take its port: one line naming the port and what to do.
import { firstLine } from './first-line';
import { codedErrorClass } from './coded-error';

export class ListenError extends codedErrorClass('CANNOT_LISTEN') {}

const WHY: Readonly<Record<string, string>> = {
  EADDRINUSE: 'is already in use',
  EACCES: 'is not allowed',
  EADDRNOTAVAIL: 'is not available',
};

/** The error to throw when listen() failed; an error that already explains itself is kept. */
export function listenFailure(err: unknown, host: string, port: number): Error {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 'PORT_BUSY' && err instanceof Error) return err;
  const why = typeof code === 'string' ? WHY[code] : undefined;
  return new ListenError(
    why
      ? `port ${port} on ${host} ${why}: stop whatever holds it or choose another with --port`
      : `cannot listen on ${host}:${port}: ${firstLine(err)}`,
    { cause: err },
  );
}
