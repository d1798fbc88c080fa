// What the trigger does with one `security` event (docs/pin-drift.md): find the number behind the
// display phone number, then its workflow. A running one (working, or parked for an operator) gets
// the event as a signal: evidence, never a verdict. A closed one gets a new run of the same workflow
// id with the event in its input: it records the event on the vault record and applies the policy.
//
// Redeliveries start nothing twice: the run carries the event key in its memo, a second delivery
// finds it on the latest run (or, racing the first, loses the start and finds it then), and the
// workflow itself ignores a key its vault record or its status already holds.
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { startOnboarding } from '../onboarding/start-onboarding';
import type { OnboardingOptions } from '../onboarding/onboarding-config';
import {
  pinChangedSignal,
  twoStepResetSignal,
  workflowIdFor,
  type PinDriftPolicy,
  type RegisterNumberInput,
  type SecurityEventInput,
} from '../workflows/messages';
import type { PhoneNumberResolver } from './phone-number-resolver';
import type { SecurityEvent } from './security-webhook';

/** The memo entry a security-event run carries: how a redelivery recognises it. */
export const SECURITY_EVENT_MEMO_KEY = 'securityEventKey';

export type SecurityEventOutcome =
  | 'signalled'
  | 'started'
  | 'duplicate'
  /** The WABA lists no number with that display number (set aside). */
  | 'unknown-number'
  /** Two numbers of the WABA share the display number (set aside). */
  | 'ambiguous-number'
  /** The number has no workflow: not onboarded by this product (set aside). */
  | 'not-onboarded';

export interface SecurityEventResult {
  event: SecurityEvent['event'];
  key: string;
  wabaId: string;
  phoneNumberId?: string;
  outcome: SecurityEventOutcome;
  workflowId?: string;
  runId?: string;
}

export interface SecurityEventHandlerOptions {
  client: Client;
  resolver: PhoneNumberResolver;
  /** The tenant of a WABA (the vault's WABA index), when known: a drift run is started under it. */
  tenantOfWaba(wabaId: string): Promise<string | undefined>;
  policy: PinDriftPolicy;
  onboardingOptions?: OnboardingOptions;
  taskQueue?: string;
  now?: () => Date;
}

export function createSecurityEventHandler(opts: SecurityEventHandlerOptions) {
  const now = opts.now ?? (() => new Date());
  const { client } = opts;

  /** The input of the latest run, to start the new one like it (tenant, registration choice). */
  async function previousInput(workflowId: string): Promise<Partial<RegisterNumberInput>> {
    try {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      const { payloadCodecs, payloadConverter } = client.options.loadedDataConverter;
      let payloads = (started?.input?.payloads ?? []) as Payload[];
      // Codecs decode in the reverse of the order they encoded in.
      for (const codec of [...payloadCodecs].reverse()) payloads = await codec.decode(payloads);
      const input: unknown = payloads[0] ? payloadConverter.fromPayload(payloads[0]) : undefined;
      return typeof input === 'object' && input !== null ? input : {};
    } catch {
      // Only a nicety (same tenant and choices as before): the event is handled without it.
      return {};
    }
  }

  async function signal(workflowId: string, payload: SecurityEventInput) {
    const handle = client.workflow.getHandle(workflowId);
    if (payload.event === 'PIN_CHANGED') await handle.signal(pinChangedSignal, payload);
    else await handle.signal(twoStepResetSignal, payload);
  }

  return async function handleSecurityEvent(
    event: SecurityEvent,
    signalOpt?: AbortSignal,
  ): Promise<SecurityEventResult> {
    const base = { event: event.event, key: event.key, wabaId: event.wabaId };
    const found = await opts.resolver.resolve({
      wabaId: event.wabaId,
      displayPhoneNumber: event.displayPhoneNumber,
      signal: signalOpt,
    });
    if (!found.found) {
      return { ...base, outcome: found.reason === 'ambiguous' ? 'ambiguous-number' : 'unknown-number' };
    }
    const { phoneNumberId } = found;
    const workflowId = workflowIdFor(phoneNumberId);
    const payload: SecurityEventInput = {
      event: event.event,
      key: event.key,
      wabaId: event.wabaId,
      displayPhoneNumber: event.displayPhoneNumber,
      ...(event.occurredAt !== undefined ? { occurredAt: event.occurredAt } : {}),
      ...(event.requester !== undefined ? { requester: event.requester } : {}),
      receivedAt: now().toISOString(),
      policy: opts.policy,
    };
    const known = { ...base, phoneNumberId, workflowId };

    for (let attempt = 1; ; attempt++) {
      let description;
      try {
        description = await client.workflow.getHandle(workflowId).describe();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { ...known, outcome: 'not-onboarded' };
        throw err;
      }
      if (description.status.name === 'RUNNING') {
        if (description.memo?.[SECURITY_EVENT_MEMO_KEY] === event.key) {
          return { ...known, outcome: 'duplicate', runId: description.runId };
        }
        await signal(workflowId, payload);
        return { ...known, outcome: 'signalled', runId: description.runId };
      }
      if (description.memo?.[SECURITY_EVENT_MEMO_KEY] === event.key) {
        return { ...known, outcome: 'duplicate', runId: description.runId };
      }
      const before = await previousInput(workflowId);
      const tenant = (await opts.tenantOfWaba(event.wabaId)) ?? before.tenant;
      const input: RegisterNumberInput = {
        ...before,
        ...opts.onboardingOptions,
        phoneNumberId,
        wabaId: event.wabaId,
        ...(tenant !== undefined ? { tenant } : {}),
        // The number was registered before (or deliberately not): a lookup, never a register call.
        register: before.register === 'never' ? 'never' : 'auto',
        securityEvent: payload,
      };
      // A closed run is replaced (that is the point); a running one never is.
      const started = await startOnboarding(client, input, {
        reonboard: true,
        taskQueue: opts.taskQueue,
        memo: { [SECURITY_EVENT_MEMO_KEY]: event.key },
        summaryPrefix: `${event.event} reported`,
      });
      if (started.outcome !== 'already-running')
        return { ...known, outcome: 'started', runId: started.runId };
      // Another delivery (or an operator) started a run meanwhile: look again, once.
      if (attempt >= 2) return { ...known, outcome: 'duplicate', runId: started.runId };
    }
  };
}

export type SecurityEventHandler = ReturnType<typeof createSecurityEventHandler>;
