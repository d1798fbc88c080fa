// The workers one process runs, one per task queue of the activity registry: workflows and vault
// work on whatsapp-onboarding, Graph calls on whatsapp-graph. The Graph queue's rate cap is
// enforced by the Temporal server across every worker polling it, so scaling out never
// multiplies the rate Meta sees.
import { extname, join } from 'node:path';
import type { DataConverter, Duration } from '@temporalio/common';
import { Runtime, Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import {
  activitiesByTaskQueue,
  createActivities,
  TASK_QUEUE_ROLES,
  type ActivityDeps,
  type TaskQueueName,
} from '../activities';
import { budgetedCalls, type GraphBudget } from '../graph/graph-budget';
import { createRatePacer, graphPacingRate, pacedCalls } from '../graph/graph-rate-pacer';
import { defaultWorkerIdentity, watchGraphWorkerShare } from '../graph/graph-worker-share';
import { activityMetricsInterceptor, createActivityMetrics } from '../metrics/activity-metrics-interceptor';
import { GRAPH_TASK_QUEUE } from '../workflows/messages';

/** The workflows module, from source (.ts under tsx and vitest) or from the build (.js). */
export const WORKFLOWS_PATH = join(__dirname, '..', 'workflows', `index${extname(__filename)}`);

/**
 * How long activities in flight may finish after shutdown begins before they are cancelled. Above
 * the Graph client's own timeouts (2 x 20 s by default), so the call that sets a PIN gets to record
 * it, and below the 60 s an orchestrator waits before it kills (docker-compose.yml stop_grace_period).
 */
export const WORKER_SHUTDOWN_GRACE_TIME: Duration = '45s';

export interface OnboardingWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  deps: ActivityDeps;
  /** GRAPH_MAX_REQUESTS_PER_SECOND: global cap across all workers on the Graph queue. */
  graphMaxRequestsPerSecond: number;
  dataConverter?: DataConverter;
  /** A prebuilt bundle (production, and suites that start many workers); else built from source. */
  workflowBundle?: WorkflowBundleOption;
  maxConcurrentActivities?: number;
  maxConcurrentWorkflowTasks?: number;
  shutdownGraceTime?: Duration;
  /** Meta's per-WABA and app budgets, fed by the Graph client's usage readings (graph-budget.ts). */
  graphBudget?: GraphBudget;
}

export interface OnboardingWorkers {
  /** One worker per task queue. */
  workers: ReadonlyMap<TaskQueueName, Worker>;
  /** Runs them all until shutdown (or a signal, with Temporal's default signal handling). */
  run(): Promise<void>;
  shutdown(): void;
  /** Runs them all while `fn` runs, then shuts them down. */
  runUntil<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Resolves once the other workers know of this one, so its Graph calls need not wait for that
   * (graph-worker-share.ts); only while the workers run, since it waits to be listed as polling.
   */
  graphReady(): Promise<void>;
}

export async function createOnboardingWorkers(opts: OnboardingWorkersOptions): Promise<OnboardingWorkers> {
  // The server's task-queue limiter caps the Graph rate across all workers, but when an idle
  // queue fills it hands out its whole bucket at once (2x R in the first second, measured). So
  // every worker also paces its requests, right before each goes out, on a grid of slots shared
  // by all workers, taking only its own share of the slots (graph-rate-pacer.ts): together they
  // stay under R from the first second on (graphPacingRate leaves room for late requests).
  const identity = defaultWorkerIdentity();
  const share = watchGraphWorkerShare({
    service: opts.connection.workflowService,
    namespace: opts.namespace,
    taskQueue: GRAPH_TASK_QUEUE,
    identity,
    onError: warnOnce(
      'cannot list the Graph queue pollers (DescribeTaskQueue): pacing as if this were the only worker',
    ),
  });
  const grid = createRatePacer(graphPacingRate(opts.graphMaxRequestsPerSecond), {
    share: () => share.current(),
  });
  const pacer = {
    async wait() {
      await share.ready();
      await grid.wait();
    },
  };
  // Meta's budget first (it may hold the call back for a while), then the cap's slot.
  const budgeted = opts.graphBudget ? budgetedCalls(opts.deps.graph, opts.graphBudget) : opts.deps.graph;
  const activities = createActivities({ ...opts.deps, graph: pacedCalls(budgeted, pacer) });
  const byQueue = activitiesByTaskQueue(activities);
  const workflowSource = opts.workflowBundle
    ? { workflowBundle: opts.workflowBundle }
    : { workflowsPath: WORKFLOWS_PATH };
  const queues = Object.keys(TASK_QUEUE_ROLES) as TaskQueueName[];
  const metrics = createActivityMetrics(
    Runtime.instance().metricMeter.withTags({ namespace: opts.namespace }),
  );
  const created = await Promise.all(
    queues.map((taskQueue) => {
      const role = TASK_QUEUE_ROLES[taskQueue];
      return Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue,
        activities: byQueue[taskQueue],
        // Graph and vault outcomes by failure type; the paced queue's activities are the Graph calls.
        interceptors: { activity: [activityMetricsInterceptor(metrics, { graphCalls: role.paced })] },
        dataConverter: opts.dataConverter,
        maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 100,
        shutdownGraceTime: opts.shutdownGraceTime ?? WORKER_SHUTDOWN_GRACE_TIME,
        ...(role.runsWorkflows && {
          ...workflowSource,
          maxConcurrentWorkflowTaskExecutions: opts.maxConcurrentWorkflowTasks ?? 40,
        }),
        ...(role.paced && { maxTaskQueueActivitiesPerSecond: opts.graphMaxRequestsPerSecond, identity }),
      });
    }),
  );
  const workers = new Map(queues.map((queue, i) => [queue, created[i] as Worker] as const));
  const shutdown = () => {
    for (const w of workers.values()) {
      if (w.getState() === 'RUNNING') w.shutdown();
    }
  };
  const run = async () => {
    try {
      await Promise.all([...workers.values()].map((w) => w.run()));
    } finally {
      share.stop();
    }
  };
  return {
    workers,
    shutdown,
    run,
    graphReady: () => share.ready(),
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

function warnOnce(message: string): (err: unknown) => void {
  let warned = false;
  return (err) => {
    if (warned) return;
    warned = true;
    Runtime.instance().logger.warn(message, { error: err instanceof Error ? err.message : String(err) });
  };
}
