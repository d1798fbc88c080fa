// The one shared vocabulary of the product: the workflow, the worker, the starter, the
// trigger, the operator CLI and the tests all import their names and types from here.
import { defineSearchAttributeKey, type Duration } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ActivityName } from '../activities';
import type { RegistrationBudget } from '../registration/registration-budget';
import type { FailureType } from './failure-types';
import type { RunbookId } from './runbooks';

export type { RegistrationBudget } from '../registration/registration-budget';

export const WORKFLOW_TYPE = 'registerNumber';
export const ONBOARDING_TASK_QUEUE = 'whatsapp-onboarding';
export const GRAPH_TASK_QUEUE = 'whatsapp-graph';

export function workflowIdFor(phoneNumberId: string): string {
  return `register-number-${phoneNumberId}`;
}

/** A two-step PIN: exactly six digits, always a string (a number would lose leading zeros). */
export const PIN_PATTERN = /^[0-9]{6}$/;

/** How long a parked number waits for an operator unless MANUAL_RESET_DEADLINE says otherwise. */
export const DEFAULT_MANUAL_RESET_DEADLINE = '14d';

/** Meta's phone-number ids are numeric strings (15-17 digits today); accept 1-32 digits. */
export const PHONE_NUMBER_ID_PATTERN = /^[0-9]{1,32}$/;

export type OnboardingStage =
  | 'GeneratingPin'
  | 'StoringPin'
  | 'SettingPin'
  | 'Registering'
  | 'AwaitingManualReset'
  | 'Completed'
  | 'CompletedManually'
  | 'Abandoned';

export const onboardingStatusKey = defineSearchAttributeKey('OnboardingStatus', 'KEYWORD');

/** A retry schedule as configuration can express it (durations in Temporal's string form). */
export interface RetrySchedule {
  initialInterval?: Duration;
  backoffCoefficient?: number;
  maximumInterval?: Duration;
  maximumAttempts?: number;
  /** Total time the step may keep retrying (the activity's scheduleToCloseTimeout). */
  giveUpAfter?: Duration;
}

export interface RetrySchedules {
  generatePin?: RetrySchedule;
  vault?: RetrySchedule;
  graph?: RetrySchedule;
  /** registerPhoneNumber: each attempt spends one of Meta's 10 register calls per 72 h. */
  register?: RetrySchedule;
}

/**
 * Whether the number is registered on Cloud API (POST /{id}/register with the stored PIN) after its
 * two-step PIN is set: `always`; `never`; `auto` reads the number (GET /{id}) and registers only
 * when it is not on Cloud API. With `always` or `auto`, Meta's "not registered" answer to the
 * two-step call leads to registration instead of a park.
 */
export type RegisterChoice = 'always' | 'never' | 'auto';
export const REGISTER_CHOICES: readonly RegisterChoice[] = ['always', 'never', 'auto'];
/** What a number gets when its input names no choice. */
export const DEFAULT_REGISTER_CHOICE: RegisterChoice = 'auto';

/** How registration ended for this run. */
export type RegistrationOutcome =
  | 'registered'
  | 'alreadyRegistered'
  | 'notRequested'
  /** On the On-Premises API: Meta's migration comes first, which the product does not do. */
  | 'onPremises';

export interface RegistrationStatus {
  choice: RegisterChoice;
  outcome?: RegistrationOutcome;
  /** Meta's registration budget for the number, as last read from the vault's ledger. */
  budget?: RegistrationBudget;
  /** While the workflow waits for the budget's window to reopen (a durable timer), until when. */
  waitingUntil?: string;
  /** What GET /{id} said (auto): platform_type, code_verification_status, status. */
  platformType?: string;
  verification?: string;
}

export interface RegisterNumberInput {
  phoneNumberId: string;
  wabaId?: string;
  displayPhoneNumber?: string;
  tenant?: string;
  /** Overrides of the default retry schedules, filled from the starter's configuration. */
  retrySchedules?: RetrySchedules;
  /** How long to wait for an operator before giving up, e.g. "14d". */
  manualResetDeadline?: Duration;
  /** Register the number on Cloud API after setting its PIN; DEFAULT_REGISTER_CHOICE when absent. */
  register?: RegisterChoice;
  /** A run started because Meta reported a hand change to a closed number (docs/pin-drift.md). */
  securityEvent?: SecurityEventInput;
}

