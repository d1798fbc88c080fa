// Finding one number's onboarding workflow and asking it for its status, with the failures an
// operator can act on turned into OpsErrors: no such number, or nobody answering the query.
import { isGrpcDeadlineError, type Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import {
  onboardingStatusKey,
  PHONE_NUMBER_ID_PATTERN,
  statusQuery,
  workflowIdFor,
  type RegisterNumberStatus,
} from '../workflows/messages';
import { firstLine } from '../cli/first-line';
import { UsageError } from '../cli/usage-error';
import { OpsError } from './ops-error';

const WORKFLOW_ID_PREFIX = workflowIdFor('');

export interface OnboardingExecution {
  phoneNumberId: string;
  workflowId: string;
  runId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED, TIMED_OUT... */
  executionStatus: string;
  /** The OnboardingStatus search attribute (the stage as the UI's search sees it). */
  stage?: string;
  startTime: Date;
  closeTime?: Date;
}

/** Accepts the phone-number id, or the workflow id as copied from the UI. */
export function parsePhoneNumberId(text: string | undefined): string {
  if (text === undefined || text === '') {
    throw new UsageError('a phone-number id is required (e.g. 106540352242921)');
  }
  const id = text.startsWith(WORKFLOW_ID_PREFIX) ? text.slice(WORKFLOW_ID_PREFIX.length) : text;
  if (!PHONE_NUMBER_ID_PATTERN.test(id)) {
    throw new UsageError(`"${text.slice(0, 40)}" is not a phone-number id (1-32 digits)`);
  }
  return id;
}

export function phoneNumberIdOf(workflowId: string): string {
  return workflowId.startsWith(WORKFLOW_ID_PREFIX) ? workflowId.slice(WORKFLOW_ID_PREFIX.length) : workflowId;
}

/** The number's latest run; OpsError UNKNOWN_NUMBER when it never had one in this namespace. */
export async function describeOnboarding(
  client: Client,
  phoneNumberId: string,
): Promise<OnboardingExecution> {
  const workflowId = workflowIdFor(phoneNumberId);
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    return {
      phoneNumberId,
      workflowId,
      runId: d.runId,
      executionStatus: d.status.name,
      stage: d.typedSearchAttributes.get(onboardingStatusKey),
      startTime: d.startTime,
      closeTime: d.closeTime,
    };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new OpsError(
        'UNKNOWN_NUMBER',
        `no onboarding workflow for number ${phoneNumberId} (workflow id ${workflowId}) in namespace ` +
          `"${client.options.namespace}"`,
      );
    }
    throw err;
  }
}

/**
 * The workflow's `status` query. A closed workflow is answered by a worker replaying it, so with
 * no worker polling the query would wait for ever: give up after `timeoutMs`.
 */
export async function queryStatus(
  client: Client,
  workflowId: string,
  timeoutMs: number,
): Promise<RegisterNumberStatus> {
  try {
    return await client.withDeadline(Date.now() + timeoutMs, () =>
      client.workflow.getHandle(workflowId).query(statusQuery),
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new OpsError('UNKNOWN_NUMBER', `no onboarding workflow ${workflowId}`);
    }
    const why = isGrpcDeadlineError(err)
      ? `no answer within ${Math.round(timeoutMs / 1000)} s: is a worker running?`
      : firstLine(err);
    throw new OpsError('NO_ANSWER', `${workflowId} did not answer the status query (${why})`);
  }
}
