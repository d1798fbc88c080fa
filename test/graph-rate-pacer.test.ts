import { describe, expect, it } from 'vitest';
import { createRatePacer, type PacerClock } from '../src/graph/graph-rate-pacer';

/** A clock that only moves when the pacer sleeps: the schedule is exact and instant. */
function manualClock(): PacerClock {
  let now = 1_000;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
}

describe('createRatePacer', () => {
  it('lets the first call through at once, then spaces calls 1/rate apart (no initial burst)', async () => {
    const clock = manualClock();
    const pacer = createRatePacer(5, clock);
    const at: number[] = [];
    for (let i = 0; i < 12; i++) {
      await pacer.wait();
      at.push(clock.now());
    }
    expect(at[0]).toBe(1_000);
    at.slice(1).forEach((t, i) => expect(t - at[i]!).toBeCloseTo(200, 6));
    // No one-second window [t, t+1000) holds more than 5 calls.
    for (const start of at)
      expect(at.filter((t) => t >= start && t < start + 1_000).length).toBeLessThanOrEqual(5);
  });

  it('does not make a caller wait after a quiet period', async () => {
    const clock = manualClock();
    const pacer = createRatePacer(2, clock);
    await pacer.wait();
    await clock.sleep(5_000);
    const before = clock.now();
    await pacer.wait();
    expect(clock.now()).toBe(before);
  });
});
