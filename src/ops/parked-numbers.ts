// `ops list`: the numbers waiting for a human, found the way an engineer finds them in the UI
// (the OnboardingStatus search attribute), each then asked for its live status, which is the
// truth: visibility lags, so a row the search still shows as parked but whose workflow has moved
// on since is dropped rather than reported.
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import {
  onboardingStatusKey,
  WORKFLOW_TYPE,
  type RegisterNumberStatus,
  type StepFailure,
  type VaultLocation,
} from '../workflows/messages';
import { firstLine } from '../cli/first-line';
import { phoneNumberIdOf, queryStatus } from './onboarding-lookup';
import { OpsError } from './ops-error';

export const AWAITING_MANUAL_RESET_QUERY =
  `WorkflowType = "${WORKFLOW_TYPE}" AND OnboardingStatus = "AwaitingManualReset" ` +
  'AND ExecutionStatus = "Running"';
export const ALL_ONBOARDINGS_QUERY = `WorkflowType = "${WORKFLOW_TYPE}"`;

/** Status queries in flight at once: each is a workflow task on the workers. */
const QUERY_CONCURRENCY = 8;

export interface OnboardingListEntry {
  phoneNumberId: string;
  workflowId: string;
  runId: string;
  executionStatus: string;
  /** The live stage (status query) when asked, else the search attribute. */
  stage?: string;
  startedAt: string;
  closedAt?: string;
  /** When the number started waiting (the failure that parked it); parked numbers only. */
  waitingSince?: string;
  lastError?: StepFailure;
  vault?: VaultLocation;
  deadline?: string;
  /** Why the live status is missing (the query was not answered). */
  statusUnavailable?: string;
}

export interface ListOptions {
  /** Every registerNumber workflow, whatever its stage, running or closed. */
  all: boolean;
  limit: number;
  queryTimeoutMs: number;
}

export async function listOnboardings(client: Client, opts: ListOptions): Promise<OnboardingListEntry[]> {
  const infos: WorkflowExecutionInfo[] = [];
  const query = opts.all ? ALL_ONBOARDINGS_QUERY : AWAITING_MANUAL_RESET_QUERY;
  for await (const info of client.workflow.list({ query, pageSize: Math.min(opts.limit, 1_000) })) {
    infos.push(info);
    if (infos.length >= opts.limit) break;
  }
  const entries = infos.map(toEntry);
  // Only parked numbers are asked: a closed workflow is answered by a worker replaying its whole
  // history, which --all over thousands of numbers must not cause.
  const parked = entries.filter((e) => e.executionStatus === 'RUNNING' && e.stage === 'AwaitingManualReset');
  await forEachLimited(parked, QUERY_CONCURRENCY, async (entry) => {
    try {
      applyStatus(entry, await queryStatus(client, entry.workflowId, opts.queryTimeoutMs));
    } catch (err) {
      entry.statusUnavailable = err instanceof OpsError ? err.message : firstLine(err);
    }
  });
  return opts.all
    ? entries
    : entries.filter((e) => e.statusUnavailable !== undefined || e.stage === 'AwaitingManualReset');
}

function toEntry(info: WorkflowExecutionInfo): OnboardingListEntry {
  return {
    phoneNumberId: phoneNumberIdOf(info.workflowId),
    workflowId: info.workflowId,
    runId: info.runId,
    executionStatus: info.status.name,
    stage: info.typedSearchAttributes.get(onboardingStatusKey),
    startedAt: info.startTime.toISOString(),
    closedAt: info.closeTime?.toISOString(),
  };
}

function applyStatus(entry: OnboardingListEntry, status: RegisterNumberStatus): void {
  entry.stage = status.stage;
  entry.lastError = status.lastError;
  entry.vault = status.vault;
  entry.deadline = status.deadline;
  if (status.stage === 'AwaitingManualReset') entry.waitingSince = status.lastError?.at ?? entry.startedAt;
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(lanes);
}
