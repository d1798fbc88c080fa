// Temporal Cloud's billable actions, counted from histories: the committed fixtures pin the rules,
// and a real happy path on the dev server must stay within 6.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import { startOnboarding } from '../src/onboarding/start-onboarding';
import { readHistoryFile } from '../src/replay/history-file';
import { historyCost } from '../src/temporal/billable-actions';
import { onboardingStatusKey, workflowIdFor, type RegisterNumberResult } from '../src/workflows/messages';
import { phoneNumberIds, startOnboardingHarness, type OnboardingHarness } from './support/onboarding-harness';

const fixture = (name: string) => readHistoryFile(join(__dirname, 'histories', name)).history.events ?? [];
const EventType = temporal.api.enums.v1.EventType;

/** The patch ids a history's markers record, in order. */
function patchMarkers(events: ReturnType<typeof fixture>): string[] {
  return events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map((e) => {
      const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
      return (JSON.parse(Buffer.from(data ?? '').toString()) as { id: string }).id;
    });
}

describe('historyCost', () => {
  it('counts the start, each activity attempt and each upsert of a recorded happy path', () => {
    const cost = historyCost(fixture('happy-path.json'));
    expect(cost.events).toBe(27);
    expect(cost.actions).toMatchObject({
      start: 1,
      activityAttempts: 3,
      searchAttributeUpserts: 4,
      total: 8,
    });
  });

  it('counts the patches and the local generatePin of the lean path as one action', () => {
    // register: auto on a number already on Cloud API: the six of the PIN, plus the lookup.
    const cost = historyCost(fixture('lean-happy-path.json'));
    expect(cost.events).toBe(32);
    expect(cost.actions).toMatchObject({
      start: 1,
      markerTasks: 1,
      activityAttempts: 3,
      searchAttributeUpserts: 2,
      total: 7,
    });
  });

  it('one patch marker on runs of the current code: four events fewer, the same actions', () => {
    // The same path as lean-happy-path.json, recorded after the one-marker-for-all-patches patch.
    const events = fixture('one-happy-path.json');
    const cost = historyCost(events);
    expect(cost.events).toBe(28);
    expect(cost.actions).toMatchObject({ markerTasks: 1, searchAttributeUpserts: 2, total: 7 });
    expect(patchMarkers(events)).toEqual(['one-marker-for-all-patches']);
    expect(patchMarkers(fixture('lean-happy-path.json'))).toHaveLength(3);
  });

  it('counts retried attempts from the attempt number on the started event', () => {
    // Meta throttled twice before accepting: three attempts of setTwoStepPin, one event each kind.
    const cost = historyCost(fixture('throttled-then-succeeded.json'));
    expect(cost.actions.activityAttempts).toBe(5);
    expect(cost.actions.total).toBe(10);
  });

  it('counts signals, updates and the timer of a deadline', () => {
    const cost = historyCost(fixture('retry.json'));
    expect(cost.actions).toMatchObject({ signals: 1, updates: 1, timers: 2 });
  });

  it('counts the markers of one workflow task once, and no upsert of TemporalChangeVersion alone', () => {
    const marker = (task: number): temporal.api.history.v1.IHistoryEvent => ({
      eventType: EventType.EVENT_TYPE_MARKER_RECORDED,
      markerRecordedEventAttributes: temporal.api.history.v1.MarkerRecordedEventAttributes.fromObject({
        workflowTaskCompletedEventId: task,
      }),
    });
    const upsert = (keys: string[]) => ({
      eventType: EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
      upsertWorkflowSearchAttributesEventAttributes: {
        searchAttributes: { indexedFields: Object.fromEntries(keys.map((k) => [k, {}])) },
      },
    });
    const cost = historyCost([
      { eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED },
      marker(4),
      marker(4),
      upsert(['TemporalChangeVersion']),
      marker(10),
      upsert(['OnboardingStatus', 'TemporalChangeVersion']),
    ]);
    expect(cost.actions).toMatchObject({ start: 1, markerTasks: 2, searchAttributeUpserts: 1, total: 4 });
  });
});

