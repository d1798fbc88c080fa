// A pacer clock that only moves when someone sleeps or the test moves it: schedules are exact
// and instant. Shared by the Graph rate pacer's and the Graph budget's tests.
import type { PacerClock } from '../../src/graph/graph-rate-pacer';

export interface ManualClock extends PacerClock {
  advance(ms: number): void;
  set(t: number): void;
}

export function manualClock(start: number): ManualClock {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
    set: (t) => {
      now = t;
    },
  };
}
