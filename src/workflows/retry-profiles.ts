// One options object per retry profile. Each step waits on its own schedule because each
// fails for its own reasons; configuration may override any of them (ONBOARDING_RETRY_SCHEDULES).
import type { ActivityOptions, RetryPolicy } from '@temporalio/workflow';
import type { FailureType } from './failure-types';
import { GRAPH_TASK_QUEUE, type RetrySchedule, type RetrySchedules } from './messages';

/** Activity options whose non-retryable list names only types of the failure vocabulary. */
export interface ProfileOptions extends ActivityOptions {
  retry: RetryPolicy & { nonRetryableErrorTypes?: FailureType[] };
}

/** Types that no amount of waiting fixes; the activity already marks them non-retryable. */
const NEVER_RETRY: FailureType[] = ['ConfigError', 'PinSealError'];

// generatePin is local CPU work: if it fails a few times within seconds, something is broken
// on the worker (a bad sealing key) and a human is quicker than more retries.
export const generatePinOptions: ProfileOptions = {
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '1m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: NEVER_RETRY,
  },
};

// The vault is ours: a seal, a failover or a rolling restart is fixed by people within
// minutes, so retry from seconds up to five-minute gaps for half an hour before asking one.
export const vaultOptions: ProfileOptions = {
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '30m',
  retry: {
    initialInterval: '5s',
    backoffCoefficient: 2,
    maximumInterval: '5m',
    nonRetryableErrorTypes: NEVER_RETRY,
  },
};

// Meta throttles per app and per WABA for minutes to an hour, and says how long through
// nextRetryDelay when it can; otherwise back off up to 30 minutes, for up to a day. The
// start-to-close timeout sits above the HTTP client's own timeouts so undici times out first.
export const graphOptions: ProfileOptions & { taskQueue: typeof GRAPH_TASK_QUEUE } = {
  taskQueue: GRAPH_TASK_QUEUE,
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '1d',
  retry: {
    initialInterval: '30s',
    backoffCoefficient: 2,
    maximumInterval: '30m',
    nonRetryableErrorTypes: NEVER_RETRY,
  },
};

// Every registerPhoneNumber attempt is one of the 10 register/deregister calls Meta allows a number
// in 72 hours, so attempts are few and far apart: 1 minute doubling to 30, at most 5. Meta's own
// waits (133015's 5 minutes, 133008's hours) replace the backoff through nextRetryDelay, and a day
// covers the longest of them. A spent budget or a refused PIN is never retried: the workflow waits
// for the window itself, or parks, and no second PIN is ever tried.
export const registerOptions: ProfileOptions & { taskQueue: typeof GRAPH_TASK_QUEUE } = {
  taskQueue: GRAPH_TASK_QUEUE,
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '1d',
  retry: {
    initialInterval: '1m',
    backoffCoefficient: 2,
    maximumInterval: '30m',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [
      ...NEVER_RETRY,
      'RegisterBudgetSpent',
      'GraphRegisterLimit',
      'GraphPinMismatch',
      'GraphRegisterPinRejected',
    ],
  },
};

export function withSchedule<P extends ProfileOptions>(profile: P, schedule: RetrySchedule | undefined): P {
  if (!schedule) return profile;
  return {
    ...profile,
    scheduleToCloseTimeout: schedule.giveUpAfter ?? profile.scheduleToCloseTimeout,
    retry: {
      ...profile.retry,
      ...(schedule.initialInterval !== undefined && { initialInterval: schedule.initialInterval }),
      ...(schedule.backoffCoefficient !== undefined && { backoffCoefficient: schedule.backoffCoefficient }),
      ...(schedule.maximumInterval !== undefined && { maximumInterval: schedule.maximumInterval }),
      ...(schedule.maximumAttempts !== undefined && { maximumAttempts: schedule.maximumAttempts }),
    },
  };
}

export function activityProfiles(overrides: RetrySchedules | undefined) {
  return {
    generatePin: withSchedule(generatePinOptions, overrides?.generatePin),
    vault: withSchedule(vaultOptions, overrides?.vault),
    graph: withSchedule(graphOptions, overrides?.graph),
    register: withSchedule(registerOptions, overrides?.register),
  };
}
