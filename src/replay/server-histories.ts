// Histories of recent executions, fetched from the server by a visibility query, one at a time so
// replay starts while the next history downloads.
import type { Client } from '@temporalio/client';
import { WORKFLOW_TYPE } from '../workflows/messages';
import type { HistorySource } from './history-file';

/** Only registerNumber executions: a history of another workflow type cannot replay here. */
export function onboardingQuery(query: string): string {
  return `WorkflowType = "${WORKFLOW_TYPE}" AND (${query})`;
}

export async function* historiesMatching(
  client: Client,
  query: string,
  limit: number,
): AsyncGenerator<HistorySource> {
  let count = 0;
  for await (const info of client.workflow.list({
    query: onboardingQuery(query),
    pageSize: Math.min(limit, 100),
  })) {
    if (count >= limit) return;
    count++;
    const history = await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
    yield { label: `${info.workflowId} run ${info.runId}`, workflowId: info.workflowId, history };
  }
}
