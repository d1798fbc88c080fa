import { setTimeout as sleep } from 'node:timers/promises';

export interface PacerClock {
  now(): number;
  sleep(ms: number): Promise<unknown>;
}

/** This worker's place among the K workers polling the Graph queue (index 0..K-1). */
export interface PacerShare {
  index: number;
  count: number;
}

/** How late a request may go out after its slot (event loop, timers, network) and still keep the bound. */
export const PACING_LATENESS_MS = 150;

/**
 * The grid's rate for a cap of R per second: 5 % under R, and low enough that even with every
 * request up to PACING_LATENESS_MS late no one-second window holds more than floor(1.1 R) of them
 * (which only binds for small caps: R = 5 paces at 4.35/s, R = 20 at 19/s).
 */
export function graphPacingRate(cap: number): number {
  const allowedPerWindow = Math.max(1, Math.floor(cap * 1.1));
  return Math.min(cap * 0.95, (allowedPerWindow * 1000) / (1000 + PACING_LATENESS_MS));
}

/** How often a caller woken too late takes a later slot before it goes anyway. */
const MAX_RETAKES = 3;

const realClock: PacerClock = { now: () => Date.now(), sleep: (ms) => sleep(ms) };
const alone: PacerShare = { index: 0, count: 1 };

/**
 * Paces Graph requests on one grid shared by every worker: slot n starts at n / rate seconds on
 * the wall clock, and it belongs to the worker whose share index is n mod K. Workers with distinct
 * indices never use the same slot, so all of them together send at most one request per slot and
 * any one-second window holds at most ceil(rate) requests, however many workers there are and
 * however the server's task-queue limiter hands out its initial burst. A caller waits for the
 * next free slot of its own (never a slot in the past), so a quiet period builds up no burst.
 * A caller whose share changed while it waited (a worker joined or left) does not use the slot it
 * took under the old share, which may now be another worker's: it takes one of its new share. A
 * caller woken more than PACING_LATENESS_MS after its slot takes a later one too.
 */
export function createRatePacer(
  ratePerSecond: number,
  opts: { clock?: PacerClock; share?: () => PacerShare } = {},
) {
  const clock = opts.clock ?? realClock;
  const share = opts.share ?? (() => alone);
  const intervalMs = 1000 / ratePerSecond;
  let lastSlot = -Infinity;
  const same = (a: PacerShare, b: PacerShare) => a.index === b.index && a.count === b.count;
  return {
    async wait(): Promise<void> {
      // Slots only move forward: one given up (share changed, or woken too late) is never handed
      // out again, so callers of this worker never share a slot, whatever the order they wake in.
      for (let retakes = 0; ; retakes++) {
        const taken = share();
        const now = clock.now();
        let slot = Math.max(Math.ceil(now / intervalMs), lastSlot + 1);
        slot += (((taken.index - slot) % taken.count) + taken.count) % taken.count;
        lastSlot = slot;
        const at = slot * intervalMs;
        if (at > now) await clock.sleep(at - now);
        if (!same(share(), taken)) continue;
        // Woken long after the slot (a stalled event loop): going now would bunch up with the
        // callers woken in the same moment, so take a later slot, a few times at most.
        if (clock.now() - at > PACING_LATENESS_MS && retakes < MAX_RETAKES) continue;
        return;
      }
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
