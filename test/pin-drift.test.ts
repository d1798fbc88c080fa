// PIN drift end to end on the real dev server, OpenBao and the Graph sandbox: a person changes a
// number's PIN (or turns two-step off) "in WhatsApp Manager" through the sandbox's control API, the
// sandbox sends Meta's signed security webhook to the real trigger, and the number's workflow does
// what PIN_DRIFT_POLICY says. Redeliveries start nothing twice; a bad signature changes nothing; a
// parked number shows the event as evidence without completing.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphClient } from '../src/graph/graph-client';
import { createTriggerServer, type TriggerServer } from '../src/trigger/trigger-server';
import { webhookSignature } from '../src/trigger/webhook-signature';
import { SECURITY_EVENT_METADATA } from '../src/vault/security-event-record';
import {
  ONBOARDING_TASK_QUEUE,
  WORKFLOW_TYPE,
  retrySignal,
  statusQuery,
  workflowIdFor,
  type PinDriftPolicy,
  type RegisterNumberResult,
} from '../src/workflows/messages';
import {
  phoneNumberIds,
  startOnboardingHarness,
  TEST_GRAPH_TOKEN,
  type OnboardingHarness,
} from './support/onboarding-harness';
import { waitForStage } from './support/workflow-polling';

const WABA = '102290129377001';
const appSecret = `app-secret-${randomBytes(8).toString('hex')}`;
const secrets = { sharedSecret: `shared-${randomBytes(16).toString('hex')}`, appSecret, verifyToken: 'v' };
const ids = phoneNumberIds(6);
const [resetNumber, alertNumber, parkedNumber, recordNumber] = ids as [string, string, string, string];
const display = (id: string) => `+1 555-01${id.slice(-2)}-${id.slice(-4)}`;

let h: OnboardingHarness;
const triggers = new Map<PinDriftPolicy, { server: TriggerServer; url: string }>();

beforeAll(async () => {
  h = await startOnboardingHarness({
    namespace: 'drift',
    sandbox: { appSecret, wabas: { [WABA]: ids.map((id) => ({ id, display_phone_number: display(id) })) } },
  });
  await h.startWorkers();
  const graph = createGraphClient({
    baseUrl: h.sandbox.url,
    apiVersion: 'v25.0',
    accessToken: TEST_GRAPH_TOKEN,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
  });
  for (const policy of ['reset', 'alert', 'record'] as const) {
    const server = createTriggerServer({ client: h.client, graph, secrets, driftPolicy: policy });
    const port = await server.listen(0);
    triggers.set(policy, { server, url: `http://127.0.0.1:${port}/webhooks/whatsapp` });
  }
});

afterAll(async () => {
  await Promise.allSettled([...triggers.values()].map((t) => t.server.close()));
  await h?.close();
});

function triggerUrl(policy: PinDriftPolicy): string {
  const found = triggers.get(policy);
  if (!found) throw new Error(`no trigger for ${policy}`);
  return found.url;
}

async function onboard(phoneNumberId: string): Promise<RegisterNumberResult> {
  return h.client.workflow.execute(WORKFLOW_TYPE, {
    taskQueue: ONBOARDING_TASK_QUEUE,
    workflowId: workflowIdFor(phoneNumberId),
    args: [
      {
        phoneNumberId,
        wabaId: WABA,
        displayPhoneNumber: display(phoneNumberId),
        tenant: 'acme',
        // Not the default: a drift run can only have it from the first run's input.
        manualResetDeadline: '13d',
      },
    ],
  }) as Promise<RegisterNumberResult>;
}

interface SecurityAnswer {
  security?: Array<{ outcome: string; runId?: string; phoneNumberId?: string; event: string }>;
}

let lastActionSecond = 0;

/**
 * A person acts in WhatsApp Manager; the sandbox delivers the signed webhook to `policy`'s trigger.
 * Meta's events carry whole seconds and no id: two actions on one number in the same second would
 * be one event, so each action here waits for a second of its own.
 */
async function byHand(
  phoneNumberId: string,
  action: 'change-pin' | 'request-two-step-off' | 'confirm-two-step-off',
  policy: PinDriftPolicy,
  input: { pin?: string; requester?: string } = {},
) {
  while (Math.floor(Date.now() / 1000) <= lastActionSecond) await sleep(50);
  lastActionSecond = Math.floor(Date.now() / 1000);
  h.sandbox.setWebhookUrl(triggerUrl(policy));
  const done = await h.sandbox.byHand(phoneNumberId, action, input);
  expect(done.delivery?.status).toBe(200);
  const answer = JSON.parse(done.delivery?.answer ?? '{}') as SecurityAnswer;
  return { done, answer, first: answer.security?.[0] };
}

async function postWebhook(policy: PinDriftPolicy, body: string, signature: string) {
  const res = await request(triggerUrl(policy), {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
  });
  return { status: res.statusCode, json: (await res.body.json()) as SecurityAnswer & { error?: string } };
}

