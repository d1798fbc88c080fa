// Meta's security events inside registerNumber (docs/pin-drift.md). While a run works or waits for
// an operator, an event is evidence only: it is shown, never acted on, because it cannot prove which
// PIN a person chose. A run started for an event on a closed number records it on the vault record,
// then PIN_DRIFT_POLICY (carried in the event) decides: set a fresh PIN, park, or only record.
// Workflow code: deterministic, no I/O.
import { log, setHandler } from '@temporalio/workflow';
import type { RecordSecurityEventResult } from '../activities';
import {
  pinChangedSignal,
  securityEventProblem,
  twoStepResetSignal,
  type RegisterNumberStatus,
  type SecurityEventEvidence,
  type SecurityEventHandling,
  type SecurityEventInput,
  type StepFailure,
  type VaultLocation,
} from './messages';
import { recordSecurityEventHandled } from './security-event-metrics';
import { HANDLER_DESCRIPTIONS } from './ui-descriptions';

/**
 * Runs that recorded this marker act on a security event in their input and pass each Graph call
 * its tenant; the committed histories, which lack it, replay as they always did.
 */
export const SECURITY_EVENTS_PATCH = 'security-events-and-tenant-tokens';

/** Registers the pinChanged and twoStepReset handlers; `shown` refreshes the current details. */
export function listenForSecurityEvents(status: RegisterNumberStatus, shown: () => void): void {
  const receive = (signal: string) => (payload: SecurityEventInput) => {
    const problem = securityEventProblem(payload);
    if (problem) {
      log.warn('security event refused', { signal, problem });
      return;
    }
    const events = (status.securityEvents ??= []);
    // Meta delivers at least once; the trigger may hand the same event over twice.
    if (events.some((e) => e.key === payload.key)) return;
    const evidence: SecurityEventEvidence = { ...payload, handling: 'evidence' };
    events.push(evidence);
    recordSecurityEventHandled(evidence);
    log.warn('Meta reported a security event for this number', {
      event: payload.event,
      stage: status.stage,
    });
    shown();
  };
  setHandler(pinChangedSignal, receive('pinChanged'), { description: HANDLER_DESCRIPTIONS.pinChanged });
  setHandler(twoStepResetSignal, receive('twoStepReset'), { description: HANDLER_DESCRIPTIONS.twoStepReset });
}

export type SecurityEventDecision =
  /** Nothing more to do: the run completes (recorded, a duplicate, or a request only). */
  | { kind: 'finish'; handling: SecurityEventHandling }
  /** Set a fresh PIN through the API, stored first: the usual steps. */
  | { kind: 'reset' }
  /** Park for an operator with this failure; `vault` is the version Meta held before the change. */
  | { kind: 'park'; failure: StepFailure; vault?: VaultLocation };

function changeWords(e: SecurityEventInput): string {
  const when = e.occurredAt ?? `an unknown time (reported ${e.receivedAt})`;
  const who = e.requester ? `Meta Business Suite user ${e.requester}` : 'a user Meta did not name';
  return e.event === 'PIN_REQUEST_SUCCESS'
    ? `two-step verification was turned off in WhatsApp Manager at ${when} by ${who}: Meta holds no PIN for this number now`
    : `the two-step PIN was changed in WhatsApp Manager at ${when} by ${who}: Meta holds a PIN the vault does not have`;
}

/** What a run started for `event` does, once the event is on the vault record (or could not be). */
export function decideSecurityEvent(
  event: SecurityEventInput,
  recorded: RecordSecurityEventResult,
  at: string,
): SecurityEventDecision {
  if (recorded.recorded && recorded.duplicate) return { kind: 'finish', handling: 'duplicate' };
  const kept: SecurityEventHandling = recorded.recorded ? 'recorded' : 'notRecorded';
  // A request only announces a change: the PIN stands until the emailed link is followed.
  if (event.event === 'PIN_RESET_REQUEST' || event.policy === 'record')
    return { kind: 'finish', handling: kept };
  if (event.policy === 'reset') return { kind: 'reset' };
  const active = recorded.recorded ? recorded.active : undefined;
  const before = active
    ? ` (the vault's active version ${active.version} at ${active.path} was what Meta held)`
    : '';
  return {
    kind: 'park',
    failure: {
      step: 'recordSecurityEvent',
      type: 'PinDrift',
      message: `${changeWords(event)}${before}. PIN_DRIFT_POLICY=alert: a person decides.`,
      at,
    },
    ...(active ? { vault: active } : {}),
  };
}

/** The run's own event in its status, with what was done about it. */
export function noteSecurityEvent(
  status: RegisterNumberStatus,
  event: SecurityEventInput,
  handling: SecurityEventHandling,
): void {
  const evidence: SecurityEventEvidence = { ...event, handling };
  const events = (status.securityEvents ??= []);
  const known = events.findIndex((e) => e.key === event.key);
  if (known >= 0) events[known] = evidence;
  else events.push(evidence);
  recordSecurityEventHandled(evidence);
}
