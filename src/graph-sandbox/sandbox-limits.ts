// The sandbox's HTTP limits: roomy, since it stands in for Meta (whose limits are not documented)
// in tests and drills that open many connections; bounded, so a stuck client cannot pin it.
import type { HttpServerLimits } from '../http/http-server';

export const SANDBOX_MAX_BODY_BYTES = 64 * 1024;

export const SANDBOX_LIMITS: HttpServerLimits = {
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 0,
  maxHeaderBytes: 16 * 1024,
};
