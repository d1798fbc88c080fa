import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import {
  statusQuery,
  workflowIdFor,
  type OnboardingStage,
  type RegisterNumberStatus,
} from '../../src/workflows/messages';

/** Polls the status query until the workflow reaches `stage` (workflows that wait never close). */
export async function waitForStage(
  client: Client,
  phoneNumberId: string,
  stage: OnboardingStage,
  timeoutMs = 30_000,
): Promise<RegisterNumberStatus> {
  const handle = client.workflow.getHandle(workflowIdFor(phoneNumberId));
  const deadline = Date.now() + timeoutMs;
  let last: RegisterNumberStatus | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(statusQuery).catch(() => undefined);
    if (last?.stage === stage) return last;
    await sleep(100);
  }
  throw new Error(
    `${phoneNumberId} did not reach ${stage} in ${timeoutMs} ms (last: ${JSON.stringify(last)})`,
  );
}

/** Whether the number has a workflow at all (running or closed). */
export async function onboardingExists(client: Client, phoneNumberId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowIdFor(phoneNumberId)).describe();
    return true;
  } catch {
    return false;
  }
}
