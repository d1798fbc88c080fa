// Numbers, durations and ports from flags (and their environment variables), each refused in one
// line that names the flag, the accepted form and what was given.
import { durationToMs } from '../config/duration-text';
import { ConfigError, type Env } from '../config/env-reader';
import { UsageError } from './usage-error';

/** A whole number in [min, max] (min 1 unless said), or the fallback when the flag is absent. */
export function wholeNumberFlag(
  flag: string,
  raw: string | undefined,
  range: { fallback: number; max: number; min?: number },
): number {
  if (raw === undefined) return range.fallback;
  const min = range.min ?? 1;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > range.max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${range.max} (got "${raw}")`);
  }
  return n;
}

/** A number above zero (a rate), or undefined when the flag is absent; `what` says its unit. */
export function positiveNumberFlag(flag: string, raw: string | undefined, what: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${flag} must be a positive number of ${what} (got "${raw}")`);
  }
  return n;
}

/** Milliseconds of a duration such as 30s, 5m or 1h; the fallback (same form) when absent. */
export function durationFlag(flag: string, raw: string | undefined, fallback: string): number {
  const text = raw ?? fallback;
  const ms = durationToMs(text);
  if (ms === undefined) throw new UsageError(`${flag} must be a duration like 30s, 5m or 1h (got "${text}")`);
  return ms;
}

export interface PortSetting {
  flag: string;
  raw: string | undefined;
  /** The variable read when the flag is absent. */
  variable: string;
  env: Env;
  fallback: number;
  /** Whether 0 (any free port) is accepted. */
  allowZero?: boolean;
}

/** The port from the flag, else its environment variable, else the default. */
export function portSetting(setting: PortSetting): number {
  const min = setting.allowZero ? 0 : 1;
  const check = (raw: string): number | undefined => {
    const port = /^\d{1,5}$/.test(raw.trim()) ? Number(raw) : NaN;
    return port >= min && port <= 65_535 ? port : undefined;
  };
  const problem = (raw: string) => `must be a port number from ${min} to 65535 (got "${raw}")`;
  if (setting.raw !== undefined) {
    const port = check(setting.raw);
    if (port === undefined) throw new UsageError(`${setting.flag} ${problem(setting.raw)}`);
    return port;
  }
  const fromEnv = setting.env[setting.variable]?.trim();
  if (!fromEnv) return setting.fallback;
  const port = check(fromEnv);
  if (port === undefined) throw new ConfigError(setting.variable, problem(fromEnv));
  return port;
}
