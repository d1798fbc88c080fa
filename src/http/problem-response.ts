// The one shape of a refusal across the product's servers: {"error": "<StableName>", "reason":
// "<what is wrong and what to do>"}, with the headers the refusal needs. A refusal that leaves
// the request's body unread closes the connection instead of reading the rest.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './http-error';
import { sendJson } from './send-json';

export interface ProblemBody {
  error: string;
  reason: string;
}

/** Whether the request announced a body that has not been read to its end. */
export function bodyLeftUnread(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  return hasBody && !req.readableEnded;
}

export function sendProblem(res: ServerResponse, problem: HttpError): void {
  const body: ProblemBody = { error: problem.error, reason: problem.reason };
  const close = problem.closeConnection || bodyLeftUnread(res.req);
  if (close) {
    // Paused, the rest of the body stays unread until the connection closes after the answer.
    res.req.pause();
  }
  sendJson(res, problem.status, body, { ...problem.headers, ...(close ? { connection: 'close' } : {}) });
}

export const internalError = (reason: string): HttpError => new HttpError(500, 'InternalError', reason);