export type OnboardingOutcome = 'Completed' | 'CompletedManually' | 'Abandoned';

export interface VaultLocation {
  /** Logical KV path, e.g. "secret/whatsapp/two-step-pins/1234" (data lives under secret/data/...). */
  path: string;
  version: number;
}

export interface StepFailure {
  /** The activity that failed. */
  step: ActivityName;
  /** Stable failure type, e.g. GraphAuthError, GraphThrottled, VaultSealed (src/workflows/failure-types.ts). */
  type: FailureType;
  message: string;
  graphCode?: number;
  graphSubcode?: number;
  fbtraceId?: string;
  httpStatus?: number;
  attempts?: number;
  /** The vault path of the tenant's Graph token to fill or rotate (TenantTokenMissing, GraphAuthError). */
  tokenPath?: string;
  at: string;
}

export interface OperatorAction {
  kind: 'manualReset' | 'retry';
  operator?: string;
  note?: string;
  at: string;
}

export interface RegisterNumberStatus {
  stage: OnboardingStage;
  phoneNumberId: string;
  tenant?: string;
  /** Attempts of the current (or last) step. */
  attempts: number;
  lastError?: StepFailure;
  vault?: VaultLocation;
  /** What the operator does, present while a human is needed (the runbook's steps). */
  procedure?: string;
  /** Which runbook `procedure` is (src/workflows/runbooks.ts), while a human is needed. */
  runbook?: RunbookId;
  /** Registration on Cloud API; absent in runs started before the product registered numbers. */
  registration?: RegistrationStatus;
  /** When waiting for an operator: when the workflow gives up. */
  deadline?: string;
  history: OperatorAction[];
  /** The last operator payload that was refused, and why. */
  lastRefusal?: { at: string; signal: string; reason: string };
  /** What Meta's security webhook reported for this number during this run (docs/pin-drift.md). */
  securityEvents?: SecurityEventEvidence[];
}

export interface RegisterNumberResult {
  outcome: OnboardingOutcome;
  phoneNumberId: string;
  vault?: VaultLocation;
  completedAt: string;
  operator?: string;
  reason?: string;
  registration?: RegistrationOutcome;
  /** A run started for a security event: which, and what was done. */
  securityEvent?: { event: SecurityEventName; handling: SecurityEventHandling };
}

export interface ManualResetInput {
  operator: string;
  note?: string;
}

export interface RetryInput {
  operator?: string;
  note?: string;
}

export const manualResetSignal = defineSignal<[ManualResetInput]>('manualReset');
export const retrySignal = defineSignal<[RetryInput]>('retry');
export const statusQuery = defineQuery<RegisterNumberStatus>('status');

/** A sealed PIN: AES-256-GCM under a worker-only key; safe to carry through Temporal history. */
export interface SealedPin {
  /** Identifies the sealing key, so keys can rotate. */
  kid: string;
  /** base64url of iv(12) | ciphertext | tag(16). */
  sealed: string;
}

/** Updates beside the signals: the UI and the ops CLI get a validation error back at once. */
export const manualResetUpdate = defineUpdate<RegisterNumberStatus, [ManualResetInput]>('manualResetRequest');
export const retryUpdate = defineUpdate<RegisterNumberStatus, [RetryInput]>('retryRequest');

/** Why an operator's payload was refused; undefined when it is acceptable. */
export function manualResetProblem(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return 'expected a JSON object like {"operator":"jane.doe","note":"PIN changed in WhatsApp Manager"}';
  }
  const { operator, note } = input as Record<string, unknown>;
  if (typeof operator !== 'string' || operator.trim() === '') {
    return '"operator" is required: the name of the person who changed the PIN in WhatsApp Manager';
  }
  if (note !== undefined && typeof note !== 'string') return '"note" must be a string when given';
  return undefined;
}

