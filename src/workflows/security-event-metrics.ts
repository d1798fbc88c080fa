// Meta's security events, counted by what the product did with them: through the SDK's workflow
// meter, which emits nothing while a history replays and issues no command.
import { metricMeter } from '@temporalio/workflow';
import { PRODUCT_METRICS } from '../metrics/metric-names';
import type { SecurityEventEvidence } from './messages';

export function recordSecurityEventHandled(
  e: Pick<SecurityEventEvidence, 'event' | 'handling' | 'policy'>,
): void {
  const { name, help } = PRODUCT_METRICS.securityEvents;
  metricMeter
    .createCounter(name, undefined, help)
    .add(1, { event: e.event, handling: e.handling, policy: e.policy });
}
