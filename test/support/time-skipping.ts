// The workflow on Temporal's time-skipping test server: the server is real (its clock skips
// ahead whenever the test waits on a result), the activities are whatever the test registers,
// routed to their task queues by the activity registry exactly as the product's worker does.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import {
  activitiesByTaskQueue,
  TASK_QUEUE_ROLES,
  type OnboardingActivities,
  type TaskQueueName,
} from '../../src/activities';
import {
  ONBOARDING_TASK_QUEUE,
  WORKFLOW_TYPE,
  workflowIdFor,
  type RegisterNumberInput,
  type RegisterNumberResult,
} from '../../src/workflows/messages';
import { workflowBundle } from './onboarding-harness';

export async function startTimeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: inject('timeSkippingServerPath') } },
  });
  // The time-skipping server starts with no custom search attributes; the product needs its one.
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: { OnboardingStatus: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
  });
  return env;
}

/** Real activities, or a test's own functions with the same names and signatures. */
export type TestActivities = Partial<OnboardingActivities>;

/** One worker per task queue, serving these activities, while `fn` runs; all stopped after. */
export async function runWorkersWhile<T>(
  env: TestWorkflowEnvironment,
  activities: TestActivities,
  fn: () => Promise<T>,
): Promise<T> {
  const byQueue = activitiesByTaskQueue(activities);
  const bundle = await workflowBundle();
  const queues = Object.keys(TASK_QUEUE_ROLES) as TaskQueueName[];
  const workers = await Promise.all(
    queues.map((taskQueue) =>
      Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        activities: byQueue[taskQueue],
        // No sticky cache: the test server never hands a dead worker's sticky tasks back to the
        // normal queue, so a test that swaps workers (a restart with other keys) would hang.
        maxCachedWorkflows: 0,
        ...(TASK_QUEUE_ROLES[taskQueue].runsWorkflows && { workflowBundle: bundle }),
      }),
    ),
  );
  // Each worker runs while the next one (and finally fn) does; all shut down when fn settles.
  const runAll = (i: number): Promise<T> => {
    const worker = workers[i];
    return worker ? worker.runUntil(() => runAll(i + 1)) : fn();
  };
  return runAll(0);
}

/** Starts registerNumber for the input's number and waits for its result (skipping time). */
export function executeRegisterNumber(
  env: TestWorkflowEnvironment,
  input: RegisterNumberInput,
): Promise<RegisterNumberResult> {
  return env.client.workflow.execute(WORKFLOW_TYPE, {
    taskQueue: ONBOARDING_TASK_QUEUE,
    workflowId: workflowIdFor(input.phoneNumberId),
    args: [input],
  }) as Promise<RegisterNumberResult>;
}

/** Starts registerNumber for the input's number and returns at once. */
export function startRegisterNumber(env: TestWorkflowEnvironment, input: RegisterNumberInput) {
  return env.client.workflow.start(WORKFLOW_TYPE, {
    taskQueue: ONBOARDING_TASK_QUEUE,
    workflowId: workflowIdFor(input.phoneNumberId),
    args: [input],
  });
}
