// Resets from the UI are safe: real runs (happy, throttled, failed then retried, failed then reset
// by hand) are reset to every workflow-task-completed event of the finished run, and after each
// new run ends, the vault and Meta (the Graph sandbox) still agree on the PIN.
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { startOnboarding } from '../src/onboarding/start-onboarding';
import type { Scenario } from '../src/graph-sandbox/scenarios';
import {
  manualResetSignal,
  manualResetUpdate,
  retryUpdate,
  statusQuery,
  workflowIdFor,
  type RegisterNumberInput,
  type RegisterNumberResult,
  type RegisterNumberStatus,
} from '../src/workflows/messages';
import { phoneNumberIds, onboardingHarnessForFile } from './support/onboarding-harness';
import { waitForStage } from './support/workflow-polling';

const NAMESPACE = 'resets';
const { EVENT_TYPE_WORKFLOW_TASK_COMPLETED } = temporal.api.enums.v1.EventType;

const h = onboardingHarnessForFile({ namespace: NAMESPACE });

type RegisterNumber = (input: RegisterNumberInput) => Promise<RegisterNumberResult>;

/** What an operator does each time a run parks in AwaitingManualReset. */
type Operator = (phoneNumberId: string, status: RegisterNumberStatus) => Promise<void>;

/** The operator fixed the cause (the token), then sends retry. */
const fixAndRetry: Operator = async (phoneNumberId) => {
  h.sandbox.setScenario(phoneNumberId, undefined);
  await h.client.workflow
    .getHandle(workflowIdFor(phoneNumberId))
    .executeUpdate(retryUpdate, { args: [{ operator: 'sam', note: 'token rotated' }] });
};

/**
 * What an operator does in WhatsApp Manager: set the number's PIN to the stored version. Here
 * straight on the sandbox, past the injected fault, which only applies to the API.
 */
async function setStoredPinByHand(phoneNumberId: string, status: RegisterNumberStatus): Promise<void> {
  const version = status.vault?.version;
  if (version === undefined) throw new Error(`${phoneNumberId} parked without a stored PIN`);
  const pin = await h.deps.vault.readPin({ phoneNumberId, version });
  const fault = h.sandbox.scenarios()[phoneNumberId];
  h.sandbox.setScenario(phoneNumberId, undefined);
  await h.deps.graph.setTwoStepPin({ phoneNumberId, pin });
  h.sandbox.setScenario(phoneNumberId, fault);
}

/** The operator sets the stored PIN by hand, then sends manualReset (the Update, as ops does). */
const setByHandAndReset: Operator = async (phoneNumberId, status) => {
  await setStoredPinByHand(phoneNumberId, status);
  await h.client.workflow
    .getHandle(workflowIdFor(phoneNumberId))
    .executeUpdate(manualResetUpdate, { args: [{ operator: 'jane.doe', note: 'set by hand' }] });
};

const neverParks: Operator = async (phoneNumberId, status) => {
  throw new Error(`${phoneNumberId} parked unexpectedly: ${JSON.stringify(status.lastError)}`);
};

