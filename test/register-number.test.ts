// The registerNumber workflow end to end on the real dev server, real OpenBao and the sandbox.
import { describe, expect, it } from 'vitest';
import {
  onboardingStatusKey,
  ONBOARDING_TASK_QUEUE,
  WORKFLOW_TYPE,
  statusQuery,
  workflowIdFor,
  type RegisterNumberResult,
} from '../src/workflows/messages';
import { phoneNumberIds, onboardingHarnessForFile } from './support/onboarding-harness';

const h = onboardingHarnessForFile({ namespace: 'wf-happy' });

describe('registerNumber happy path', () => {
  it('stores each PIN in the vault before sending exactly that PIN to Meta, then marks it active', async () => {
    const ids = phoneNumberIds(5);
    const results = await Promise.all(
      ids.map(
        (phoneNumberId) =>
          h.client.workflow.execute(WORKFLOW_TYPE, {
            taskQueue: ONBOARDING_TASK_QUEUE,
            workflowId: workflowIdFor(phoneNumberId),
            args: [{ phoneNumberId, tenant: 'acme' }],
          }) as Promise<RegisterNumberResult>,
      ),
    );
    for (const [i, phoneNumberId] of ids.entries()) {
      const result = results[i]!;
      expect(result.outcome).toBe('Completed');
      const active = await h.pinStore.readActivePin(phoneNumberId);
      const sandboxPin = h.sandbox.pinOf(phoneNumberId);
      expect(active?.pin).toMatch(/^\d{6}$/);
      expect(sandboxPin).toBe(active?.pin);
      expect(result.vault).toEqual({ path: h.pinStore.logicalPath(phoneNumberId), version: active?.version });
      const state = await h.pinStore.describe(phoneNumberId);
      expect(state?.activeVersion).toBe(active?.version);
      expect(state?.pendingVersion).toBeUndefined();

      // Stored before sent: the vault version exists before Meta's only successful POST.
      const vaultRecord = await h.deps.vault.readPin({ phoneNumberId, version: active!.version });
      expect(vaultRecord).toBe(sandboxPin);
      const stored = await h.vault.kvRead('secret', `${h.vaultPrefix}/${phoneNumberId}`, {
        version: active!.version,
      });
      const createdTime = stored!.metadata.created_time;
      const pinSetAt = h.sandbox.numberState(phoneNumberId).pinSetAt!;
      expect(Date.parse(createdTime)).toBeLessThanOrEqual(Date.parse(pinSetAt));
      expect(h.sandbox.numberState(phoneNumberId).pinSets).toBe(1);

      const handle = h.client.workflow.getHandle(workflowIdFor(phoneNumberId));
      const status = await handle.query(statusQuery);
      expect(status.stage).toBe('Completed');
      const description = await handle.describe();
      expect(description.typedSearchAttributes.get(onboardingStatusKey)).toBe('Completed');
    }
  });
});
