// Which share of the Graph rate this worker process owns: the workers polling the Graph task queue,
// as the Temporal server lists them (DescribeTaskQueue pollers), sorted by identity; this worker's
// position in that list is its index. Every worker reads the same list, so they agree on who owns
// which slot of the shared pacing grid (graph-rate-pacer.ts) without talking to each other.
//
// A worker that joins must not use a slot before the others know it is there, or both would use
// it. So before its first Graph call it waits until the server lists it among the pollers, then
// one refresh period more (by then every other worker has read a list with it in), and reads the
// list once again: the share it starts with is one the others agree with.
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { temporal } from '@temporalio/proto';
import type { PacerShare } from './graph-rate-pacer';

type WorkflowService = temporal.api.workflowservice.v1.WorkflowService;
const ACTIVITY = temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY;

/** The identity the SDK would give the worker by default; set explicitly so it can be found. */
export function defaultWorkerIdentity(): string {
  return `${process.pid}@${hostname()}`;
}

export interface GraphWorkerShareOptions {
  service: Pick<WorkflowService, 'describeTaskQueue'>;
  namespace: string;
  taskQueue: string;
  identity: string;
  /** How often the poller list is read again: how long the others may take to see a newcomer. */
  refreshMs?: number;
  /** Waited after this worker first appears in the list, beyond refreshMs (request time, timers). */
  joinMarginMs?: number;
  /**
   * A poller last seen longer ago than this is taken for gone. An idle worker's long poll lasts
   * about a minute, so anything shorter would drop live workers from the list.
   */
  staleAfterMs?: number;
  /** How long the first caller waits to see itself listed before going on with what it knows. */
  firstListTimeoutMs?: number;
  onError?: (err: unknown) => void;
  now?: () => number;
}

export interface GraphWorkerShare {
  current(): PacerShare;
  /**
   * Resolves once the other workers know of this one (it was listed one refresh period ago), or
   * after the first-list timeout when the list cannot be read or never shows it. Waited for before
   * the first Graph call only: the worker is polling by then, so it soon appears.
   */
  ready(): Promise<void>;
  /** Reads the list now; resolves to the share it gives. */
  refresh(): Promise<PacerShare>;
  stop(): void;
}

/** Index and count from a poller list: this worker is always counted, even before its first poll. */
export function shareFromPollers(
  pollers: ReadonlyArray<{
    identity?: string | null;
    lastAccessTime?: { seconds?: unknown; nanos?: number | null } | null;
  }>,
  identity: string,
  nowMs: number,
  staleAfterMs: number,
): PacerShare {
  const live = new Set<string>([identity]);
  for (const p of pollers) {
    if (!p.identity) continue;
    const seenMs = Number(p.lastAccessTime?.seconds ?? 0) * 1000 + (p.lastAccessTime?.nanos ?? 0) / 1e6;
    if (nowMs - seenMs <= staleAfterMs) live.add(p.identity);
  }
  const sorted = [...live].sort();
  return { index: sorted.indexOf(identity), count: sorted.length };
}

export function watchGraphWorkerShare(opts: GraphWorkerShareOptions): GraphWorkerShare {
  const refreshMs = opts.refreshMs ?? 1_000;
  const joinMarginMs = opts.joinMarginMs ?? 500;
  const staleAfterMs = opts.staleAfterMs ?? 120_000;
  const firstListTimeoutMs = opts.firstListTimeoutMs ?? 10_000;
  const now = opts.now ?? Date.now;
  let share: PacerShare = { index: 0, count: 1 };
  let listedItself = false;
  let stopped = false;

  async function refresh(): Promise<PacerShare> {
    // The enhanced mode gathers the pollers of every partition of the queue; the legacy answer
    // lists only the root partition's, which misses a worker whose polls all went elsewhere.
    const res = await opts.service.describeTaskQueue({
      namespace: opts.namespace,
      taskQueue: { name: opts.taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      apiMode: temporal.api.enums.v1.DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED,
      taskQueueTypes: [ACTIVITY],
      reportPollers: true,
    });
    const pollers = [
      ...(res.pollers ?? []),
      ...Object.values(res.versionsInfo ?? {}).flatMap((v) => v.typesInfo?.[ACTIVITY]?.pollers ?? []),
    ];
    share = shareFromPollers(pollers, opts.identity, now(), staleAfterMs);
    listedItself ||= pollers.some((p) => p.identity === opts.identity);
    return share;
  }
  const refreshQuietly = () => refresh().catch((err: unknown) => opts.onError?.(err));

  /** Until listed (read every 200 ms), then one refresh period for the others to see it. */
  async function join(): Promise<void> {
    const giveUpAt = Date.now() + firstListTimeoutMs;
    while (!listedItself && !stopped && Date.now() < giveUpAt) {
      await refreshQuietly();
      if (!listedItself) await sleep(200);
    }
    if (!listedItself || stopped) return;
    await sleep(refreshMs + joinMarginMs);
    await refreshQuietly();
  }

  void refreshQuietly();
  let joined: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (!stopped) void refreshQuietly();
  }, refreshMs);
  timer.unref();

  return {
    current: () => share,
    ready: () => (joined ??= join()),
    refresh,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
