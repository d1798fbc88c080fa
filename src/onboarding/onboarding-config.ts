// Per-deployment tuning that travels inside each workflow's input: the retry schedules of the
// three steps and how long a number may wait for an operator. Read once at start-up by whoever
// starts workflows, so a typo fails there with the variable's name, not inside a running workflow.
import type { Duration } from '@temporalio/common';
import { durationToMs } from '../config/duration-text';
import { ConfigError, EnvReader, type Env } from '../config/env-reader';
import {
  DEFAULT_MANUAL_RESET_DEADLINE,
  type RegisterNumberInput,
  type RetrySchedule,
  type RetrySchedules,
} from '../workflows/messages';

export type OnboardingOptions = Pick<RegisterNumberInput, 'retrySchedules' | 'manualResetDeadline'>;

const SCHEDULE_NAMES = ['generatePin', 'vault', 'graph', 'register'] as const;
const DURATION_FIELDS = ['initialInterval', 'maximumInterval', 'giveUpAfter'] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkSchedule(name: string, value: unknown): RetrySchedule {
  if (!isPlainObject(value)) throw new Error(`"${name}" must be an object`);
  const known = new Set<string>([...DURATION_FIELDS, 'backoffCoefficient', 'maximumAttempts']);
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw new Error(`"${name}.${key}" is not a retry setting (expected one of ${[...known].join(', ')})`);
    }
  }
  const schedule: RetrySchedule = {};
  for (const field of DURATION_FIELDS) {
    const raw = value[field];
    if (raw === undefined) continue;
    if (typeof raw !== 'string' || durationToMs(raw) === undefined) {
      throw new Error(`"${name}.${field}" must be a positive duration like "30s", "5m" or "1d"`);
    }
    // Checked above to be a form Temporal's duration parser reads.
    schedule[field] = raw.trim() as Duration;
  }
  const coefficient = value.backoffCoefficient;
  if (coefficient !== undefined) {
    // Temporal refuses a coefficient below 1 (it would shrink the interval).
    if (typeof coefficient !== 'number' || !Number.isFinite(coefficient) || coefficient < 1) {
      throw new Error(`"${name}.backoffCoefficient" must be a number >= 1`);
    }
    schedule.backoffCoefficient = coefficient;
  }
  const attempts = value.maximumAttempts;
  if (attempts !== undefined) {
    if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts <= 0) {
      throw new Error(`"${name}.maximumAttempts" must be a positive integer`);
    }
    schedule.maximumAttempts = attempts;
  }
  const initial = typeof value.initialInterval === 'string' ? durationToMs(value.initialInterval) : undefined;
  const maximum = typeof value.maximumInterval === 'string' ? durationToMs(value.maximumInterval) : undefined;
  if (initial && maximum && maximum < initial) {
    throw new Error(`"${name}.maximumInterval" is shorter than its initialInterval`);
  }
  return schedule;
}

export function parseRetrySchedules(value: unknown): RetrySchedules {
  if (!isPlainObject(value)) {
    throw new Error(`must be a JSON object with any of ${SCHEDULE_NAMES.join(', ')}`);
  }
  const schedules: RetrySchedules = {};
  for (const [name, schedule] of Object.entries(value)) {
    if (!(SCHEDULE_NAMES as readonly string[]).includes(name)) {
      throw new Error(`"${name}" is not a step (expected one of ${SCHEDULE_NAMES.join(', ')})`);
    }
    schedules[name as (typeof SCHEDULE_NAMES)[number]] = checkSchedule(name, schedule);
  }
  return schedules;
}

/**
 * ONBOARDING_RETRY_SCHEDULES (JSON, e.g. {"graph":{"initialInterval":"30s","maximumAttempts":8}})
 * and MANUAL_RESET_DEADLINE (default 14d): the fields to merge into every RegisterNumberInput.
 * Throws ConfigError naming the variable.
 */
export function loadOnboardingOptions(env: Env): OnboardingOptions {
  const reader = new EnvReader(env);
  const retrySchedules = reader.json('ONBOARDING_RETRY_SCHEDULES', parseRetrySchedules);
  const deadline = reader.optional('MANUAL_RESET_DEADLINE') ?? DEFAULT_MANUAL_RESET_DEADLINE;
  if (durationToMs(deadline) === undefined) {
    throw new ConfigError(
      'MANUAL_RESET_DEADLINE',
      `must be a positive duration like "14d" or "36h" (got "${deadline}")`,
    );
  }
  const manualResetDeadline = deadline as Duration;
  return retrySchedules === undefined ? { manualResetDeadline } : { retrySchedules, manualResetDeadline };
}
