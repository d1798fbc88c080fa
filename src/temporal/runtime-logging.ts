// The Temporal SDK logs through its Runtime; one place sets how much of it a process shows.
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { ConfigError } from '../config/env-reader';

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

export function installRuntimeLogging(level: string | undefined, fallback: LogLevel): void {
  const chosen = (level ?? fallback).toUpperCase() as LogLevel;
  if (!LEVELS.includes(chosen))
    throw new ConfigError('LOG_LEVEL', `must be one of ${LEVELS.join(', ')} (got "${level}")`);
  Runtime.install({ logger: new DefaultLogger(chosen) });
}
