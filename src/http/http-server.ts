// The one way the product's small servers are built: bounded time to send headers, to send the
// whole request, and to sit idle between requests; a cap on open connections (connections past it
// are closed at once); and one policy for a handler's failure: an HttpError becomes its problem
// response, a caller hanging up is reported as such, anything else is logged and answered 500.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isClientGone } from './client-gone';
import { HttpError } from './http-error';
import { internalError, sendProblem } from './problem-response';

export interface HttpServerLimits {
  /**
   * From connecting (or the first byte of a later request) to the last header byte; a slower
   * client is answered 408 and closed, no later than this.
   */
  headersTimeoutMs: number;
  /** Likewise to the last body byte; at least headersTimeoutMs. */
  requestTimeoutMs: number;
  /**
   * How long an idle kept-alive connection stays open, as told to the client (Keep-Alive:
   * timeout=N); Node closes it one second later, so a request already on its way is not cut.
   */
  keepAliveTimeoutMs: number;
  /** Open connections at most; 0 for no cap. */
  maxConnections: number;
  /** Size of the request line and headers together (431 past it). */
  maxHeaderBytes: number;
}

export interface HttpServerEvents {
  /** A handler failed with something other than an HttpError; answered 500. */
  unexpected(err: unknown, req: IncomingMessage): void;
  /** The caller closed the connection before its request was read or answered. */
  clientGone?(req: IncomingMessage): void;
  /**
   * Connections over maxConnections, closed unanswered: called for the first at once, then at
   * most once per REFUSALS_REPORT_INTERVAL_MS with the number since, so a flood is a few lines.
   */
  connectionsRefused?(count: number): void;
}

export const REFUSALS_REPORT_INTERVAL_MS = 10_000;

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * Node checks the header and request deadlines on a timer, so a deadline is enforced up to one
 * interval late; it is handed to Node that much earlier, and then holds as configured.
 */
function checkingInterval(limits: HttpServerLimits): number {
  return Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 8)));
}

export function createHttpServer(
  limits: HttpServerLimits,
  handle: RequestHandler,
  events: HttpServerEvents,
): Server {
  if (limits.requestTimeoutMs < limits.headersTimeoutMs) {
    throw new RangeError(
      `requestTimeoutMs (${limits.requestTimeoutMs}) must be at least headersTimeoutMs (${limits.headersTimeoutMs})`,
    );
  }
  const interval = checkingInterval(limits);
  const server = createServer(
    {
      headersTimeout: Math.max(1, limits.headersTimeoutMs - interval),
      requestTimeout: Math.max(1, limits.requestTimeoutMs - interval),
      connectionsCheckingInterval: interval,
      maxHeaderSize: limits.maxHeaderBytes,
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => answerFailure(req, res, err, events));
    },
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;
  reportRefusals(server, events);
  return server;
}

function reportRefusals(server: Server, events: HttpServerEvents) {
  let pending = 0;
  let quiet: NodeJS.Timeout | undefined;
  const flush = () => {
    quiet = undefined;
    if (pending === 0) return;
    events.connectionsRefused?.(pending);
    pending = 0;
    quiet = setTimeout(flush, REFUSALS_REPORT_INTERVAL_MS).unref();
  };
  server.on('drop', () => {
    pending++;
    if (quiet === undefined) flush();
  });
}

function answerFailure(req: IncomingMessage, res: ServerResponse, err: unknown, events: HttpServerEvents) {
  if (isClientGone(err, req, res)) {
    events.clientGone?.(req);
    res.destroy();
    return;
  }
  if (!(err instanceof HttpError)) events.unexpected(err, req);
  // Half an answer is already out: cutting the connection is the only honest ending.
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendProblem(res, err instanceof HttpError ? err : internalError('the server failed: see its log'));
}

/** Listens and resolves with the port bound (0 picks a free one); rejects with the listen error. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Stops accepting, closes idle connections, and cuts the rest after `graceMs` (0: at once), so
 * requests in progress may finish first.
 */
export function stopServer(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolveClose) => {
    if (!server.listening) return resolveClose();
    server.close(() => resolveClose());
    if (graceMs <= 0) {
      server.closeAllConnections();
      return;
    }
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), graceMs).unref();
  });
}

/** "http://host:port", with brackets around an IPv6 host. */
export function httpUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
