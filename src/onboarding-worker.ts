// The two workers one process runs: workflows and vault work on whatsapp-onboarding, Graph
// calls on whatsapp-graph. The Graph queue's rate cap is enforced by the Temporal server
// across every worker polling it, so scaling out never multiplies the rate Meta sees.
import { extname, join } from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { Worker, type NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities';
import { createRatePacer } from './graph/graph-rate-pacer';
import { GRAPH_TASK_QUEUE, ONBOARDING_TASK_QUEUE } from './workflows/messages';

/** The workflows module, from source (.ts under tsx and vitest) or from the build (.js). */
export const WORKFLOWS_PATH = join(__dirname, 'workflows', `index${extname(__filename)}`);

export interface OnboardingWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  deps: ActivityDeps;
  /** GRAPH_MAX_REQUESTS_PER_SECOND: global cap across all workers on the Graph queue. */
  graphMaxRequestsPerSecond: number;
  dataConverter?: DataConverter;
  /** A prebuilt bundle (production, and suites that start many workers); else built from source. */
  workflowBundle?: WorkflowBundle;
  maxConcurrentActivities?: number;
  maxConcurrentWorkflowTasks?: number;
}

export interface OnboardingWorkers {
  onboarding: Worker;
  graph: Worker;
  /** Runs both until shutdown (or a signal, with Temporal's default signal handling). */
  run(): Promise<void>;
  shutdown(): void;
  /** Runs both while `fn` runs, then shuts them down. */
  runUntil<T>(fn: () => Promise<T>): Promise<T>;
}

export async function createOnboardingWorkers(opts: OnboardingWorkersOptions): Promise<OnboardingWorkers> {
  // The server's task-queue limiter caps the Graph rate across all workers, but when an idle
  // queue fills it hands out its whole bucket at once (2x R in the first second, measured);
  // pacing each worker's Graph requests from an empty start, right before the request goes out,
  // keeps that burst from reaching Meta. The 5 % margin absorbs timer and network jitter.
  const pacer = createRatePacer(opts.graphMaxRequestsPerSecond * 0.95);
  const graphApi = opts.deps.graph;
  const activities = createActivities({
    ...opts.deps,
    graph: {
      setTwoStepPin: async (input) => {
        await pacer.wait();
        return graphApi.setTwoStepPin(input);
      },
    },
  });
  const { setTwoStepPin, ...onboardingActivities } = activities;
  const workflowSource = opts.workflowBundle
    ? { workflowBundle: opts.workflowBundle }
    : { workflowsPath: WORKFLOWS_PATH };
  const [onboarding, graph] = await Promise.all([
    Worker.create({
      connection: opts.connection,
      namespace: opts.namespace,
      taskQueue: ONBOARDING_TASK_QUEUE,
      ...workflowSource,
      activities: onboardingActivities,
      dataConverter: opts.dataConverter,
      maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 100,
      maxConcurrentWorkflowTaskExecutions: opts.maxConcurrentWorkflowTasks ?? 40,
    }),
    Worker.create({
      connection: opts.connection,
      namespace: opts.namespace,
      taskQueue: GRAPH_TASK_QUEUE,
      activities: { setTwoStepPin },
      dataConverter: opts.dataConverter,
      maxTaskQueueActivitiesPerSecond: opts.graphMaxRequestsPerSecond,
      maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 100,
    }),
  ]);
  const shutdown = () => {
    for (const w of [onboarding, graph]) {
      if (w.getState() === 'RUNNING') w.shutdown();
    }
  };
  const run = async () => {
    await Promise.all([onboarding.run(), graph.run()]);
  };
  return {
    onboarding,
    graph,
    shutdown,
    run,
    async runUntil<T>(fn: () => Promise<T>): Promise<T> {
      const running = run();
      try {
        return await Promise.race([
          fn(),
          running.then(() => {
            throw new Error('the workers stopped before the work finished');
          }),
        ]);
      } finally {
        shutdown();
        await running;
      }
    },
  };
}
