// How a process writes its log lines: LOG_FORMAT=json|text, json by default when stdout is not a
// terminal (a container, a pipe, a log shipper), text for a person at a terminal.
import { ConfigError, EnvReader, type Env } from '../config/env-reader';

export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export function loadLogFormat(env: Env, stdoutIsTerminal: boolean): LogFormat {
  const raw = new EnvReader(env).optional('LOG_FORMAT');
  if (raw === undefined) return stdoutIsTerminal ? 'text' : 'json';
  const value = raw.toLowerCase();
  if (!(LOG_FORMATS as readonly string[]).includes(value)) {
    throw new ConfigError('LOG_FORMAT', `must be json or text (got "${raw}")`);
  }
  return value as LogFormat;
}

export function loadLogLevel(env: Env, fallback: LogLevelName): LogLevelName {
  const raw = new EnvReader(env).optional('LOG_LEVEL');
  if (raw === undefined) return fallback;
  const value = raw.toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')} (got "${raw}")`);
  }
  return value as LogLevelName;
}
