// What one workflow execution costs on Temporal Cloud, counted from its event history by the
// rules of https://docs.temporal.io/cloud/actions (checked 2026-12-01):
//   - workflow started: 1 (search attributes given at start are free);
//   - activity started or retried: 1 per attempt;
//   - all markers recorded in one workflow task (local activities, patches): 1 together;
//   - UpsertSearchAttributes command: 1 each, except one that only sets TemporalChangeVersion;
//   - timer started (including the implicit timer of `condition(fn, timeout)`): 1;
//   - signal received, update accepted, signal sent to another workflow: 1 each;
//   - child workflow: 2 (its start and its execution); workflow options updated: 1.
// Queries (1 each on Cloud) and activity heartbeats leave no event, so no history shows them.
import { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

/** The search attribute SDKs upsert for patches; Cloud does not bill it. */
const CHANGE_VERSION_SEARCH_ATTRIBUTE = 'TemporalChangeVersion';

export interface BillableActions {
  total: number;
  start: number;
  activityAttempts: number;
  /** Workflow tasks that recorded one or more markers (local activities, patches). */
  markerTasks: number;
  searchAttributeUpserts: number;
  timers: number;
  signals: number;
  updates: number;
  other: number;
}

export interface HistoryCost {
  events: number;
  actions: BillableActions;
}

function onlyChangeVersion(event: HistoryEvent): boolean {
  const fields = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
  const keys = Object.keys(fields);
  return keys.length > 0 && keys.every((k) => k === CHANGE_VERSION_SEARCH_ATTRIBUTE);
}

export function historyCost(events: readonly HistoryEvent[]): HistoryCost {
  const actions: BillableActions = {
    total: 0,
    start: 0,
    activityAttempts: 0,
    markerTasks: 0,
    searchAttributeUpserts: 0,
    timers: 0,
    signals: 0,
    updates: 0,
    other: 0,
  };
  const markerTasks = new Set<string>();
  for (const event of events) {
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        actions.start++;
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        // The started event carries the attempt it belongs to: earlier attempts left no event.
        actions.activityAttempts += Math.max(1, event.activityTaskStartedEventAttributes?.attempt ?? 1);
        break;
      case EventType.EVENT_TYPE_MARKER_RECORDED:
        markerTasks.add(String(event.markerRecordedEventAttributes?.workflowTaskCompletedEventId ?? ''));
        break;
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        if (!onlyChangeVersion(event)) actions.searchAttributeUpserts++;
        break;
      case EventType.EVENT_TYPE_TIMER_STARTED:
        actions.timers++;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        actions.signals++;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        actions.updates++;
        break;
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        actions.other += 2;
        break;
      case EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED:
      case EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED:
      case EventType.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED:
        actions.other++;
        break;
      default:
        break;
    }
  }
  actions.markerTasks = markerTasks.size;
  actions.total =
    actions.start +
    actions.activityAttempts +
    actions.markerTasks +
    actions.searchAttributeUpserts +
    actions.timers +
    actions.signals +
    actions.updates +
    actions.other;
  return { events: events.length, actions };
}
