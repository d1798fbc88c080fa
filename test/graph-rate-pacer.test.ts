import { describe, expect, it } from 'vitest';
import {
  createRatePacer,
  graphPacingRate,
  PACING_LATENESS_MS,
  type PacerClock,
  type PacerShare,
} from '../src/graph/graph-rate-pacer';
import { manualClock as startedClock } from './support/manual-clock';

const manualClock = (start = 1_000) => startedClock(start);

function maxInAnySecond(times: readonly number[]): number {
  return Math.max(...times.map((start) => times.filter((t) => t >= start && t < start + 1_000).length));
}

describe('createRatePacer', () => {
  it('spaces one worker`s calls 1/rate apart on the grid, with no initial burst', async () => {
    const clock = manualClock();
    const pacer = createRatePacer(5, { clock });
    const at: number[] = [];
    for (let i = 0; i < 12; i++) {
      await pacer.wait();
      at.push(clock.now());
    }
    expect(at[0]).toBe(1_000);
    at.slice(1).forEach((t, i) => expect(t - at[i]!).toBeCloseTo(200, 6));
    expect(maxInAnySecond(at)).toBe(5);
  });

  it('does not make a caller wait after a quiet period beyond the next slot', async () => {
    const clock = manualClock();
    const pacer = createRatePacer(2, { clock });
    await pacer.wait();
    await clock.sleep(5_000);
    const before = clock.now();
    await pacer.wait();
    expect(clock.now()).toBe(before);
    clock.set(before + 10);
    await pacer.wait();
    expect(clock.now()).toBe(before + 500);
  });

  it('gives three workers disjoint slots: together they never exceed the rate in any second', async () => {
    // Three pacers that start at once on the same clock, each with its own share, each with 20 calls waiting.
    const shares: PacerShare[] = [0, 1, 2].map((index) => ({ index, count: 3 }));
    const sent: number[] = [];
    for (const share of shares) {
      const clock = manualClock(1_037);
      const pacer = createRatePacer(5, { clock, share: () => share });
      for (let i = 0; i < 20; i++) {
        await pacer.wait();
        sent.push(clock.now());
      }
    }
    sent.sort((a, b) => a - b);
    expect(new Set(sent).size).toBe(sent.length);
    expect(maxInAnySecond(sent)).toBe(5);
    // And all of the rate is used: 60 calls over 12 s.
    expect((sent[sent.length - 1]! - sent[0]!) / 1000).toBeCloseTo(59 / 5, 6);
  });

  it('lets two workers that disagree about the count overlap only on the slots both claim', async () => {
    const clockA = manualClock();
    const clockB = manualClock();
    const a = createRatePacer(10, { clock: clockA, share: () => ({ index: 0, count: 1 }) });
    const b = createRatePacer(10, { clock: clockB, share: () => ({ index: 1, count: 2 }) });
    const sentA: number[] = [];
    const sentB: number[] = [];
    for (let i = 0; i < 10; i++) {
      await a.wait();
      sentA.push(clockA.now());
      await b.wait();
      sentB.push(clockB.now());
    }
    // B only ever uses odd slots, 200 ms apart; A uses every slot.
    sentB.slice(1).forEach((t, i) => expect(t - sentB[i]!).toBeCloseTo(200, 6));
    expect(maxInAnySecond([...sentA, ...sentB].sort((x, y) => x - y))).toBe(15);
  });
  it('gives up a slot taken under a share that changed while the caller waited', async () => {
    // A took slots for 10 callers as the only worker; B joins as index 1 of 2 before they come up.
    // A's callers that wake after the change use even slots only: never one of B's odd slots.
    const clock = manualClock(0);
    let shareA: PacerShare = { index: 0, count: 1 };
    const sleepers: Array<{ until: number; wake: () => void }> = [];
    const sharedClock: PacerClock = {
      now: () => clock.now(),
      sleep: (ms) => new Promise<void>((wake) => sleepers.push({ until: clock.now() + ms, wake })),
    };
    const paced = createRatePacer(10, { clock: sharedClock, share: () => shareA });
    const sent: number[] = [];
    const callers = Array.from({ length: 10 }, () => paced.wait().then(() => sent.push(clock.now())));
    // Run the schedule by hand: wake sleepers in time order; the share changes at 250 ms.
    for (let guard = 0; guard < 1_000 && sent.length < 10; guard++) {
      await new Promise((r) => setImmediate(r));
      sleepers.sort((x, y) => x.until - y.until);
      const next = sleepers.shift();
      if (!next) continue;
      if (next.until >= 250) shareA = { index: 0, count: 2 };
      clock.set(next.until);
      next.wake();
    }
    await Promise.all(callers);
    expect(sent.filter((t) => t < 250)).toEqual([0, 100, 200]);
    // After the change, only even slots (every 200 ms): B's odd slots stay B's.
    const after = sent.filter((t) => t >= 250);
    expect(after).toHaveLength(7);
    for (const t of after) expect(Math.round(t / 100) % 2).toBe(0);
  });
  it('does not bunch up callers woken together long after their slots (a stalled event loop)', async () => {
    // Six callers 100 ms apart; the event loop stalls from 50 ms to 700 ms, so the first five
    // wake together at 700 ms. They take later slots instead of going out at once.
    let now = 0;
    const sleepers: Array<{ until: number; wake: () => void }> = [];
    const clock: PacerClock = {
      now: () => now,
      sleep: (ms) => new Promise<void>((wake) => sleepers.push({ until: now + ms, wake })),
    };
    const pacer = createRatePacer(10, { clock });
    const sent: number[] = [];
    const callers = Array.from({ length: 6 }, () => pacer.wait().then(() => sent.push(now)));
    for (let guard = 0; guard < 1_000 && sent.length < 6; guard++) {
      await new Promise((r) => setImmediate(r));
      sleepers.sort((x, y) => x.until - y.until);
      const due = sleepers.filter((x) => x.until <= Math.max(700, sleepers[0]?.until ?? 0));
      if (now === 0 && due.length > 0 && (sleepers[0]?.until ?? 0) < 700) {
        // The stall: everyone due before 700 ms wakes at 700 ms, in one go.
        now = 700;
        for (const x of sleepers.splice(0, sleepers.filter((y) => y.until <= 700).length)) x.wake();
        continue;
      }
      const next = sleepers.shift();
      if (!next) continue;
      now = Math.max(now, next.until);
      next.wake();
    }
    await Promise.all(callers);
    sent.sort((a, b) => a - b);
    expect(sent[0]).toBe(0);
    sent.slice(1).forEach((t, i) => expect(t - sent[i]!).toBeGreaterThanOrEqual(100));
    expect(maxInAnySecond(sent)).toBeLessThanOrEqual(10);
  });
});

describe('graphPacingRate', () => {
  it('stays 5 % under the cap, and lower for small caps so late requests cannot crowd a second', () => {
    expect(graphPacingRate(20)).toBeCloseTo(19, 6);
    expect(graphPacingRate(100)).toBeCloseTo(95, 6);
    expect(graphPacingRate(5)).toBeCloseTo(5000 / 1150, 6);
    for (const cap of [1, 2, 3, 5, 7, 10, 13, 20, 50]) {
      const allowed = Math.floor(cap * 1.1);
      const spacing = 1000 / graphPacingRate(cap);
      // allowed + 1 requests, the first up to the lateness late, still span a whole second.
      expect(allowed * spacing - PACING_LATENESS_MS).toBeGreaterThan(1000 - 1e-6);
    }
  });
});
