// How closely a stream of request timestamps keeps a rate cap: the most requests in any one-second
// window, and the mean rate once the run is under way.
import { round } from './common';

export interface RateWindowStats {
  requests: number;
  spanSeconds: number;
  maxPerSecondWindow: number;
  steadyMeanPerSecond: number;
}

/** Max requests in any 1-second window [t, t+1000), and the mean over the middle 80% of the span. */
export function rateWindows(timestamps: readonly number[]): RateWindowStats {
  const t = [...timestamps].sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (j < t.length && (t[j] ?? 0) < (t[i] ?? 0) + 1000) j++;
    max = Math.max(max, j - i);
  }
  const first = t[0] ?? 0;
  const last = t[t.length - 1] ?? 0;
  const span = last - first;
  const from = first + span * 0.1;
  const to = last - span * 0.1;
  const inMiddle = t.filter((x) => x >= from && x < to).length;
  return {
    requests: t.length,
    spanSeconds: round(span / 1000, 2),
    maxPerSecondWindow: max,
    steadyMeanPerSecond: to > from ? round(inMiddle / ((to - from) / 1000), 2) : Number.NaN,
  };
}
