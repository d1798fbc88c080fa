// Durations as Temporal reads them ("14d", "1 day", or milliseconds), with the same parser the
// SDK uses (ms), so the deadline the workflow shows is the one its timer waits for.
import type { Duration } from '@temporalio/common';
import ms from 'ms';

export function durationToMs(value: Duration): number {
  if (typeof value === 'number') return value;
  const millis = ms(value);
  if (millis == null || isNaN(millis)) throw new TypeError(`Invalid duration string: '${value}'`);
  return millis;
}
