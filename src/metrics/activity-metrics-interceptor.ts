// Graph and vault metrics, counted where every activity attempt ends: after the activity has
// classified what went wrong (src/activities/activity-failure.ts), so the labels are the stable
// failure types the workflow and the runbooks use. No activity code changes for it, and a new
// Graph activity on the paced queue of the activity registry is counted without being listed here.
import type { Context } from '@temporalio/activity';
import { ApplicationFailure, type MetricMeter } from '@temporalio/common';
import type { ActivityInterceptors, ActivityInterceptorsFactory } from '@temporalio/worker';
import { durationToMs } from '../workflows/duration';
import { isFailureType, type FailureType } from '../workflows/failure-types';
import { PRODUCT_METRICS } from './metric-names';

const THROTTLED_TYPE = 'GraphThrottled';

interface FailureDetails {
  httpStatus?: unknown;
}

function httpStatusLabel(failure: ApplicationFailure): string {
  const status = (failure.details?.[0] as FailureDetails | undefined)?.httpStatus;
  return typeof status === 'number' && Number.isInteger(status) ? String(status) : 'none';
}

/** The instruments, created once per worker from the runtime's meter. */
export interface ActivityMetrics {
  /** `graphCall`: the activity is a Graph call (it runs on the paced queue). */
  recordAttempt(graphCall: boolean, activityType: string, outcome: unknown): void;
}

export function createActivityMetrics(meter: MetricMeter): ActivityMetrics {
  const graphRequests = meter.createCounter(
    PRODUCT_METRICS.graphRequests.name,
    undefined,
    PRODUCT_METRICS.graphRequests.help,
  );
  const throttled = meter.createCounter(
    PRODUCT_METRICS.graphThrottled.name,
    undefined,
    PRODUCT_METRICS.graphThrottled.help,
  );
  const announcedWait = meter.createHistogram(
    PRODUCT_METRICS.graphAnnouncedWait.name,
    'float',
    undefined,
    PRODUCT_METRICS.graphAnnouncedWait.help,
  );
  const vaultFailures = meter.createCounter(
    PRODUCT_METRICS.vaultFailures.name,
    undefined,
    PRODUCT_METRICS.vaultFailures.help,
  );

  return {
    recordAttempt(onGraphQueue, activityType, outcome) {
      const activity = { activity_type: activityType };
      if (outcome === undefined) {
        // A Graph activity that returned: Meta answered 2xx with success.
        if (onGraphQueue) graphRequests.add(1, { ...activity, outcome: 'success', status: '2xx' });
        return;
      }
      if (!(outcome instanceof ApplicationFailure)) return;
      // Labels come from the failure vocabulary only, so no thrown string can grow the series.
      const type: FailureType = isFailureType(outcome.type) ? outcome.type : 'UnexpectedError';
      if (type.startsWith('Vault')) {
        vaultFailures.add(1, { ...activity, failure_type: type });
        return;
      }
      if (!type.startsWith('Graph')) return;
      graphRequests.add(1, { ...activity, outcome: type, status: httpStatusLabel(outcome) });
      if (type === THROTTLED_TYPE) {
        const wait = outcome.nextRetryDelay == null ? undefined : durationToMs(outcome.nextRetryDelay);
        throttled.add(1, { ...activity, announced: wait === undefined ? 'false' : 'true' });
        if (wait !== undefined) announcedWait.record(wait / 1000, activity);
      }
    },
  };
}

/** The worker option: `interceptors: { activity: [activityMetricsInterceptor(metrics)] }`. */
export function activityMetricsInterceptor(
  metrics: ActivityMetrics,
  opts: { graphCalls: boolean },
): ActivityInterceptorsFactory {
  return (ctx: Context): ActivityInterceptors => ({
    inbound: {
      async execute(input, next) {
        const { activityType } = ctx.info;
        try {
          const result = await next(input);
          metrics.recordAttempt(opts.graphCalls, activityType, undefined);
          return result;
        } catch (err) {
          metrics.recordAttempt(opts.graphCalls, activityType, err);
          throw err;
        }
      },
    },
  });
}