export function retryProblem(input: unknown): string | undefined {
  if (input === undefined || input === null) return undefined;
  if (typeof input !== 'object' || Array.isArray(input)) {
    return 'expected a JSON object like {"operator":"jane.doe","note":"token rotated"} (or nothing)';
  }
  const { operator, note } = input as Record<string, unknown>;
  if (operator !== undefined && typeof operator !== 'string') return '"operator" must be a string when given';
  if (note !== undefined && typeof note !== 'string') return '"note" must be a string when given';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Meta's `security` webhook (docs/pin-drift.md): a person changed the PIN in WhatsApp Manager, asked
// to turn two-step verification off, or did turn it off.

export const SECURITY_EVENT_NAMES = ['PIN_CHANGED', 'PIN_RESET_REQUEST', 'PIN_REQUEST_SUCCESS'] as const;
export type SecurityEventName = (typeof SECURITY_EVENT_NAMES)[number];

/** What a PIN_CHANGED (or two-step turned off) on a closed number does: PIN_DRIFT_POLICY. */
export type PinDriftPolicy = 'reset' | 'alert' | 'record';
export const PIN_DRIFT_POLICIES: readonly PinDriftPolicy[] = ['reset', 'alert', 'record'];
/** Why `reset`: docs/pin-drift.md, "Why reset is the default". */
export const DEFAULT_PIN_DRIFT_POLICY: PinDriftPolicy = 'reset';

/** One security event, as the trigger hands it to a workflow (signal or new run's input). */
export interface SecurityEventInput {
  event: SecurityEventName;
  /** Same for a redelivery of the event, different for any other event. */
  key: string;
  wabaId: string;
  displayPhoneNumber: string;
  /** When Meta says it happened (ISO), when it said. */
  occurredAt?: string;
  /** The Meta Business Suite user id; Meta documents it for reset requests only. */
  requester?: string;
  /** When the trigger received it (ISO). */
  receivedAt: string;
  /** The trigger's PIN_DRIFT_POLICY at that moment. */
  policy: PinDriftPolicy;
}

/** What the workflow did with a security event. */
export type SecurityEventHandling =
  /** Shown to the operator of a running workflow; the workflow goes on as it was. */
  | 'evidence'
  /** The same event came before: nothing done. */
  | 'duplicate'
  /** Written on the vault record (and counted), nothing else. */
  | 'recorded'
  /** Nothing stored for this number, so nothing to record it on. */
  | 'notRecorded'
  /** Recorded, then a fresh PIN was set through the API. */
  | 'reset'
  /** Recorded, then parked for an operator. */
  | 'alert';

export interface SecurityEventEvidence extends SecurityEventInput {
  handling: SecurityEventHandling;
}

/** A PIN_CHANGED for this number: evidence while it runs or waits; it never completes the workflow. */
export const pinChangedSignal = defineSignal<[SecurityEventInput]>('pinChanged');
/** A PIN_RESET_REQUEST or PIN_REQUEST_SUCCESS for this number: evidence, like pinChanged. */
export const twoStepResetSignal = defineSignal<[SecurityEventInput]>('twoStepReset');

/** Why a security-event payload is refused; undefined when it is acceptable. */
export function securityEventProblem(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return 'expected the trigger\'s security event object {"event":"PIN_CHANGED","key":"...",...}';
  }
  const e = input as Record<string, unknown>;
  if (typeof e.event !== 'string' || !(SECURITY_EVENT_NAMES as readonly string[]).includes(e.event)) {
    return `"event" must be one of ${SECURITY_EVENT_NAMES.join(', ')}`;
  }
  if (typeof e.key !== 'string' || !/^[0-9a-f]{8,64}$/.test(e.key))
    return '"key" must be 8-64 hex characters';
  if (typeof e.policy !== 'string' || !(PIN_DRIFT_POLICIES as readonly string[]).includes(e.policy)) {
    return `"policy" must be one of ${PIN_DRIFT_POLICIES.join(', ')}`;
  }
  for (const field of ['wabaId', 'displayPhoneNumber', 'receivedAt'] as const) {
    if (typeof e[field] !== 'string') return `"${field}" must be a string`;
  }
  for (const field of ['occurredAt', 'requester'] as const) {
    if (e[field] !== undefined && typeof e[field] !== 'string')
      return `"${field}" must be a string when given`;
  }
  return undefined;
}
