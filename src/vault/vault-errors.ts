// What can go wrong when talking to the vault, as stable types the activities and the workflow
// match on (never on message text). Temporal owns retries, so each type says whether waiting
// and trying again can help; the messages name the path and what an operator should do, and
// never carry a token, a secret id or a PIN.
import { ApplicationFailure } from '@temporalio/common';
import type { FailureType } from '../workflows/failure-types';

export const VAULT_FAILURE_TYPES = [
  'VaultSealed',
  'VaultUnavailable',
  'VaultThrottled',
  'VaultPermissionDenied',
  'VaultBadRequest',
  'VaultCasMismatch',
  'VaultNotFound',
  'VaultMethodNotAllowed',
  'VaultConnectionError',
  'VaultLoginFailed',
] as const satisfies readonly FailureType[];

export type VaultFailureType = (typeof VAULT_FAILURE_TYPES)[number];

/**
 * Whether Temporal should retry. A check-and-set mismatch is a lost race with another writer:
 * the PIN store re-reads and re-checks on its own, and should that still lose, a fresh attempt
 * (which re-reads again) is the right thing, so it stays retryable unlike other 400s.
 */
const RETRYABLE: Readonly<Record<VaultFailureType, boolean>> = {
  VaultSealed: true,
  VaultUnavailable: true,
  VaultThrottled: true,
  VaultPermissionDenied: false,
  VaultBadRequest: false,
  VaultCasMismatch: true,
  VaultNotFound: false,
  VaultMethodNotAllowed: false,
  VaultConnectionError: true,
  VaultLoginFailed: false,
};

export interface VaultErrorOptions {
  httpStatus?: number;
  /** The server's `errors` strings (never a request body). */
  vaultErrors?: string[];
  /** The API path, e.g. "secret/data/whatsapp/two-step-pins/1234" (no query string). */
  path?: string;
  cause?: unknown;
}

export class VaultError extends Error {
  override readonly name: VaultFailureType;
  /** Same as `type`, for callers used to undici's `err.code`. */
  readonly code: VaultFailureType;
  readonly retryable: boolean;
  readonly httpStatus?: number;
  readonly vaultErrors?: string[];
  readonly path?: string;

  constructor(
    readonly type: VaultFailureType,
    message: string,
    opts: VaultErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = type;
    this.code = type;
    this.retryable = RETRYABLE[type];
    if (opts.httpStatus !== undefined) this.httpStatus = opts.httpStatus;
    if (opts.vaultErrors !== undefined) this.vaultErrors = opts.vaultErrors;
    if (opts.path !== undefined) this.path = opts.path;
  }
}

export function isVaultError(err: unknown, type?: VaultFailureType): err is VaultError {
  return err instanceof VaultError && (type === undefined || err.type === type);
}

/** The activity-facing form: same type, retryability decided here rather than by Temporal's default. */
export function toApplicationFailure(err: VaultError): ApplicationFailure {
  return ApplicationFailure.create({
    type: err.type,
    message: err.message,
    nonRetryable: !err.retryable,
    details: [{ httpStatus: err.httpStatus ?? null, path: err.path ?? null }],
    cause: err,
  });
}

export interface RequestContext {
  /** Where the vault is, e.g. "http://127.0.0.1:8200" (never carries credentials). */
  address: string;
  method: string;
  /** API path below /v1/, without a query string. */
  path: string;
  namespace?: string;
}

function describeErrors(errors: string[]): string {
  const joined = errors.map((e) => e.replace(/\s+/g, ' ').trim()).filter(Boolean);
  return joined.length ? `: ${joined.join('; ')}` : '';
}

const CAS_MISMATCH = /check-and-set parameter did not match/i;

/** Classifies a non-2xx answer. 404 and 403 are classified here too; callers decide when they apply. */
export function vaultErrorForStatus(status: number, errors: string[], ctx: RequestContext): VaultError {
  const where = `${ctx.method} ${ctx.path}`;
  const said = describeErrors(errors);
  const opts = { httpStatus: status, vaultErrors: errors, path: ctx.path };
  if (status === 503 && errors.some((e) => /sealed/i.test(e))) {
    return new VaultError(
      'VaultSealed',
      `the vault at ${ctx.address} is sealed (${where}): unseal it (bao operator unseal, or vault operator unseal); retries succeed once it is unsealed`,
      opts,
    );
  }
  if (status === 429) {
    return new VaultError(
      'VaultThrottled',
      `the vault at ${ctx.address} rate-limited ${where} (429${said}): a rate-limit quota applies; retry with backoff`,
      opts,
    );
  }
  if (status === 400 && errors.some((e) => CAS_MISMATCH.test(e))) {
    return new VaultError(
      'VaultCasMismatch',
      `check-and-set mismatch writing ${ctx.path}: another version was written in the meantime; re-read and try again`,
      opts,
    );
  }
  switch (status) {
    case 400:
      return new VaultError('VaultBadRequest', `the vault rejected ${where} as invalid (400${said})`, opts);
    case 403:
      return new VaultError(
        'VaultPermissionDenied',
        `permission denied for ${where} (403${said}): the credentials' policies do not allow this path; check that the worker policy (src/vault/worker-policy.hcl) covers VAULT_KV_MOUNT/VAULT_PIN_PREFIX and that the token or AppRole is the right one`,
        opts,
      );
    case 404:
      return new VaultError(
        'VaultNotFound',
        `nothing at ${where} (404${said})${
          ctx.namespace ? ` in namespace "${ctx.namespace}"` : ''
        }: check VAULT_KV_MOUNT${ctx.namespace ? ' and VAULT_NAMESPACE' : ''} and that the mount is a KV v2 engine`,
        opts,
      );
    case 405:
      return new VaultError(
        'VaultMethodNotAllowed',
        `${where} is not supported by the vault (405${said}): is the mount a KV version 2 engine, and is the server recent enough?`,
        opts,
      );
    default:
      break;
  }
  if (status >= 500 || status === 412 || status === 472 || status === 473) {
    // 412: a replica has not caught up yet; 472/473: a DR or performance standby answered.
    return new VaultError(
      'VaultUnavailable',
      `the vault at ${ctx.address} could not serve ${where} (${status}${said}): it is down, a standby without a reachable active node, or overloaded; retries succeed once it is back`,
      opts,
    );
  }
  return new VaultError('VaultBadRequest', `the vault answered ${status} to ${where}${said}`, opts);
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors) && e.errors.length > 0) return errorCode(e.errors[0]);
  return e.cause === undefined ? undefined : errorCode(e.cause);
}

/** A transport failure (refused, reset, DNS, timeout): nothing reached the vault or nothing came back. */
export function vaultConnectionError(err: unknown, ctx: RequestContext): VaultError {
  const code = errorCode(err) ?? 'unknown error';
  const timedOut = /TIMEOUT/i.test(code);
  return new VaultError(
    'VaultConnectionError',
    timedOut
      ? `the vault at ${ctx.address} did not answer ${ctx.method} ${ctx.path} in time (${code}): it may be overloaded or unreachable`
      : `cannot reach the vault at ${ctx.address} for ${ctx.method} ${ctx.path} (${code}): is it running, and is VAULT_ADDR right?`,
    { path: ctx.path, cause: err },
  );
}
