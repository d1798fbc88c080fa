// One hostile request and what the server must answer, checked the same way for every server:
// the status, that the connection closes where the body was left unread, that a streamed body is
// cut off, JSON answers never sniffed and their reason on one line, and the request's own checks.
import { expect } from 'vitest';
import { rawRequest, type RawAnswer } from './raw-http';

export interface HostileRequest {
  name: string;
  request: () => Buffer;
  status: number;
  /** The server must close the connection (an unread body, a refused credential). */
  closes?: boolean;
  /** Stream this after the request, to see the server stop reading. */
  streamChunk?: Buffer;
  headers?: Record<string, string | RegExp | undefined>;
  /** On the answer's text. */
  body?: RegExp;
  /** Contained in the JSON answer's `reason`, as parsed. */
  reason?: string;
  /** The answer stays short whatever the request held. */
  maxBodyChars?: number;
  /** Further checks once answered (e.g. that nothing was started). */
  after?: (answer: RawAnswer) => Promise<void> | void;
}

export async function checkHostileRequest(port: number, row: HostileRequest): Promise<RawAnswer> {
  const answer = await rawRequest(port, row.request(), {
    ...(row.streamChunk ? { streamChunk: row.streamChunk } : {}),
    ...(row.closes ? { waitMs: 3_000 } : { firstAnswerOnly: true, waitMs: 5_000 }),
  });
  expect(answer.status).toBe(row.status);
  if (row.closes) {
    expect(answer.closed).toBe(true);
    expect(answer.headers['connection']).toBe('close');
  }
  if (row.streamChunk) {
    // It stopped reading: the client was cut off long before the 64 MiB it was willing to send.
    expect(answer.bytesSent).toBeLessThan(32 << 20);
  }
  if (answer.headers['content-type']?.startsWith('application/json')) {
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    const parsed = JSON.parse(answer.body) as { reason?: string };
    if (parsed.reason !== undefined) expect(parsed.reason).not.toMatch(/[\n\r]/);
    if (row.reason !== undefined) expect(parsed.reason).toContain(row.reason);
  } else {
    expect(row.reason).toBeUndefined();
  }
  for (const [name, want] of Object.entries(row.headers ?? {})) {
    if (want instanceof RegExp) expect(answer.headers[name]).toMatch(want);
    else expect(answer.headers[name]).toBe(want);
  }
  if (row.body) expect(answer.body).toMatch(row.body);
  if (row.maxBodyChars !== undefined) expect(answer.body.length).toBeLessThanOrEqual(row.maxBodyChars);
  await row.after?.(answer);
  return answer;
}
