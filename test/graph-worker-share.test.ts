// The workers' shares of the Graph rate, from the poller list the real dev server keeps.
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { shareFromPollers, watchGraphWorkerShare } from '../src/graph/graph-worker-share';
import { GRAPH_TASK_QUEUE } from '../src/workflows/messages';

const namespace = 'graph-share';

describe('shareFromPollers', () => {
  const now = 1_000_000_000;
  const seen = (agoMs: number) => ({ seconds: (now - agoMs) / 1000, nanos: 0 });

  it('sorts the live identities and counts this worker even before its first poll', () => {
    const pollers = [
      { identity: '9@b', lastAccessTime: seen(1_000) },
      { identity: '7@a', lastAccessTime: seen(30_000) },
    ];
    expect(shareFromPollers(pollers, '8@a', now, 120_000)).toEqual({ index: 1, count: 3 });
    expect(shareFromPollers(pollers, '9@b', now, 120_000)).toEqual({ index: 1, count: 2 });
  });

  it('drops pollers not seen within the stale limit', () => {
    const pollers = [
      { identity: '1@gone', lastAccessTime: seen(200_000) },
      { identity: '2@live', lastAccessTime: seen(10_000) },
    ];
    expect(shareFromPollers(pollers, '3@me', now, 120_000)).toEqual({ index: 1, count: 2 });
  });
});

describe('watchGraphWorkerShare on the dev server', () => {
  let connection: Connection;
  let client: Client;
  const polls = new AbortController();

  beforeAll(async () => {
    connection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection, namespace });
    // Three pollers of the Graph queue, as three worker processes would be: long polls with
    // identities of their own (one process can host only one SDK worker per task queue). Each
    // lands on one partition of the queue, not necessarily the root one.
    for (const identity of ['share-b', 'share-a', 'share-c']) {
      void connection
        .withAbortSignal(polls.signal, () =>
          connection.withDeadline(Date.now() + 60_000, () =>
            client.workflowService.pollActivityTaskQueue({
              namespace,
              taskQueue: { name: GRAPH_TASK_QUEUE },
              identity,
            }),
          ),
        )
        .catch(() => undefined);
    }
  });

  afterAll(async () => {
    polls.abort();
    await connection.close();
  });

  it('gives every poller of the Graph queue a distinct index out of the same count', async () => {
    const watch = (identity: string, more: { firstListTimeoutMs?: number } = {}) =>
      watchGraphWorkerShare({
        service: client.workflowService,
        namespace,
        taskQueue: GRAPH_TASK_QUEUE,
        identity,
        refreshMs: 60_000,
        ...more,
      });
    const watches = ['share-a', 'share-b', 'share-c'].map((id) => watch(id));
    try {
      // The polls reach the server a moment after they are sent.
      // Under load the server's per-partition answers can lag each other: wait until all agree.
      let shares = await Promise.all(watches.map((w) => w.refresh()));
      for (let i = 0; i < 100 && shares.some((s) => s.count < 3); i++) {
        await sleep(200);
        shares = await Promise.all(watches.map((w) => w.refresh()));
      }
      expect(shares).toEqual([
        { index: 0, count: 3 },
        { index: 1, count: 3 },
        { index: 2, count: 3 },
      ]);
      // A worker the server has not seen polling yet counts itself in (and goes on after the timeout).
      const newcomer = watch('share-d', { firstListTimeoutMs: 1_000 });
      watches.push(newcomer);
      await newcomer.ready();
      // Its first list may come from a partition that lags the others, as above.
      for (let i = 0; i < 100 && newcomer.current().count < 4; i++)
        await newcomer.refresh().then(() => sleep(200));
      expect(newcomer.current()).toEqual({ index: 3, count: 4 });
    } finally {
      for (const w of watches) w.stop();
    }
  });

  it('lets a worker take its first slot only one refresh period after the server lists it', async () => {
    // By then every other worker has read a list with it in: none still uses the slots it takes.
    const joining = watchGraphWorkerShare({
      service: client.workflowService,
      namespace,
      taskQueue: GRAPH_TASK_QUEUE,
      identity: 'share-b',
      refreshMs: 400,
      joinMarginMs: 200,
    });
    try {
      const started = performance.now();
      await joining.ready();
      expect(performance.now() - started).toBeGreaterThanOrEqual(600);
      // share-b among the three pollers (once the server's answers have caught up, as above).
      for (let i = 0; i < 100 && joining.current().count < 3; i++)
        await joining.refresh().then(() => sleep(200));
      expect(joining.current()).toEqual({ index: 1, count: 3 });
    } finally {
      joining.stop();
    }
  });
});
