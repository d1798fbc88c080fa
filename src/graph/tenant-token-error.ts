// A client business (tenant) whose Graph token the vault does not hold: no call to Meta can be made
// for its numbers until somebody puts one at the path this error names. Waiting does not help, so
// the activity fails at once (non-retryable) and the number parks with that path in its reason.
import { ApplicationFailure } from '@temporalio/common';
import type { FailureType } from '../workflows/failure-types';
import { CodedError } from '../cli/coded-error';

export const TENANT_TOKEN_MISSING = 'TenantTokenMissing';
export const TENANT_TOKEN_FAILURE_TYPES = [TENANT_TOKEN_MISSING] as const satisfies readonly FailureType[];

export class TenantTokenError extends CodedError<'TENANT_TOKEN_MISSING'> {
  readonly type = TENANT_TOKEN_MISSING;

  constructor(
    message: string,
    /** The tenant as the workflow knows it; absent when the number has none. */
    readonly tenant: string | undefined,
    /** The logical KV path to fill, e.g. "secret/whatsapp/graph-tokens/tenants/acme-retail". */
    readonly tokenPath: string | undefined,
  ) {
    super('TENANT_TOKEN_MISSING', message);
  }
}

export function isTenantTokenError(err: unknown): err is TenantTokenError {
  return err instanceof TenantTokenError;
}

/** The activity-facing form: the path travels in the details, so the runbook can name it. */
export function tenantTokenFailure(err: TenantTokenError): ApplicationFailure {
  return ApplicationFailure.create({
    type: TENANT_TOKEN_MISSING,
    message: err.message,
    nonRetryable: true,
    details: [
      {
        ...(err.tokenPath ? { tokenPath: err.tokenPath } : {}),
        ...(err.tenant ? { tenant: err.tenant } : {}),
      },
    ],
  });
}
