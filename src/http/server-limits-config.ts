// The transport limits of a small server (the trigger, the codec server) from its environment:
// PREFIX_HEADERS_TIMEOUT_MS, PREFIX_REQUEST_TIMEOUT_MS, PREFIX_KEEP_ALIVE_TIMEOUT_MS and
// PREFIX_MAX_CONNECTIONS, each defaulting to the server's own figure (docs/security.md).
import { ConfigError, EnvReader, type Env } from '../config/env-reader';
import type { HttpServerLimits } from './http-server';

/** An hour: far above anything a request to these servers should take. */
const MAX_TIMEOUT_MS = 3_600_000;
const MAX_CONNECTIONS = 100_000;

export type ServerLimitVariable =
  'HEADERS_TIMEOUT_MS' | 'REQUEST_TIMEOUT_MS' | 'KEEP_ALIVE_TIMEOUT_MS' | 'MAX_CONNECTIONS';

export function serverLimitVariables(prefix: string): Record<ServerLimitVariable, string> {
  return {
    HEADERS_TIMEOUT_MS: `${prefix}_HEADERS_TIMEOUT_MS`,
    REQUEST_TIMEOUT_MS: `${prefix}_REQUEST_TIMEOUT_MS`,
    KEEP_ALIVE_TIMEOUT_MS: `${prefix}_KEEP_ALIVE_TIMEOUT_MS`,
    MAX_CONNECTIONS: `${prefix}_MAX_CONNECTIONS`,
  };
}

export function loadServerLimits(env: Env, prefix: string, defaults: HttpServerLimits): HttpServerLimits {
  const read = new EnvReader(env);
  const names = serverLimitVariables(prefix);
  const timeout = (name: string, fallback: number) =>
    read.wholeNumber(name, fallback, { min: 1, max: MAX_TIMEOUT_MS });
  const headersTimeoutMs = timeout(names.HEADERS_TIMEOUT_MS, defaults.headersTimeoutMs);
  // A longer header deadline alone raises the request deadline with it, rather than failing.
  const requestTimeoutMs = timeout(
    names.REQUEST_TIMEOUT_MS,
    Math.max(defaults.requestTimeoutMs, headersTimeoutMs),
  );
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new ConfigError(
      names.REQUEST_TIMEOUT_MS,
      `must be at least ${names.HEADERS_TIMEOUT_MS} (${headersTimeoutMs}; got ${requestTimeoutMs}): ` +
        'the whole request cannot take less time than its headers',
    );
  }
  return {
    ...defaults,
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: timeout(names.KEEP_ALIVE_TIMEOUT_MS, defaults.keepAliveTimeoutMs),
    maxConnections: read.wholeNumber(names.MAX_CONNECTIONS, defaults.maxConnections, {
      min: 0,
      max: MAX_CONNECTIONS,
    }),
  };
}
