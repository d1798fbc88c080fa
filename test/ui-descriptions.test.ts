// What the Temporal UI reads about each part of registerNumber, asked of the dev server as the UI
// asks it: every signal, update and query handler has a description (the built-in metadata query
// that "Send a Signal" uses), and every activity call and the manual-reset timer carry a summary in
// their events' user metadata, so the timeline reads "store the PIN in the vault ...", not a name.
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncryptionCodec } from '../src/codec/encryption-codec';
import { ONBOARDING_TASK_QUEUE, WORKFLOW_TYPE, workflowIdFor } from '../src/workflows/messages';
import { HANDLER_DESCRIPTIONS } from '../src/workflows/ui-descriptions';
import { phoneNumberIds, startOnboardingHarness, type OnboardingHarness } from './support/onboarding-harness';
import { waitForStage } from './support/workflow-polling';

const { EventType } = temporal.api.enums.v1;
type WorkflowMetadata = temporal.api.sdk.v1.IWorkflowMetadata;

let h: OnboardingHarness;
const [parked] = phoneNumberIds(1);

beforeAll(async () => {
  h = await startOnboardingHarness({
    namespace: 'spare-1',
    sandbox: { scenarios: { [parked!]: { kind: 'expiredToken' } } },
  });
  await h.startWorkers();
  await h.client.workflow.start(WORKFLOW_TYPE, {
    taskQueue: ONBOARDING_TASK_QUEUE,
    workflowId: workflowIdFor(parked!),
    args: [{ phoneNumberId: parked!, manualResetDeadline: '2d' }],
  });
  await waitForStage(h.client, parked!, 'AwaitingManualReset');
});

afterAll(async () => {
  await h?.close();
});

async function summaryText(payload: Payload | null | undefined): Promise<string | undefined> {
  if (!payload) return undefined;
  const [decoded] = await new EncryptionCodec(h.codecKeyring).decode([payload]);
  const text: string = defaultPayloadConverter.fromPayload<string>(decoded!);
  return text;
}

describe('the UI reads', () => {
  it('a description for every signal, update and query handler', async () => {
    const meta = await h.client.workflow
      .getHandle(workflowIdFor(parked!))
      .query<WorkflowMetadata>('__temporal_workflow_metadata');
    const described = (
      defs: { name?: string | null; description?: string | null }[] | null | undefined,
    ): Record<string, string | null | undefined> =>
      Object.fromEntries(
        (defs ?? [])
          .filter((d) => !d.name?.startsWith('__'))
          .map((d): [string, string | null | undefined] => [d.name ?? '', d.description]),
      );
    expect(described(meta.definition?.signalDefinitions)).toEqual({
      manualReset: HANDLER_DESCRIPTIONS.manualReset,
      retry: HANDLER_DESCRIPTIONS.retry,
      pinChanged: HANDLER_DESCRIPTIONS.pinChanged,
      twoStepReset: HANDLER_DESCRIPTIONS.twoStepReset,
    });
    expect(described(meta.definition?.updateDefinitions)).toEqual({
      manualResetRequest: HANDLER_DESCRIPTIONS.manualResetRequest,
      retryRequest: HANDLER_DESCRIPTIONS.retryRequest,
    });
    expect(described(meta.definition?.queryDefinitions)).toMatchObject({
      status: HANDLER_DESCRIPTIONS.status,
    });
    for (const text of Object.values(HANDLER_DESCRIPTIONS)) expect(text).not.toContain(parked!);
  });

  it('a summary on each activity call and on the wait for an operator, naming the vault version', async () => {
    const history = await h.client.workflow.getHandle(workflowIdFor(parked!)).fetchHistory();
    const summaries: string[] = [];
    for (const event of history.events ?? []) {
      // generatePin runs as a local activity (the lean-happy-path patch): its summary is on its marker.
      const localActivity =
        event.eventType === EventType.EVENT_TYPE_MARKER_RECORDED &&
        event.markerRecordedEventAttributes?.markerName === 'core_local_activity';
      if (
        localActivity ||
        event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED ||
        event.eventType === EventType.EVENT_TYPE_TIMER_STARTED
      ) {
        summaries.push(
          (await summaryText(event.userMetadata?.summary)) ?? `(none on ${EventType[event.eventType ?? 0]})`,
        );
      }
    }
    const version = (await h.pinStore.describe(parked!))?.pendingVersion;
    expect(summaries).toEqual([
      'generate a 6-digit PIN, sealed with the worker-only key',
      'store the PIN in the vault as the pending version, before Meta sees it',
      `set stored PIN v${version} on Meta as the two-step PIN, then mark it active in the vault`,
      expect.stringMatching(
        /^wait for an operator \(manualReset or retry\) until \d{4}-\d\d-\d\dT[\d:.]+Z, then Abandoned$/,
      ),
    ]);
    for (const s of summaries) expect(s).not.toContain(parked!);
  });
});
