// Permanent failures park the workflow for a human; manualReset and retry finish it.
import { describe, expect, it } from 'vitest';
import { startOnboarding } from '../src/onboarding/start-onboarding';
import {
  manualResetSignal,
  manualResetUpdate,
  onboardingStatusKey,
  retrySignal,
  statusQuery,
  workflowIdFor,
  type RegisterNumberResult,
} from '../src/workflows/messages';
import { phoneNumberIds, onboardingHarnessForFile } from './support/onboarding-harness';
import { waitForStage } from './support/workflow-polling';

const h = onboardingHarnessForFile({ namespace: 'wf-failures' });

const postsFor = (phoneNumberId: string) =>
  h.sandbox.requests().filter((r) => r.method === 'POST' && r.phoneNumberId === phoneNumberId).length;

describe('permanent Graph failures', () => {
  it.each([
    {
      scenario: { kind: 'expiredToken' } as const,
      type: 'GraphAuthError',
      code: 190,
      runbook: 'rotate-token',
      says: 'system-user token',
    },
    {
      scenario: { kind: 'invalidParameter', code: 100 } as const,
      type: 'GraphInvalidParameter',
      code: 100,
      runbook: 'invalid-request',
      says: 'rejected the request as invalid',
    },
  ])(
    'code $code is not retried and waits in AwaitingManualReset with the reason and its runbook',
    async ({ scenario, type, code, runbook, says }) => {
      const [phoneNumberId] = phoneNumberIds(1) as [string];
      h.sandbox.setScenario(phoneNumberId, scenario);
      await startOnboarding(h.client, { phoneNumberId, tenant: 'acme' });
      const status = await waitForStage(h.client, phoneNumberId, 'AwaitingManualReset');

      expect(status.lastError).toMatchObject({ step: 'setTwoStepPin', type, graphCode: code, attempts: 1 });
      expect(status.lastError?.fbtraceId).toBeTruthy();
      expect(status.vault?.version).toBeGreaterThan(0);
      // The runbook for the cause, not the Change PIN procedure: the PIN is not the problem.
      expect(status.runbook).toBe(runbook);
      expect(status.procedure).toContain(says);
      expect(status.procedure).not.toContain('Change PIN');
      // Nobody set a deadline: the default gives an operator 14 days.
      const daysLeft = (Date.parse(status.deadline!) - Date.now()) / 86_400_000;
      expect(daysLeft).toBeGreaterThan(13.9);
      expect(daysLeft).toBeLessThanOrEqual(14);
      expect(postsFor(phoneNumberId)).toBe(1);

      const description = await h.client.workflow.getHandle(workflowIdFor(phoneNumberId)).describe();
      expect(description.typedSearchAttributes.get(onboardingStatusKey)).toBe('AwaitingManualReset');
      const pinState = await h.pinStore.describe(phoneNumberId);
      expect(pinState?.pendingVersion).toBe(status.vault?.version);
      expect(pinState?.activeVersion).toBeUndefined();
    },
  );
});

describe('operator actions', () => {
  it('refuses a malformed manualReset, then completes manually with the stored version active', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    h.sandbox.setScenario(phoneNumberId, { kind: 'expiredToken' });
    await startOnboarding(h.client, { phoneNumberId });
    const waiting = await waitForStage(h.client, phoneNumberId, 'AwaitingManualReset');
    const handle = h.client.workflow.getHandle<(i: unknown) => Promise<RegisterNumberResult>>(
      workflowIdFor(phoneNumberId),
    );

    // What an engineer might type into the UI's signal box: not an object, no operator.
    await handle.signal(manualResetSignal, 'done' as never);
    await handle.signal(manualResetSignal, { note: 'forgot my name' } as never);
    // The Update beside the signal answers a bad payload with the reason, at once.
    const refused: unknown = await handle
      .executeUpdate(manualResetUpdate, { args: [{ operator: 42 } as never] })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect((refused as { cause?: Error } | undefined)?.cause?.message).toMatch(/"operator" is required/);
    const afterRefusal = await handle.query(statusQuery);
    expect(afterRefusal.stage).toBe('AwaitingManualReset');
    expect(afterRefusal.lastRefusal?.reason).toMatch(/operator/);

    await handle.signal(manualResetSignal, { operator: 'jane.doe', note: 'PIN changed in WhatsApp Manager' });
    const result = await handle.result();
    expect(result.outcome).toBe('CompletedManually');
    expect(result.operator).toBe('jane.doe');
    const pinState = await h.pinStore.describe(phoneNumberId);
    expect(pinState?.activeVersion).toBe(waiting.vault?.version);
    expect(pinState?.pendingVersion).toBeUndefined();
    const finalStatus = await handle.query(statusQuery);
    expect(finalStatus.history).toEqual([
      expect.objectContaining({ kind: 'manualReset', operator: 'jane.doe' }),
    ]);
    expect((await handle.describe()).typedSearchAttributes.get(onboardingStatusKey)).toBe(
      'CompletedManually',
    );
  });

  it('retry re-runs the failed step after the cause is fixed, and sets the same stored PIN', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    h.sandbox.setScenario(phoneNumberId, { kind: 'expiredToken' });
    await startOnboarding(h.client, { phoneNumberId });
    const waiting = await waitForStage(h.client, phoneNumberId, 'AwaitingManualReset');
    const handle = h.client.workflow.getHandle(workflowIdFor(phoneNumberId));

    // Still broken: the retry fails again and the workflow goes back to waiting.
    await handle.signal(retrySignal, { operator: 'sam' });
    await expect
      .poll(async () => (await handle.query(statusQuery)).history.length, { timeout: 15_000 })
      .toBe(1);
    await waitForStage(h.client, phoneNumberId, 'AwaitingManualReset');
    expect(postsFor(phoneNumberId)).toBe(2);

    h.sandbox.setScenario(phoneNumberId, undefined);
    await handle.signal(retrySignal, { operator: 'sam', note: 'token rotated' });
    const result = (await handle.result()) as RegisterNumberResult;
    expect(result.outcome).toBe('Completed');
    const active = await h.pinStore.readActivePin(phoneNumberId);
    expect(active?.version).toBe(waiting.vault?.version);
    expect(h.sandbox.pinOf(phoneNumberId)).toBe(active?.pin);
  });
});
