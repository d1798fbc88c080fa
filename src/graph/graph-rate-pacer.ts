import { setTimeout as sleep } from 'node:timers/promises';

export interface PacerClock {
  now(): number;
  sleep(ms: number): Promise<unknown>;
}

const realClock: PacerClock = { now: () => Date.now(), sleep: (ms) => sleep(ms) };

/**
 * Spaces calls at least 1/rate seconds apart within one worker process. The server's task-queue
 * limiter caps the rate across all workers but hands out a full bucket at once when an idle
 * queue fills; pacing here (starting empty) keeps that burst from reaching Meta.
 */
export function createRatePacer(ratePerSecond: number, clock: PacerClock = realClock) {
  const intervalMs = 1000 / ratePerSecond;
  let nextSlot = -Infinity;
  return {
    async wait(): Promise<void> {
      const now = clock.now();
      const slot = Math.max(now, nextSlot);
      nextSlot = slot + intervalMs;
      if (slot > now) await clock.sleep(slot - now);
    },
  };
}

/**
 * The same client with every call paced: the wait comes right before each request goes out, so a
 * Graph call added to the client later is paced without anyone remembering to.
 */
export function pacedCalls<T extends object>(api: T, pacer: { wait(): Promise<void> }): T {
  return new Proxy(api, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]): Promise<unknown> => {
        await pacer.wait();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
