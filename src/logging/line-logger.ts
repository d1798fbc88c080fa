// One log line per event, for every long-running process (worker, trigger, codec server) and the
// CLIs' diagnostics: a JSON object {time, level, message, ...fields} per line, or the same as text.
// It implements the SDK's Logger interface, so the worker's Runtime (and the native core logs it
// forwards) write through it too; it does not import the SDK, so light processes stay light.
import type { LogFormat, LogLevelName } from './log-format';
import { LOG_LEVELS } from './log-format';

export type LogFields = Record<string | symbol, unknown>;

export interface LineLogger {
  readonly format: LogFormat;
  log(level: LogLevelName, message: string, fields?: LogFields): void;
  trace(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** An INFO line shown whatever the level: a process saying it is ready, or that it stopped. */
  announce(message: string, fields?: LogFields): void;
}

export interface LineLoggerOptions {
  format: LogFormat;
  level: LogLevelName;
  /** Where lines go; stderr unless given (tests collect them). */
  write?: (line: string) => void;
  /** Fields on every line, e.g. { component: 'worker' }. */
  base?: Record<string, unknown>;
}

// The SDK stamps forwarded core logs with their own time (nanoseconds, a bigint) under this
// registered symbol; reading it by name keeps this file free of an SDK import.
const LOG_TIMESTAMP = Symbol.for('log_timestamp');
const RESERVED = new Set(['time', 'level', 'message']);

/** JSON.stringify that keeps what plain JSON would lose or choke on. */
function toJsonValue(value: unknown, depth = 0): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, ...('code' in value ? { code: value.code } : {}) };
  }
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (depth > 5) return '[nested too deep]';
  if (Array.isArray(value)) return value.map((v) => toJsonValue(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v, depth + 1)]));
  }
  return value;
}

function timeOf(fields: LogFields | undefined): string {
  const nanos = fields?.[LOG_TIMESTAMP];
  const date = typeof nanos === 'bigint' ? new Date(Number(nanos / 1_000_000n)) : new Date();
  return date.toISOString();
}

function plainFields(fields: LogFields | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!fields) return out;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    // A field may not overwrite the line's own keys; it keeps its value under another name.
    out[RESERVED.has(key) ? `field_${key}` : key] = toJsonValue(value);
  }
  return out;
}

/** One line, without the newline: the formatting rule every process shares. */
export function formatLogLine(
  format: LogFormat,
  level: LogLevelName,
  message: string,
  fields?: LogFields,
): string {
  const time = timeOf(fields);
  const rest = plainFields(fields);
  // Multi-line messages (stack traces, webpack output) stay one line, as the format promises.
  if (format === 'json') return JSON.stringify({ time, level, message, ...rest });
  const oneLine = message.replace(/\r?\n/g, ' | ');
  const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
  return `${time} ${level} ${oneLine}${extra}`;
}

export function createLineLogger(options: LineLoggerOptions): LineLogger {
  const threshold = LOG_LEVELS.indexOf(options.level);
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (level: LogLevelName, message: string, fields?: LogFields) =>
    write(
      formatLogLine(options.format, level, message, options.base ? { ...options.base, ...fields } : fields),
    );
  const log = (level: LogLevelName, message: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(level) >= threshold) emit(level, message, fields);
  };
  return {
    format: options.format,
    log,
    trace: (m, f) => log('TRACE', m, f),
    debug: (m, f) => log('DEBUG', m, f),
    info: (m, f) => log('INFO', m, f),
    warn: (m, f) => log('WARN', m, f),
    error: (m, f) => log('ERROR', m, f),
    announce: (m, f) => emit('INFO', m, f),
  };
}
