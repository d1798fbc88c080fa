// HTTP as a hostile client speaks it: exact bytes over a plain socket (no client library to
// normalise paths, fix headers or give up early), with what came back, whether and when the
// server closed the connection, and how much of the request it let through before closing.
import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  /** Status of the first answer, undefined when nothing came back. */
  status: number | undefined;
  /** Header names in lower case; the first answer only. */
  headers: Record<string, string>;
  body: string;
  /** Everything received, every answer on the connection. */
  text: string;
  /** The server closed the connection (false: the test gave up waiting). */
  closed: boolean;
  /** From connecting to the close (or to giving up). */
  elapsedMs: number;
  /** Request bytes written before the close. */
  bytesSent: number;
}

export interface RawRequestOptions {
  /** Keep writing this body chunk after `bytes`, as fast as the server takes it, until closed. */
  streamChunk?: Buffer;
  /** Stop streaming after this many bytes (default 64 MiB). */
  streamLimit?: number;
  /** Give up waiting for the close after this (default 5 s): `closed` is then false. */
  waitMs?: number;
  /** Resolve as soon as one full answer (headers and Content-Length body) has arrived. */
  firstAnswerOnly?: boolean;
}

function parseAnswer(bytes: Buffer): Pick<RawAnswer, 'status' | 'headers' | 'body'> & { complete: boolean } {
  const end = bytes.indexOf('\r\n\r\n');
  if (end === -1) return { status: undefined, headers: {}, body: '', complete: false };
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = bytes.subarray(end + 4, end + 4 + length);
  return { status, headers, body: body.toString('utf8'), complete: body.length >= length };
}

function answerOf(received: Buffer, closed: boolean, started: number, bytesSent: number): RawAnswer {
  const { status, headers, body } = parseAnswer(received);
  return {
    status,
    headers,
    body,
    text: received.toString('utf8'),
    closed,
    elapsedMs: Date.now() - started,
    bytesSent,
  };
}

/** Sends `bytes` (then, optionally, an endless body) and reports what the server did. */
export function rawRequest(
  port: number,
  bytes: string | Buffer,
  opts: RawRequestOptions = {},
): Promise<RawAnswer> {
  const started = Date.now();
  return new Promise((resolveAnswer) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let bytesSent = 0;
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(giveUp);
      socket.destroy();
      resolveAnswer(answerOf(received, closed, started, bytesSent));
    };
    const giveUp = setTimeout(() => finish(false), opts.waitMs ?? 5_000);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (opts.firstAnswerOnly && parseAnswer(received).complete) finish(false);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    const write = (data: string | Buffer) => {
      bytesSent += Buffer.byteLength(data);
      return socket.write(data);
    };
    socket.once('connect', () => {
      write(bytes);
      const chunk = opts.streamChunk;
      if (!chunk) return;
      const limit = opts.streamLimit ?? 64 * 1024 * 1024;
      const pump = () => {
        while (!socket.destroyed && bytesSent < limit) {
          if (!write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
  });
}

export interface TrickleOptions {
  /** Written at once on connecting, before the trickle. */
  head?: Buffer;
  /** Then one byte of this every `intervalMs`, the first at once. */
  trickle: string;
  intervalMs: number;
  /** Give up waiting for the close after this: `closed` is then false. */
  waitMs: number;
}

/** A slow client: `trickle` one byte at a time until the server closes or `waitMs` passes. */
export function tricklingRequest(port: number, opts: TrickleOptions): Promise<RawAnswer> {
  const started = Date.now();
  return new Promise((resolveAnswer) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let sent = 0;
    let trickled = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolveAnswer(answerOf(received, closed, started, sent));
    };
    const giveUp = setTimeout(() => finish(false), opts.waitMs);
    const next = () => {
      if (socket.destroyed || trickled >= opts.trickle.length) return;
      socket.write(opts.trickle[trickled++] ?? '');
      sent++;
    };
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    socket.on('error', () => undefined);
    socket.once('close', () => finish(true));
    socket.once('connect', () => {
      if (opts.head) {
        socket.write(opts.head);
        sent += opts.head.length;
      }
      next();
      timer = setInterval(next, opts.intervalMs);
    });
  });
}

/** Sends `bytes`, then hangs up after `afterMs` without waiting for an answer. */
export function hangUpAfter(port: number, bytes: Buffer, afterMs: number): Promise<void> {
  return new Promise((resolveDone) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      socket.write(bytes);
      setTimeout(() => {
        socket.destroy();
        resolveDone();
      }, afterMs);
    });
  });
}

/** A connection that has sent part of a request line and holds on; resolves once connected. */
export function heldConnection(port: number): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolveHeld, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<number>((resolveClosed) =>
      socket.once('close', () => resolveClosed(Date.now() - started)),
    );
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      socket.write('GET /');
      resolveHeld({ socket, closed });
    });
    socket.once('error', reject);
  });
}

/** A request as bytes: request line, Host, the given headers, Content-Length for a body. */
export function httpRequest(
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1'];
  const all = { ...headers };
  if (body !== undefined && !Object.keys(all).some((k) => k.toLowerCase() === 'content-length')) {
    all['Content-Length'] = String(Buffer.byteLength(body));
  }
  for (const [name, value] of Object.entries(all)) lines.push(`${name}: ${value}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), Buffer.from(body ?? '')]);
}
