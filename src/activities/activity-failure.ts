import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';

/** What the workflow and the operator see of a failure; never the PIN or a token. */
export interface FailureDetails {
  attempt: number;
  httpStatus?: number;
  graphCode?: number;
  graphSubcode?: number;
  fbtraceId?: string;
  isTransient?: boolean;
  details?: string;
}

/** The shape shared by GraphError and VaultError: a stable type and a retry verdict. */
interface ClassifiedError extends Error {
  type: string;
  retryable: boolean;
  nextRetryDelayMs?: number;
  httpStatus?: number;
  graphCode?: number;
  graphSubcode?: number;
  fbtraceId?: string;
  isTransient?: boolean;
  details?: string;
}

function isClassified(err: unknown): err is ClassifiedError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ClassifiedError>).type === 'string' &&
    typeof (err as Partial<ClassifiedError>).retryable === 'boolean'
  );
}

/**
 * Turns what a client threw into the failure Temporal retries on (or not): the stable type
 * goes in `type`, Meta's wait in `nextRetryDelay`, the diagnostic fields in `details`.
 * Anything unclassified is an unexpected bug: retried, under its own type.
 */
export function toActivityFailure(err: unknown, attempt: number): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (!isClassified(err)) {
    const message = err instanceof Error ? err.message : String(err);
    log.error('unexpected activity error', { error: message });
    return ApplicationFailure.create({
      type: 'UnexpectedError',
      message,
      nonRetryable: false,
      details: [{ attempt } satisfies FailureDetails],
    });
  }
  const details: FailureDetails = {
    attempt,
    httpStatus: err.httpStatus,
    graphCode: err.graphCode,
    graphSubcode: err.graphSubcode,
    fbtraceId: err.fbtraceId,
    isTransient: err.isTransient,
    details: err.details,
  };
  return ApplicationFailure.create({
    type: err.type,
    message: err.message,
    nonRetryable: !err.retryable,
    nextRetryDelay: err.nextRetryDelayMs,
    details: [details],
  });
}
