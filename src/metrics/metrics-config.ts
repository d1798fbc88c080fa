// METRICS_BIND_ADDRESS: where the worker serves /metrics for Prometheus. Off when unset (a
// production worker exposes nothing it was not asked to); the local stack sets it.
import { isIP } from 'node:net';
import { ConfigError, EnvReader, type Env } from '../config/env-reader';

/** Where `npm run stack` serves its in-process worker's metrics unless --metrics-port says otherwise. */
export const LOCAL_STACK_METRICS_BIND_ADDRESS = '127.0.0.1:9464';

const EXAMPLE = 'an IP address and port such as 0.0.0.0:9464 or [::]:9464';

/** The bind address, checked; undefined when metrics are off. */
export function loadMetricsBindAddress(env: Env, fallback?: string): string | undefined {
  const value = new EnvReader(env).optional('METRICS_BIND_ADDRESS') ?? fallback;
  if (value === undefined) return undefined;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  const hostOk = host !== undefined && isIP(host) === (match?.[1] ? 6 : 4);
  if (!hostOk || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new ConfigError('METRICS_BIND_ADDRESS', `must be ${EXAMPLE} (got "${value}")`);
  }
  return value;
}