describe('what a number costs on the dev server', () => {
  let h: OnboardingHarness;
  beforeAll(async () => {
    h = await startOnboardingHarness({ namespace: 'cost' });
  });
  afterAll(async () => {
    await h?.close();
  });

  let workers: Promise<unknown> | undefined;
  const workersRunning = () => (workers ??= h.startWorkers());

  const onboardingStatus = async (phoneNumberId: string) =>
    (await h.client.workflow.getHandle(workflowIdFor(phoneNumberId)).describe()).typedSearchAttributes.get(
      onboardingStatusKey,
    );

  it('a happy path without registration costs at most 6 billable actions, and is searchable throughout', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    // Started while no worker runs: searchable as StoringPin from the start, at no cost.
    const started = await startOnboarding(h.client, {
      phoneNumberId,
      wabaId: '102290129340398',
      register: 'never',
    });
    expect(started.outcome).toBe('started');
    expect(await onboardingStatus(phoneNumberId)).toBe('StoringPin');

    await workersRunning();
    const handle = h.client.workflow.getHandle<() => Promise<RegisterNumberResult>>(
      workflowIdFor(phoneNumberId),
    );
    expect((await handle.result()).outcome).toBe('Completed');
    expect(await onboardingStatus(phoneNumberId)).toBe('Completed');
    expect(h.sandbox.pinOf(phoneNumberId)).toBe((await h.pinStore.readActivePin(phoneNumberId))?.pin);

    const events = (await handle.fetchHistory()).events ?? [];
    const cost = historyCost(events);
    expect(cost.actions.total, JSON.stringify(cost)).toBeLessThanOrEqual(6);
    // One patch marker, so fewer events than the bare three-activity baseline's 23.
    expect(patchMarkers(events)).toHaveLength(1);
    expect(cost.events).toBeLessThanOrEqual(22);
    // start, the first workflow task's markers (patch + generatePin), storePinInVault,
    // setTwoStepPin, and the two stages a happy path passes where a number can wait.
    expect(cost.actions).toMatchObject({
      start: 1,
      markerTasks: 1,
      activityAttempts: 2,
      searchAttributeUpserts: 2,
    });
  });

  it('register: auto adds its lookup of the number and nothing else: 7', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    await startOnboarding(h.client, { phoneNumberId });
    await workersRunning();
    const handle = h.client.workflow.getHandle<() => Promise<RegisterNumberResult>>(
      workflowIdFor(phoneNumberId),
    );
    expect(await handle.result()).toMatchObject({ outcome: 'Completed', registration: 'alreadyRegistered' });
    const cost = historyCost((await handle.fetchHistory()).events ?? []);
    expect(cost.actions).toMatchObject({ activityAttempts: 3, searchAttributeUpserts: 2, total: 7 });
  });

  it('while Meta fails, the number is searchable as SettingPin', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    h.sandbox.setScenario(phoneNumberId, { kind: 'serverError', code: 131000, times: 2 });
    await startOnboarding(h.client, {
      phoneNumberId,
      register: 'never',
      retrySchedules: { graph: { initialInterval: '2s', backoffCoefficient: 1 } },
    });
    await workersRunning();
    for (let i = 0; i < 100 && h.sandbox.numberState(phoneNumberId).posts < 1; i++) await sleep(100);
    expect(await onboardingStatus(phoneNumberId)).toBe('SettingPin');
    const handle = h.client.workflow.getHandle<() => Promise<RegisterNumberResult>>(
      workflowIdFor(phoneNumberId),
    );
    expect((await handle.result()).outcome).toBe('Completed');
    const cost = historyCost((await handle.fetchHistory()).events ?? []);
    // Each attempt at Meta is an action of its own: 3 attempts of setTwoStepPin.
    expect(cost.actions).toMatchObject({ activityAttempts: 4, searchAttributeUpserts: 2, total: 8 });
  });
});