async function runCount(phoneNumberId: string): Promise<number> {
  let count = 0;
  for await (const _ of h.client.workflow.list({ query: `WorkflowId = "${workflowIdFor(phoneNumberId)}"` }))
    count++;
  return count;
}

async function currentDetails(phoneNumberId: string): Promise<string> {
  const meta = await h.client.workflow
    .getHandle(workflowIdFor(phoneNumberId))
    .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return meta.currentDetails ?? '';
}

async function vaultCustom(phoneNumberId: string): Promise<Record<string, string>> {
  return (await h.vault.kvReadMetadata('secret', `${h.vaultPrefix}/${phoneNumberId}`))?.customMetadata ?? {};
}

describe('a PIN changed by hand on a completed number', () => {
  it('reset: a new run sets a fresh PIN through the API, stored first; the vault equals Meta again', async () => {
    const first = await onboard(resetNumber);
    expect(first.outcome).toBe('Completed');
    const before = await h.pinStore.readActivePin(resetNumber);

    const { first: handed, done } = await byHand(resetNumber, 'change-pin', 'reset', { pin: '424242' });
    expect(done.event).toBe('PIN_CHANGED');
    expect(handed).toMatchObject({ event: 'PIN_CHANGED', outcome: 'started', phoneNumberId: resetNumber });
    const driftRun = h.client.workflow.getHandle(workflowIdFor(resetNumber), handed?.runId);
    const result = (await driftRun.result()) as RegisterNumberResult;
    expect(result).toMatchObject({
      outcome: 'Completed',
      securityEvent: { event: 'PIN_CHANGED', handling: 'reset' },
    });
    // Started like the first run (its input decoded through the codec), the event added.
    const details = (await (await driftRun.describe()).staticDetails()) ?? '';
    expect(details).toContain('- tenant: acme');
    expect(details).toContain('- manual-reset deadline: 13d');

    const after = await h.pinStore.readActivePin(resetNumber);
    expect(after?.version).toBe((before?.version ?? 0) + 1);
    expect(after?.pin).toBe(h.sandbox.pinOf(resetNumber));
    expect(after?.pin).not.toBe('424242');
    const custom = await vaultCustom(resetNumber);
    expect(custom[SECURITY_EVENT_METADATA.event]).toBe('PIN_CHANGED');
    expect(custom[SECURITY_EVENT_METADATA.count]).toBe('1');
    expect(custom.active_version).toBe(String(after?.version));
  });

  it('a duplicate delivery starts nothing twice, and a bad signature changes nothing', async () => {
    const { done, first } = await byHand(resetNumber, 'change-pin', 'reset', { pin: '515151' });
    expect(first?.outcome).toBe('started');
    await h.client.workflow.getHandle(workflowIdFor(resetNumber), first?.runId).result();
    const settled = {
      runId: (await h.client.workflow.getHandle(workflowIdFor(resetNumber)).describe()).runId,
      pinSets: h.sandbox.numberState(resetNumber).pinSets,
      custom: await vaultCustom(resetNumber),
    };
    expect(settled.runId).toBe(first?.runId);

    const again = await postWebhook('reset', done.body, done.delivery?.signature ?? '');
    expect(again.status).toBe(200);
    expect(again.json.security?.[0]).toMatchObject({ outcome: 'duplicate', runId: first?.runId });

    const forged = await postWebhook(
      'reset',
      done.body.replace('PIN_CHANGED', 'PIN_REQUEST_SUCCESS'),
      done.delivery?.signature ?? '',
    );
    expect(forged.status).toBe(401);
    const unsigned = await postWebhook('reset', done.body, webhookSignature(done.body, 'not-the-app-secret'));
    expect(unsigned.status).toBe(401);

    await sleep(1_000);
    expect((await h.client.workflow.getHandle(workflowIdFor(resetNumber)).describe()).runId).toBe(
      settled.runId,
    );
    expect(h.sandbox.numberState(resetNumber).pinSets).toBe(settled.pinSets);
    expect(await vaultCustom(resetNumber)).toEqual(settled.custom);
    // The first onboarding and one run per distinct event: 3.
    expect(await runCount(resetNumber)).toBe(3);
  });

  it('reset: two-step turned off by hand gets a PIN again once Meta reports the reset done', async () => {
    const requested = await byHand(resetNumber, 'request-two-step-off', 'reset', {
      requester: '61555822107539',
    });
    expect(requested.first?.outcome).toBe('started');
    const recorded = (await h.client.workflow
      .getHandle(workflowIdFor(resetNumber), requested.first?.runId)
      .result()) as RegisterNumberResult;
    expect(recorded.securityEvent).toEqual({ event: 'PIN_RESET_REQUEST', handling: 'recorded' });
    expect((await vaultCustom(resetNumber))[SECURITY_EVENT_METADATA.requester]).toBe('61555822107539');
    const active = await h.pinStore.readActivePin(resetNumber);
    expect(h.sandbox.pinOf(resetNumber)).toBe(active?.pin);

    const off = await byHand(resetNumber, 'confirm-two-step-off', 'reset');
    expect(off.done.number.pin).toBeNull();
    const reset = (await h.client.workflow
      .getHandle(workflowIdFor(resetNumber), off.first?.runId)
      .result()) as RegisterNumberResult;
    expect(reset.securityEvent).toEqual({ event: 'PIN_REQUEST_SUCCESS', handling: 'reset' });
    const now = await h.pinStore.readActivePin(resetNumber);
    expect(now?.version).toBe((active?.version ?? 0) + 1);
    expect(h.sandbox.pinOf(resetNumber)).toBe(now?.pin);
  });

  it('alert: the new run waits in AwaitingManualReset with the drift as its reason; retry sets a fresh PIN', async () => {
    await onboard(alertNumber);
    const before = await h.pinStore.readActivePin(alertNumber);
    const { first } = await byHand(alertNumber, 'change-pin', 'alert', { pin: '636363' });
    expect(first?.outcome).toBe('started');
    const status = await waitForStage(h.client, alertNumber, 'AwaitingManualReset');
    expect(status.lastError).toMatchObject({ step: 'recordSecurityEvent', type: 'PinDrift' });
    expect(status.lastError?.message).toContain('the two-step PIN was changed in WhatsApp Manager');
    expect(status.lastError?.message).toContain(`active version ${before?.version}`);
    expect(status.vault).toEqual({ path: h.pinStore.logicalPath(alertNumber), version: before?.version });
    expect(status.securityEvents).toEqual([
      expect.objectContaining({ event: 'PIN_CHANGED', handling: 'alert' }),
    ]);
    const details = await currentDetails(alertNumber);
    expect(details).toContain('someone changed the PIN (or turned two-step off) in WhatsApp Manager');
    expect(details).toContain('PinDrift');
    expect(h.sandbox.pinOf(alertNumber)).toBe('636363');

    await h.client.workflow.getHandle(workflowIdFor(alertNumber)).signal(retrySignal, { operator: 'test' });
    const done = (await h.client.workflow
      .getHandle(workflowIdFor(alertNumber), first?.runId)
      .result()) as RegisterNumberResult;
    expect(done).toMatchObject({
      outcome: 'Completed',
      securityEvent: { event: 'PIN_CHANGED', handling: 'alert' },
    });
    const after = await h.pinStore.readActivePin(alertNumber);
    expect(after?.version).toBe((before?.version ?? 0) + 1);
    expect(h.sandbox.pinOf(alertNumber)).toBe(after?.pin);
  });

  it('record: only recorded on the vault record; the vault keeps its version', async () => {
    await onboard(recordNumber);
    const before = await h.pinStore.readActivePin(recordNumber);
    const { first } = await byHand(recordNumber, 'change-pin', 'record');
    const result = (await h.client.workflow
      .getHandle(workflowIdFor(recordNumber), first?.runId)
      .result()) as RegisterNumberResult;
    expect(result.securityEvent).toEqual({ event: 'PIN_CHANGED', handling: 'recorded' });
    expect(await h.pinStore.readActivePin(recordNumber)).toEqual(before);
    expect(h.sandbox.pinOf(recordNumber)).not.toBe(before?.pin);
    expect((await vaultCustom(recordNumber))[SECURITY_EVENT_METADATA.event]).toBe('PIN_CHANGED');
  });
});

