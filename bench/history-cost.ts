// Actions and history events per number, counted from the real histories of a finished batch
// (src/temporal/billable-actions.ts holds Temporal Cloud's rules).
import type { Client } from '@temporalio/client';
import { historyCost, type BillableActions } from '../src/temporal/billable-actions';
import { round } from './common';

export interface HistoryCostSummary {
  /** Histories read (a sample spread over the batch). */
  histories: number;
  eventsPerNumber: number;
  actionsPerNumber: number;
  minActions: number;
  maxActions: number;
  /** Mean per number, by kind of action. */
  actionsByKind: Omit<BillableActions, 'total'>;
}

/** Reads up to `sample` histories spread evenly over `workflowIds` and averages their cost. */
export async function historyCostOf(
  client: Client,
  workflowIds: readonly string[],
  sample = 20,
): Promise<HistoryCostSummary> {
  const step = Math.max(1, Math.floor(workflowIds.length / sample));
  const picked = workflowIds.filter((_, i) => i % step === 0).slice(0, sample);
  const costs = await Promise.all(
    picked.map(async (id) => {
      const history = await client.workflow.getHandle(id).fetchHistory();
      return historyCost(history.events ?? []);
    }),
  );
  if (costs.length === 0) throw new Error('no history to count');
  const mean = (f: (c: (typeof costs)[number]) => number) =>
    round(costs.reduce((sum, c) => sum + f(c), 0) / costs.length, 2);
  const totals = costs.map((c) => c.actions.total);
  return {
    histories: costs.length,
    eventsPerNumber: mean((c) => c.events),
    actionsPerNumber: mean((c) => c.actions.total),
    minActions: Math.min(...totals),
    maxActions: Math.max(...totals),
    actionsByKind: {
      start: mean((c) => c.actions.start),
      activityAttempts: mean((c) => c.actions.activityAttempts),
      markerTasks: mean((c) => c.actions.markerTasks),
      searchAttributeUpserts: mean((c) => c.actions.searchAttributeUpserts),
      timers: mean((c) => c.actions.timers),
      signals: mean((c) => c.actions.signals),
      updates: mean((c) => c.actions.updates),
      other: mean((c) => c.actions.other),
    },
  };
}