/** Follows one run to its close, acting as `operator` each time it parks. */
async function runToEnd(
  workflowId: string,
  runId: string,
  operator: Operator,
): Promise<RegisterNumberResult> {
  const handle = h.client.workflow.getHandle<RegisterNumber>(workflowId, runId);
  for (let polls = 0; polls < 600; polls++) {
    const { status } = await handle.describe();
    if (status.name !== 'RUNNING') return handle.result();
    const current = await handle.query(statusQuery);
    if (current.stage === 'AwaitingManualReset') {
      await operator(current.phoneNumberId, current).catch((err: unknown) => {
        // Refused, or overtaken by the run closing, because a reapplied signal was already being
        // acted on when the query answered: look again.
        if (!(err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError)) throw err;
      });
    } else {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${workflowId} run ${runId} did not finish`);
}

type EventId = NonNullable<temporal.api.history.v1.IHistoryEvent['eventId']>;

async function workflowTaskCompletedEvents(workflowId: string, runId: string): Promise<EventId[]> {
  const history = await h.client.workflow.getHandle(workflowId, runId).fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.eventType === EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    .flatMap((e) => (e.eventId ? [e.eventId] : []));
}

async function resetTo(workflowId: string, runId: string, eventId: EventId): Promise<string> {
  const response = await h.client.workflowService.resetWorkflowExecution({
    namespace: NAMESPACE,
    workflowExecution: { workflowId, runId },
    workflowTaskFinishEventId: eventId,
    requestId: randomUUID(),
    reason: `resets test: back to event ${eventId.toString()}`,
  });
  return response.runId;
}

/** Vault and Meta agree: the active version's PIN is Meta's, and nothing pending passes for active. */
async function expectConsistent(phoneNumberId: string, result: RegisterNumberResult, where: string) {
  const state = await h.pinStore.describe(phoneNumberId);
  const active = await h.pinStore.readActivePin(phoneNumberId);
  expect(active, `${where}: an active version`).toBeDefined();
  expect(h.sandbox.pinOf(phoneNumberId), `${where}: Meta holds the active PIN`).toBe(active?.pin);
  expect(state?.activeVersion, `${where}: the run's version is the active one`).toBe(result.vault?.version);
  if (state?.pendingVersion !== undefined) {
    expect(state.pendingVersion, `${where}: pending is not active`).not.toBe(state.activeVersion);
  }
}

interface Case {
  name: string;
  input?: Partial<RegisterNumberInput>;
  /** The sandbox fault at the start of the original run and of every reset run. */
  scenario?: Scenario;
  /** What the original run needs from an operator once it has parked. */
  original?: (phoneNumberId: string) => Promise<void>;
  operator: Operator;
  outcome: RegisterNumberResult['outcome'];
}

const cases: Case[] = [
  { name: 'happy path', operator: neverParks, outcome: 'Completed' },
  {
    name: 'throttled twice, then succeeded',
    scenario: { kind: 'throttled', code: 80007, times: 2, regainAccessMinutes: 0 },
    input: { retrySchedules: { graph: { initialInterval: '200ms', maximumInterval: '1s' } } },
    operator: neverParks,
    outcome: 'Completed',
  },
  {
    name: 'expired token, fixed, retried (update)',
    scenario: { kind: 'expiredToken' },
    original: async (phoneNumberId) => {
      const status = await waitForStage(h.client, phoneNumberId, 'AwaitingManualReset');
      await fixAndRetry(phoneNumberId, status);
    },
    operator: fixAndRetry,
    outcome: 'Completed',
  },
  {
    name: 'expired token, PIN set by hand, manualReset (signal)',
    scenario: { kind: 'expiredToken' },
    // The original run is finished from the UI's signal box; its signal is reapplied by resets.
    original: async (phoneNumberId) => {
      const status = await waitForStage(h.client, phoneNumberId, 'AwaitingManualReset');
      await setStoredPinByHand(phoneNumberId, status);
      await h.client.workflow
        .getHandle(workflowIdFor(phoneNumberId))
        .signal(manualResetSignal, { operator: 'jane.doe', note: 'PIN changed in WhatsApp Manager' });
    },
    operator: setByHandAndReset,
    outcome: 'CompletedManually',
  },
];

describe('resetting a finished run to each of its workflow-task-completed events', () => {
  it.each(cases)(
    '$name: every reset run ends with the vault and Meta agreeing',
    async ({ input, scenario, original, operator, outcome }) => {
      const [phoneNumberId] = phoneNumberIds(1) as [string];
      const workflowId = workflowIdFor(phoneNumberId);
      h.sandbox.setScenario(phoneNumberId, scenario);
      const started = await startOnboarding(h.client, { phoneNumberId, ...input });
      const runId = started.runId as string;
      await original?.(phoneNumberId);
      const first = await h.client.workflow.getHandle<RegisterNumber>(workflowId, runId).result();
      expect(first.outcome).toBe(outcome);
      await expectConsistent(phoneNumberId, first, 'original run');

      const events = await workflowTaskCompletedEvents(workflowId, runId);
      expect(events.length).toBeGreaterThanOrEqual(4);
      const outcomes: string[] = [];
      const versions = new Set<number>();
      for (const eventId of events) {
        // The fault is back for every reset run: the reset replays onto a world that still fails.
        h.sandbox.setScenario(phoneNumberId, scenario);
        const newRunId = await resetTo(workflowId, runId, eventId);
        expect(newRunId).not.toBe(runId);
        const result = await runToEnd(workflowId, newRunId, operator);
        outcomes.push(result.outcome);
        versions.add(result.vault?.version ?? 0);
        await expectConsistent(phoneNumberId, result, `reset to event ${eventId.toString()}`);
      }
      expect(outcomes).toEqual(events.map(() => outcome));
      // Resetting before generatePin made a new PIN (a new version); later points reused the first.
      expect(versions.size).toBeGreaterThan(1);
    },
    180_000,
  );
});
