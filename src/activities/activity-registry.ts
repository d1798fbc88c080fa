// Which activity runs on which task queue, declared once. The worker splits activities across its
// queues from this table, the workflow proxies each queue's activities from its types, and tests
// register their activities through it too. Graph calls only happen on the Graph queue, whose rate
// the server caps across every worker and each worker paces as well: an activity whose factory
// needs the Graph client cannot be routed elsewhere (the onboarding queue's factories are given
// no Graph client, so such an entry fails to compile).
import { GRAPH_TASK_QUEUE, ONBOARDING_TASK_QUEUE } from '../workflows/messages';
import type { ActivityDeps, OnboardingQueueDeps } from './activity-deps';
import { createGeneratePin } from './generate-pin';
import { createLookUpRegistration } from './look-up-registration';
import { createMarkPinActive } from './mark-pin-active';
import { createRegisterPhoneNumber } from './register-phone-number';
import { createRecordSecurityEvent } from './record-security-event';
import { createSetTwoStepPin } from './set-two-step-pin';
import { createStorePinInVault } from './store-pin-in-vault';

/** What each task queue's worker is: the one that runs workflows, the one that is rate-capped. */
export const TASK_QUEUE_ROLES = {
  [ONBOARDING_TASK_QUEUE]: { runsWorkflows: true, paced: false },
  [GRAPH_TASK_QUEUE]: { runsWorkflows: false, paced: true },
} as const;

export type TaskQueueName = keyof typeof TASK_QUEUE_ROLES;

type ActivityFunction = (input: never) => Promise<unknown>;

// Property (not method) signatures, so a factory's parameter is checked strictly: a factory that
// needs `graph` is not assignable to one given OnboardingQueueDeps.
type RegisteredActivity =
  | { taskQueue: typeof ONBOARDING_TASK_QUEUE; create: (deps: OnboardingQueueDeps) => ActivityFunction }
  | { taskQueue: typeof GRAPH_TASK_QUEUE; create: (deps: ActivityDeps) => ActivityFunction };

export const ACTIVITY_REGISTRY = {
  generatePin: { taskQueue: ONBOARDING_TASK_QUEUE, create: createGeneratePin },
  storePinInVault: { taskQueue: ONBOARDING_TASK_QUEUE, create: createStorePinInVault },
  setTwoStepPin: { taskQueue: GRAPH_TASK_QUEUE, create: createSetTwoStepPin },
  markPinActive: { taskQueue: ONBOARDING_TASK_QUEUE, create: createMarkPinActive },
  lookUpRegistration: { taskQueue: GRAPH_TASK_QUEUE, create: createLookUpRegistration },
  registerPhoneNumber: { taskQueue: GRAPH_TASK_QUEUE, create: createRegisterPhoneNumber },
  recordSecurityEvent: { taskQueue: ONBOARDING_TASK_QUEUE, create: createRecordSecurityEvent },
} as const satisfies Record<string, RegisteredActivity>;

type Registry = typeof ACTIVITY_REGISTRY;
export type ActivityName = keyof Registry;

/** Every activity by name, as the worker registers them and the workflow calls them. */
export type OnboardingActivities = { [K in ActivityName]: ReturnType<Registry[K]['create']> };

/** The activities one task queue serves: what the workflow may proxy with that queue's options. */
export type ActivitiesOn<Q extends TaskQueueName> = {
  [K in ActivityName as Registry[K]['taskQueue'] extends Q ? K : never]: OnboardingActivities[K];
};

const ACTIVITY_NAMES = Object.keys(ACTIVITY_REGISTRY) as ActivityName[];

export function createActivities(deps: ActivityDeps): OnboardingActivities {
  const { graph: _graph, ...onboardingQueueDeps } = deps;
  const built: Partial<Record<ActivityName, unknown>> = {};
  for (const name of ACTIVITY_NAMES) {
    const entry: RegisteredActivity = ACTIVITY_REGISTRY[name];
    built[name] =
      entry.taskQueue === GRAPH_TASK_QUEUE ? entry.create(deps) : entry.create(onboardingQueueDeps);
  }
  return built as OnboardingActivities;
}

/**
 * Splits activities (the real ones, or a test's own functions under the same names) into what
 * each task queue's worker registers.
 */
export function activitiesByTaskQueue<A extends Partial<Record<ActivityName, ActivityFunction>>>(
  activities: A,
): Record<TaskQueueName, Partial<A>> {
  const queues = Object.keys(TASK_QUEUE_ROLES) as TaskQueueName[];
  const byQueue = Object.fromEntries(queues.map((q) => [q, {}])) as Record<TaskQueueName, Partial<A>>;
  for (const name of ACTIVITY_NAMES) {
    const fn = activities[name];
    if (fn !== undefined) Object.assign(byQueue[ACTIVITY_REGISTRY[name].taskQueue], { [name]: fn });
  }
  return byQueue;
}
