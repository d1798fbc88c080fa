// A caller that hangs up before its request is read or answered is the caller's business, not
// a fault of the server: it is told apart from unexpected errors, so logs do not cry wolf.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CodedError } from '../cli/coded-error';

export class ClientGoneError extends CodedError<'CLIENT_GONE'> {
  constructor() {
    super('CLIENT_GONE', 'the client closed the connection before the request was complete');
  }
}

const HANGUP_CODES = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED']);

/** Whether `err` (or the state of the exchange) says the caller went away mid-request. */
export function isClientGone(err: unknown, req: IncomingMessage, res: ServerResponse): boolean {
  if (err instanceof ClientGoneError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && HANGUP_CODES.has(code)) return true;
  // Node marks a request whose connection closed early as destroyed and not complete.
  return (req.destroyed && !req.complete) || (res.destroyed && !res.writableFinished);
}
