import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { Context, log } from '@temporalio/activity';
import { ConfigError } from '../config/env-reader';
import { isGraphError, toApplicationFailure as graphFailure } from '../graph/graph-errors';
import { isTenantTokenError, tenantTokenFailure } from '../graph/tenant-token-error';
import { PinSealError } from '../pin/pin-seal-error';
import { isVaultError, toApplicationFailure as vaultFailure } from '../vault/vault-errors';
import type { FailureType } from '../workflows/failure-types';

/** The failure types the activities name themselves, beside the Graph and vault modules' own. */
export const ACTIVITY_FAILURE_TYPES = [
  'PinSealError',
  'ConfigError',
  'UnexpectedError',
] as const satisfies readonly FailureType[];

type ActivityFailureType = (typeof ACTIVITY_FAILURE_TYPES)[number];

function ownFailure(err: unknown): { type: ActivityFailureType; nonRetryable: boolean } {
  // No amount of waiting brings a missing key back or corrects configuration: a person must.
  if (err instanceof PinSealError) return { type: 'PinSealError', nonRetryable: true };
  if (err instanceof ConfigError) return { type: 'ConfigError', nonRetryable: true };
  return { type: 'UnexpectedError', nonRetryable: false };
}

/** True when the error is the activity's own cancellation, which Temporal must see as such. */
function isCancellation(err: unknown, signal: AbortSignal): boolean {
  return err instanceof CancelledFailure || (signal.aborted && err === signal.reason);
}

/** Runs an activity's work and fails it the way Temporal should see it (a cancellation stays one). */
export async function classified<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const context = Context.current();
    if (isCancellation(err, context.cancellationSignal)) throw err;
    throw toActivityFailure(err, context.info.attempt);
  }
}

/**
 * Turns what a client threw into the failure Temporal retries on (or not): the Graph and vault
 * modules own their classification (stable type, retry verdict, Meta's wait); this adds the
 * attempt number, which the workflow reports to the operator. Anything unclassified is an
 * unexpected bug: retried, under its own type.
 */
export function toActivityFailure(err: unknown, attempt: number): ApplicationFailure {
  let failure: ApplicationFailure;
  if (err instanceof ApplicationFailure) failure = err;
  else if (isGraphError(err)) failure = graphFailure(err, attempt);
  else if (isVaultError(err)) failure = vaultFailure(err);
  else if (isTenantTokenError(err)) failure = tenantTokenFailure(err);
  else {
    const message = err instanceof Error ? err.message : String(err);
    const own = ownFailure(err);
    if (own.type === 'UnexpectedError') log.error('unexpected activity error', { error: message });
    failure = ApplicationFailure.create({ ...own, message });
  }
  const first: unknown = failure.details?.[0];
  return ApplicationFailure.create({
    type: failure.type ?? undefined,
    message: failure.message,
    nonRetryable: failure.nonRetryable ?? false,
    nextRetryDelay: failure.nonRetryable ? undefined : (failure.nextRetryDelay ?? undefined),
    category: failure.category ?? undefined,
    cause: failure.cause,
    details: [{ ...(typeof first === 'object' && first !== null ? first : {}), attempt }],
  });
}