describe('a PIN changed by hand while the number waits for an operator', () => {
  it('is shown as evidence in the status and the current details, and completes nothing', async () => {
    h.sandbox.setScenario(parkedNumber, { kind: 'invalidParameter', code: 100 });
    await h.client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: ONBOARDING_TASK_QUEUE,
      workflowId: workflowIdFor(parkedNumber),
      args: [{ phoneNumberId: parkedNumber, wabaId: WABA, tenant: 'acme' }],
    });
    const parked = await waitForStage(h.client, parkedNumber, 'AwaitingManualReset');
    expect(parked.lastError?.type).toBe('GraphInvalidParameter');

    const { first, done } = await byHand(parkedNumber, 'change-pin', 'reset', {
      requester: '61555822100001',
    });
    expect(first?.outcome).toBe('signalled');
    const again = await postWebhook('reset', done.body, done.delivery?.signature ?? '');
    expect(again.json.security?.[0]?.outcome).toBe('signalled');

    const handle = h.client.workflow.getHandle(workflowIdFor(parkedNumber));
    let status = await handle.query(statusQuery);
    for (let i = 0; i < 50 && (status.securityEvents?.length ?? 0) === 0; i++) {
      await sleep(100);
      status = await handle.query(statusQuery);
    }
    expect(status.stage).toBe('AwaitingManualReset');
    expect(status.securityEvents).toEqual([
      expect.objectContaining({ event: 'PIN_CHANGED', handling: 'evidence', requester: '61555822100001' }),
    ]);
    const details = await currentDetails(parkedNumber);
    expect(details).toContain('### Reported by Meta (security webhook)');
    expect(details).toContain('The two-step PIN was changed (or enabled) in WhatsApp Manager');
    expect(details).toContain('Meta Business Suite user `61555822100001`');
    expect(details).toContain('If this was you setting the stored PIN (version 1), send `manualReset`');
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('test done');
  });
});
