// `ops reset` and `ops retry`: the workflow's Updates (beside the manualReset / retry signals) so
// a refused request comes back at once with the workflow's own reason, instead of a signal that
// is silently recorded as refused.
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowUpdateFailedError, WorkflowUpdateStage, type Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import {
  manualResetUpdate,
  retryUpdate,
  type ManualResetInput,
  type OnboardingStage,
  type RegisterNumberStatus,
  type RetryInput,
} from '../workflows/messages';
import { firstLine } from '../cli/first-line';
import { describeOnboarding, queryStatus, type OnboardingExecution } from './onboarding-lookup';
import { OpsError } from './ops-error';

const FINAL_STAGES: readonly OnboardingStage[] = ['Completed', 'CompletedManually', 'Abandoned'];
const FOLLOW_POLL_MS = 500;

export interface RequestOptions {
  /** How long to wait for the outcome once the workflow accepted the request. */
  waitTimeoutMs: number;
  queryTimeoutMs: number;
}

export type RequestOutcome =
  /** The workflow finished (Completed, CompletedManually or Abandoned). */
  | { kind: 'finished'; status: RegisterNumberStatus }
  /** The step failed again: the workflow is back to waiting, with the new reason. */
  | { kind: 'waiting-again'; status: RegisterNumberStatus }
  /** Accepted, still working when the wait ended (a long retry schedule, say). */
  | { kind: 'still-working'; status?: RegisterNumberStatus };

export async function requestManualReset(
  client: Client,
  phoneNumberId: string,
  input: ManualResetInput,
  opts: RequestOptions,
): Promise<RequestOutcome> {
  return request(client, phoneNumberId, opts, async (workflowId) => {
    const handle = client.workflow.getHandle(workflowId);
    return handle.startUpdate(manualResetUpdate, {
      args: [input],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
  });
}

export async function requestRetry(
  client: Client,
  phoneNumberId: string,
  input: RetryInput,
  opts: RequestOptions,
): Promise<RequestOutcome> {
  return request(client, phoneNumberId, opts, async (workflowId) => {
    const handle = client.workflow.getHandle(workflowId);
    return handle.startUpdate(retryUpdate, { args: [input], waitForStage: WorkflowUpdateStage.ACCEPTED });
  });
}

async function request(
  client: Client,
  phoneNumberId: string,
  opts: RequestOptions,
  start: (workflowId: string) => Promise<{ result(): Promise<RegisterNumberStatus> }>,
): Promise<RequestOutcome> {
  const execution = await describeOnboarding(client, phoneNumberId);
  // A closed workflow cannot take an Update; say what it ended as rather than Temporal's error.
  if (execution.executionStatus !== 'RUNNING') throw closedError(execution);
  const deadline = Date.now() + opts.waitTimeoutMs;
  let answered: RegisterNumberStatus | undefined;
  try {
    const update = await start(execution.workflowId);
    // The Update answers once the workflow has acted on the request: finished, back to a step
    // (retry), or back to waiting when the step failed again. A refusal is known at once.
    answered = await withinDeadline(update.result(), deadline);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw await refusal(client, execution.workflowId, phoneNumberId, err, opts.queryTimeoutMs);
    }
    // The workflow closed between the describe and the Update (another operator, the deadline).
    if (err instanceof WorkflowNotFoundError) throw await closedMeanwhile(client, phoneNumberId);
    throw err;
  }
  if (answered === undefined) return { kind: 'still-working' };
  return follow(client, execution.workflowId, answered, deadline, opts.queryTimeoutMs);
}

/** After a retry the workflow is back at a step: follow it until it finishes or parks again. */
async function follow(
  client: Client,
  workflowId: string,
  first: RegisterNumberStatus,
  deadline: number,
  queryTimeoutMs: number,
): Promise<RequestOutcome> {
  let status = first;
  for (;;) {
    if (FINAL_STAGES.includes(status.stage)) return { kind: 'finished', status };
    if (status.stage === 'AwaitingManualReset') return { kind: 'waiting-again', status };
    if (Date.now() >= deadline) return { kind: 'still-working', status };
    await sleep(FOLLOW_POLL_MS);
    status = await queryStatus(client, workflowId, queryTimeoutMs);
  }
}

function closedError(execution: OnboardingExecution): OpsError {
  return new OpsError(
    'NOT_WAITING',
    `number ${execution.phoneNumberId} is not waiting for an operator: its workflow has closed as ` +
      `${execution.stage ?? 'unknown stage'} (Temporal status ${execution.executionStatus})`,
  );
}

async function closedMeanwhile(client: Client, phoneNumberId: string): Promise<OpsError> {
  const execution = await describeOnboarding(client, phoneNumberId);
  return execution.executionStatus === 'RUNNING'
    ? new OpsError('REFUSED', `number ${phoneNumberId}: the workflow did not take the request; try again`)
    : closedError(execution);
}

/**
 * The validator's reason, classified by the workflow's live stage (not by the reason's wording):
 * a workflow busy with a step is NOT_WAITING, a waiting one refused the payload itself.
 */
async function refusal(
  client: Client,
  workflowId: string,
  phoneNumberId: string,
  err: WorkflowUpdateFailedError,
  queryTimeoutMs: number,
): Promise<OpsError> {
  const reason = firstLine(err.cause?.message ?? err.message);
  const stage = await queryStatus(client, workflowId, queryTimeoutMs).then(
    (s) => s.stage,
    () => undefined,
  );
  if (stage !== undefined && stage !== 'AwaitingManualReset') {
    return new OpsError(
      'NOT_WAITING',
      `number ${phoneNumberId} is not waiting for an operator: its workflow is ${stage}`,
    );
  }
  return new OpsError('REFUSED', `number ${phoneNumberId}: the workflow refused the request: ${reason}`);
}

async function withinDeadline<T>(work: Promise<T>, deadline: number): Promise<T | undefined> {
  const timer = new AbortController();
  try {
    return await Promise.race([
      work,
      sleep(Math.max(0, deadline - Date.now()), undefined, { signal: timer.signal }).then(() => undefined),
    ]);
  } finally {
    timer.abort();
  }
}
