import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import { isGraphError, toApplicationFailure as graphFailure } from '../graph/graph-errors';
import { isVaultError, toApplicationFailure as vaultFailure } from '../vault/vault-errors';

/**
 * Turns what a client threw into the failure Temporal retries on (or not): the Graph and vault
 * modules own their classification (stable type, retry verdict, Meta's wait); this adds the
 * attempt number, which the workflow reports to the operator. Anything unclassified is an
 * unexpected bug: retried, under its own type.
 */
export function toActivityFailure(err: unknown, attempt: number): ApplicationFailure {
  let failure: ApplicationFailure;
  if (err instanceof ApplicationFailure) failure = err;
  else if (isGraphError(err)) failure = graphFailure(err);
  else if (isVaultError(err)) failure = vaultFailure(err);
  else {
    const message = err instanceof Error ? err.message : String(err);
    log.error('unexpected activity error', { error: message });
    failure = ApplicationFailure.create({ type: 'UnexpectedError', message, nonRetryable: false });
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
