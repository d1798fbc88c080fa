// The one way a number's onboarding is started: the batch starter, the onboarding trigger, the
// demo and the operator CLI all call startOnboarding, so "one live workflow per number, and a
// number already handled is reported, never started twice" holds whoever starts it.
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
} from '@temporalio/common';
import {
  DEFAULT_REGISTER_CHOICE,
  ONBOARDING_TASK_QUEUE,
  WORKFLOW_TYPE,
  onboardingStatusKey,
  workflowIdFor,
  type OnboardingStage,
  type RegisterNumberInput,
  type RegisterNumberResult,
} from '../workflows/messages';

export { OnboardingInputError, onboardingInputProblems, WABA_ID_PATTERN } from './onboarding-input';
import { OnboardingInputError, onboardingInputProblems } from './onboarding-input';

export type StartOutcome = 'started' | 'already-running' | 'already-completed' | 'restarted';

export interface StartOnboardingOptions {
  /**
   * Start a new run even when the number already has a closed one (any close status). A running
   * workflow is never replaced: it is reported as 'already-running'.
   */
  reonboard?: boolean;
  /** Defaults to the contract queue, whatsapp-onboarding. */
  taskQueue?: string;
  /** Gives up on the Temporal calls after this point in time (ms since epoch or a Date). */
  deadline?: number | Date;
  /** Kept on the run (e.g. the security event a run was started for, to recognise a redelivery). */
  memo?: Record<string, unknown>;
  /** Put before the UI's summary line, e.g. "PIN_CHANGED reported". */
  summaryPrefix?: string;
}

export interface StartOnboardingResult {
  outcome: StartOutcome;
  workflowId: string;
  /** The run started, or the existing run that was reported. */
  runId?: string;
  /** For an existing run: Temporal's execution status (RUNNING, COMPLETED, FAILED, TERMINATED...). */
  executionStatus?: string;
  /** For an existing run: its OnboardingStatus search attribute (e.g. AwaitingManualReset). */
  onboardingStatus?: string;
}

/** The single line the Temporal UI shows in the workflow list: "+1 555… · tenant acme · WABA 123". */
export function onboardingSummary(input: RegisterNumberInput): string {
  const parts = [input.displayPhoneNumber ?? `number ${input.phoneNumberId}`];
  if (input.tenant) parts.push(`tenant ${input.tenant}`);
  if (input.wabaId) parts.push(`WABA ${input.wabaId}`);
  return parts.join(' · ');
}

function onboardingDetails(input: RegisterNumberInput): string {
  return [
    `**Two-step verification PIN onboarding** for phone-number id \`${input.phoneNumberId}\`.`,
    '',
    `- display number: ${input.displayPhoneNumber ?? 'unknown'}`,
    `- WABA: ${input.wabaId ?? 'unknown'}`,
    `- tenant: ${input.tenant ?? 'none'}`,
    `- manual-reset deadline: ${input.manualResetDeadline ?? 'workflow default'}`,
    `- register on Cloud API: ${input.register ?? `${DEFAULT_REGISTER_CHOICE} (default)`}`,
    '',
    'Generates a PIN, stores it in the vault, sets it on Meta, then registers the number on ' +
      'Cloud API with the same stored PIN when needed. The live stage is the ' +
      '`OnboardingStatus` search attribute and the `status` query.',
  ].join('\n');
}

type RegisterNumberWorkflow = (input: RegisterNumberInput) => Promise<RegisterNumberResult>;

/** OnboardingStatus as a new run starts: until the PIN is safely stored, it is being stored. */
export const STATUS_AT_START = 'StoringPin' satisfies OnboardingStage;

/**
 * Starts registerNumber for one number, or reports the run the number already has.
 *
 * Without `reonboard`, the id reuse policy REJECT_DUPLICATE means any earlier run — completed,
 * failed, terminated or timed out — is reported as 'already-completed' with its executionStatus,
 * never replaced. That is deliberate: a run that ended in any way may have stored or even set a
 * PIN, so starting over (and overwriting that PIN on Meta) is an operator's decision, taken with
 * `reonboard: true` (ALLOW_DUPLICATE), which then reports 'restarted'. The conflict policy FAIL
 * means a running workflow is never replaced, with or without `reonboard`.
 */
export async function startOnboarding(
  client: Client,
  input: RegisterNumberInput,
  opts: StartOnboardingOptions = {},
): Promise<StartOnboardingResult> {
  const problems = onboardingInputProblems(input);
  if (problems.length > 0) throw new OnboardingInputError(problems);
  const run = () => startOrReport(client, input, opts);
  return opts.deadline === undefined ? run() : client.withDeadline(opts.deadline, run);
}

async function startOrReport(
  client: Client,
  input: RegisterNumberInput,
  opts: StartOnboardingOptions,
): Promise<StartOnboardingResult> {
  const workflowId = workflowIdFor(input.phoneNumberId);
  // With reonboard, learn beforehand whether this replaces a closed run, only to report
  // 'restarted' rather than 'started'; the start itself stays guarded by the FAIL policy.
  let hadEarlierRun = false;
  if (opts.reonboard) {
    const existing = await describeLatest(client, workflowId);
    if (existing?.executionStatus === 'RUNNING') return { outcome: 'already-running', ...existing };
    hadEarlierRun = existing !== undefined;
  }
  // A closed run can vanish (retention) between the failed start and the describe: try once more.
  for (let attempt = 1; ; attempt++) {
    try {
      const handle = await client.workflow.start<RegisterNumberWorkflow>(WORKFLOW_TYPE, {
        workflowId,
        taskQueue: opts.taskQueue ?? ONBOARDING_TASK_QUEUE,
        args: [input],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        workflowIdReusePolicy: opts.reonboard
          ? WorkflowIdReusePolicy.ALLOW_DUPLICATE
          : WorkflowIdReusePolicy.REJECT_DUPLICATE,
        // Free at start, billed as an action when upserted: the first stage a number can wait in
        // (the PIN is generated in milliseconds, then stored; workflows skip writing it again).
        typedSearchAttributes: [{ key: onboardingStatusKey, value: STATUS_AT_START }],
        staticSummary: `${opts.summaryPrefix ? `${opts.summaryPrefix} · ` : ''}${onboardingSummary(input)}`,
        ...(opts.memo ? { memo: opts.memo } : {}),
        staticDetails: onboardingDetails(input),
      });
      return {
        outcome: hadEarlierRun ? 'restarted' : 'started',
        workflowId,
        runId: handle.firstExecutionRunId,
      };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      const existing = await describeLatest(client, workflowId);
      if (existing === undefined) {
        if (attempt < 2) continue;
        throw err;
      }
      return {
        outcome: existing.executionStatus === 'RUNNING' ? 'already-running' : 'already-completed',
        ...existing,
      };
    }
  }
}

async function describeLatest(
  client: Client,
  workflowId: string,
): Promise<Omit<StartOnboardingResult, 'outcome'> | undefined> {
  try {
    const description = await client.workflow.getHandle(workflowId).describe();
    return {
      workflowId,
      runId: description.runId,
      executionStatus: description.status.name,
      onboardingStatus: description.typedSearchAttributes.get(onboardingStatusKey),
    };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}
