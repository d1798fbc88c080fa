// The transport limits every server built on src/http/http-server.ts must keep, checked against
// a real server on a free port with short limits: a slow client is cut at the header or request
// timeout while others are answered, an idle connection closes, connections over the cap are
// closed at once (and logged), oversized headers get 431, and a client hanging up mid-body is
// logged as such, never as an unexpected error.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpServerLimits } from '../../src/http/http-server';
import { hangUpAfter, heldConnection, httpRequest, rawRequest, tricklingRequest } from './raw-http';

/** Short enough for a quick suite; the defaults (docs/security.md) are 10 s and more. */
export const TEST_LIMITS: HttpServerLimits = {
  headersTimeoutMs: 2_000,
  requestTimeoutMs: 3_000,
  keepAliveTimeoutMs: 1_000,
  maxConnections: 6,
  maxHeaderBytes: 16 * 1024,
};
/** Timers on a shared 2-core machine fire late: this much is allowed past a deadline. */
const SLACK_MS = 500;

export interface LimitedServer {
  port: number;
  logLines(): string[];
  close(): Promise<void>;
}

export interface TransportLimitSubject {
  start(limits: HttpServerLimits): Promise<LimitedServer>;
  /** A request answered at once and changing nothing (a health check), and its status. */
  probe: Buffer;
  probeStatus: number;
  /** The head of an authorised request whose body the server reads, announcing `length` bytes. */
  bodyRequestHead(length: number): Buffer;
}

export function transportLimitTests(subject: TransportLimitSubject): void {
  const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs, maxConnections } = TEST_LIMITS;
  describe(`transport limits (headers ${headersTimeoutMs} ms, request ${requestTimeoutMs} ms, keep-alive ${keepAliveTimeoutMs} ms, ${maxConnections} connections)`, () => {
    let server: LimitedServer;
    beforeAll(async () => {
      server = await subject.start(TEST_LIMITS);
    });
    afterAll(async () => {
      await server?.close();
    });

    it(`closes a client sending headers one byte a second within ${headersTimeoutMs} ms, answering others meanwhile`, async () => {
      const slow = tricklingRequest(server.port, {
        trickle: `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(60)}\r\n\r\n`,
        intervalMs: 1_000,
        waitMs: headersTimeoutMs * 3,
      });
      let slowDone = false;
      void slow.then(() => (slowDone = true));
      const others: Array<{ status: number | undefined; elapsedMs: number }> = [];
      while (!slowDone) {
        const answer = await rawRequest(server.port, subject.probe, { firstAnswerOnly: true, waitMs: 2_000 });
        others.push({ status: answer.status, elapsedMs: answer.elapsedMs });
        await sleep(200);
      }
      const cut = await slow;
      const slowest = Math.max(...others.map((o) => o.elapsedMs));
      console.info(
        `slow headers: closed after ${cut.elapsedMs} ms (header timeout ${headersTimeoutMs} ms) with ${cut.status}; ` +
          `${others.length} other requests answered meanwhile, the slowest in ${slowest} ms`,
      );
      expect(cut.closed).toBe(true);
      expect(cut.status).toBe(408);
      expect(cut.bytesSent).toBeLessThanOrEqual(Math.ceil(headersTimeoutMs / 1_000) + 1);
      expect(cut.elapsedMs).toBeGreaterThanOrEqual(headersTimeoutMs - 400);
      expect(cut.elapsedMs).toBeLessThanOrEqual(headersTimeoutMs + SLACK_MS);
      expect(others.length).toBeGreaterThanOrEqual(4);
      for (const other of others) {
        expect(other.status).toBe(subject.probeStatus);
        expect(other.elapsedMs).toBeLessThan(1_000);
      }
    });

    it(`cuts a body sent one byte every half second at ${requestTimeoutMs} ms with 408`, async () => {
      const cut = await tricklingRequest(server.port, {
        head: subject.bodyRequestHead(100),
        trickle: '{'.padEnd(100, ' '),
        intervalMs: 500,
        waitMs: requestTimeoutMs * 3,
      });
      expect(cut.closed).toBe(true);
      expect(cut.status).toBe(408);
      expect(cut.elapsedMs).toBeLessThanOrEqual(requestTimeoutMs + SLACK_MS);
    });

    it(`closes an idle kept-alive connection after ${keepAliveTimeoutMs} ms (+1 s Node grace)`, async () => {
      const idle = await rawRequest(server.port, subject.probe, { waitMs: 10_000 });
      expect(idle.status).toBe(subject.probeStatus);
      expect(idle.headers['keep-alive']).toBe(`timeout=${keepAliveTimeoutMs / 1_000}`);
      expect(idle.closed).toBe(true);
      expect(idle.elapsedMs).toBeGreaterThanOrEqual(keepAliveTimeoutMs - 100);
      expect(idle.elapsedMs).toBeLessThanOrEqual(keepAliveTimeoutMs + 1_000 + SLACK_MS);
    });

    it(`closes connections past ${maxConnections} at once, logs it, and serves again below the cap`, async () => {
      const held = await Promise.all(
        Array.from({ length: maxConnections }, () => heldConnection(server.port)),
      );
      await sleep(100);
      const refused = await rawRequest(server.port, subject.probe, { waitMs: 2_000 });
      expect(refused.closed).toBe(true);
      expect(refused.text).toBe('');
      expect(refused.elapsedMs).toBeLessThan(1_000);
      expect(server.logLines().join('\n')).toMatch(/connection.*refused|refused .*connection/);
      for (const h of held) h.socket.destroy();
      await Promise.all(held.map((h) => h.closed));
      await sleep(100);
      const served = await rawRequest(server.port, subject.probe, { firstAnswerOnly: true });
      expect(served.status).toBe(subject.probeStatus);
    });

    it('answers 431 to headers over the size limit, and closes', async () => {
      const big = await rawRequest(
        server.port,
        httpRequest('GET', '/', { 'X-Big': 'b'.repeat(TEST_LIMITS.maxHeaderBytes + 1) }),
      );
      expect(big.status).toBe(431);
      expect(big.closed).toBe(true);
    });

    it('logs a client hanging up mid-body as gone, not as an unexpected error', async () => {
      const before = server.logLines().length;
      await hangUpAfter(
        server.port,
        Buffer.concat([subject.bodyRequestHead(1_000), Buffer.from('{"a":')]),
        200,
      );
      await sleep(300);
      const lines = server.logLines().slice(before).join('\n');
      expect(lines).toMatch(/closed .*before the request was complete/);
      expect(lines).not.toMatch(/unexpected/i);
    });
  });
}
