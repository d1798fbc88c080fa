// The workflow's own metrics, through the SDK's workflow meter: it emits nothing while a history
// replays, so a number counts once however often its workflow is replayed on another worker, and
// it issues no command, so adding or changing a metric never breaks a running history.
import { metricMeter, workflowInfo } from '@temporalio/workflow';
import { PRODUCT_METRICS } from '../metrics/metric-names';
import type { OnboardingOutcome, StepFailure } from './messages';

export function recordStarted(): void {
  metricMeter.createCounter(PRODUCT_METRICS.started.name, undefined, PRODUCT_METRICS.started.help).add(1);
}

export function recordParked(failure: Pick<StepFailure, 'type' | 'step'> | undefined): void {
  metricMeter
    .createCounter(PRODUCT_METRICS.parked.name, undefined, PRODUCT_METRICS.parked.help)
    .add(1, { failure_type: failure?.type ?? 'Unknown', step: failure?.step ?? 'unknown' });
}

export function recordFinished(outcome: OnboardingOutcome): void {
  metricMeter
    .createCounter(PRODUCT_METRICS.finished.name, undefined, PRODUCT_METRICS.finished.help)
    .add(1, { outcome });
  // Workflow time: the start of the first run to now, both from history, so it is deterministic.
  const seconds = Math.max(0, (Date.now() - workflowInfo().startTime.getTime()) / 1000);
  metricMeter
    .createHistogram(PRODUCT_METRICS.duration.name, 'float', undefined, PRODUCT_METRICS.duration.help)
    .record(seconds, { outcome });
}
