// Reading configuration from the environment: every problem names its variable in one line,
// at start-up, never later inside an activity.
import { CodedError } from '../cli/coded-error';

export class ConfigError extends CodedError<'CONFIG_INVALID'> {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super('CONFIG_INVALID', `${variable} ${problem}`);
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export class EnvReader {
  constructor(private readonly env: Env) {}

  /** The trimmed value, or undefined when unset or empty. */
  optional(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  required(name: string, hint: string): string {
    const value = this.optional(name);
    if (value === undefined) throw new ConfigError(name, `is not set: ${hint}`);
    return value;
  }

  url(name: string, fallback?: string): string {
    const value = this.optional(name) ?? fallback;
    if (value === undefined) throw new ConfigError(name, 'is not set: give an http(s) URL');
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError(name, `is not a valid URL (got "${value}"): expected e.g. http://127.0.0.1:8200`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ConfigError(name, `must be an http:// or https:// URL (got "${value}")`);
    }
    return value.replace(/\/+$/, '');
  }

  positiveNumber(name: string, fallback: number): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      throw new ConfigError(name, `must be a positive number (got "${raw}")`);
    }
    return value;
  }

  wholeNumber(name: string, fallback: number, range: { min: number; max: number }): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < range.min || value > range.max) {
      throw new ConfigError(name, `must be a whole number from ${range.min} to ${range.max} (got "${raw}")`);
    }
    return value;
  }

  /** true/false (also 1/0, yes/no, on/off), any case. */
  boolean(name: string, fallback: boolean): boolean {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = raw.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(value)) return true;
    if (['false', '0', 'no', 'off'].includes(value)) return false;
    throw new ConfigError(name, `must be true or false (got "${raw}")`);
  }

  matching(name: string, pattern: RegExp, expected: string, fallback?: string): string | undefined {
    const value = this.optional(name) ?? fallback;
    if (value !== undefined && !pattern.test(value)) {
      throw new ConfigError(name, `must be ${expected} (got "${value}")`);
    }
    return value;
  }

  json<T>(name: string, check: (value: unknown) => T): T | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      throw new ConfigError(name, `is not valid JSON: ${(err as Error).message}`);
    }
    try {
      return check(parsed);
    } catch (err) {
      throw new ConfigError(name, (err as Error).message);
    }
  }
}
