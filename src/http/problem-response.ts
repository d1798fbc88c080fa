// The one shape of a refusal across the product's servers: {"error": "<StableName>", "reason":
// "<what is wrong and what to do>"}, with the headers the refusal needs, and the connection
// closed when the request's body was left unread.
import type { ServerResponse } from 'node:http';
import { HttpError } from './http-error';
import { sendJson } from './send-json';

export interface ProblemBody {
  error: string;
  reason: string;
}

export function sendProblem(res: ServerResponse, problem: HttpError): void {
  const body: ProblemBody = { error: problem.error, reason: problem.reason };
  const headers = { ...problem.headers, ...(problem.closeConnection ? { connection: 'close' } : {}) };
  sendJson(res, problem.status, body, headers);
}

export const internalError = (reason: string): HttpError => new HttpError(500, 'InternalError', reason);
