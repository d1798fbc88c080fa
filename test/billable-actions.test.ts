// Temporal Cloud's billable actions, counted from histories: the committed fixtures pin the rules.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import { readHistoryFile } from '../src/replay/history-file';
import { historyCost } from '../src/temporal/billable-actions';

const fixture = (name: string) => readHistoryFile(join(__dirname, 'histories', name)).history.events ?? [];
const EventType = temporal.api.enums.v1.EventType;

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
