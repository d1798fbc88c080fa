import { Context } from '@temporalio/activity';

/**
 * The time a registration call is stamped with in the budget ledger: the later of this worker's
 * clock and the server's time when this attempt was scheduled. In production the two agree (and a
 * server clock ahead only makes the ledger more careful); on the time-skipping test server the
 * server's skipped time is the only one that moved, so the 72-hour window is measured in it.
 */
export function registrationClock(): number {
  return Math.max(Date.now(), Context.current().info.currentAttemptScheduledTimestampMs);
}
