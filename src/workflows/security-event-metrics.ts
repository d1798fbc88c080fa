// Meta's security events, counted by what the product did with them: through the SDK's workflow
// meter, which emits nothing while a history replays and issues no command.
import { metricMeter } from '@temporalio/workflow';
import type { SecurityEventEvidence } from './messages';

export const SECURITY_EVENTS_METRIC = {
  name: 'whatsapp_security_events',
  help: "Meta security webhook events (PIN_CHANGED, PIN_RESET_REQUEST, PIN_REQUEST_SUCCESS) by the product's handling and drift policy",
} as const;

export function recordSecurityEventHandled(
  e: Pick<SecurityEventEvidence, 'event' | 'handling' | 'policy'>,
): void {
  metricMeter
    .createCounter(SECURITY_EVENTS_METRIC.name, undefined, SECURITY_EVENTS_METRIC.help)
    .add(1, { event: e.event, handling: e.handling, policy: e.policy });
}
