// Staying authenticated to the vault. A static token is sent as it is. Under AppRole the session
// logs in, renews the token past two thirds of its TTL, logs in afresh once renewals stop
// extending it (max TTL near), and after a 403 logs in again once, since the token may simply
// have expired or been revoked. Concurrent requests share one login or renewal in flight.
import { isRecord, malformed } from './vault-answer';
import { VaultError, isVaultError } from './vault-errors';
import { encodeVaultPath, type VaultRequest, type VaultTransport } from './vault-transport';

export type VaultAuth =
  { kind: 'token'; token: string } | { kind: 'approle'; roleId: string; secretId: string; mount?: string };

/** What the client did to stay authenticated, for logs and tests (never carries a token). */
export type VaultAuthEvent =
  | { kind: 'login'; ttlSeconds: number }
  | { kind: 'renew'; ttlSeconds: number }
  | { kind: 'relogin-after-denied'; path: string };

export interface VaultSession {
  /** The token to send now, after logging in or renewing when that is due. */
  token(): Promise<string>;
  /**
   * A replacement for a token the vault answered 403 to, or undefined when there is none to be
   * had (a static token): then the 403 stands.
   */
  replaceRejected(rejected: string, path: string): Promise<string | undefined>;
  /** The credentials in use, to keep out of error text. */
  secrets(): Array<string | undefined>;
}

export interface VaultSessionOptions {
  /** Clock for renewal decisions. */
  now: () => number;
  onAuth?: (event: VaultAuthEvent) => void;
}

interface Grant {
  token: string;
  /** When to refresh (renew or log in); Infinity for a token that never expires. */
  refreshAt: number;
  /** The TTL granted at login, to notice when renewals start being cut short by max TTL. */
  loginTtlSeconds: number;
  /** Renewal no longer extends the token (max TTL near): log in afresh at refreshAt. */
  loginNext: boolean;
}

export function createVaultSession(
  auth: VaultAuth,
  transport: VaultTransport,
  opts: VaultSessionOptions,
): VaultSession {
  if (auth.kind === 'token') {
    return {
      token: async () => auth.token,
      replaceRejected: async () => undefined,
      secrets: () => [auth.token],
    };
  }
  const { now, onAuth } = opts;
  const { roleId, secretId } = auth;
  const approleMount = auth.mount ?? 'approle';
  let grant: Grant | undefined;
  let refreshing: Promise<Grant> | undefined;

  function refreshPoint(ttlSeconds: number): number {
    // Past two thirds of the TTL: early enough that a slow renewal still finishes in time.
    return ttlSeconds > 0 ? now() + (ttlSeconds * 1000 * 2) / 3 : Number.POSITIVE_INFINITY;
  }

  async function login(): Promise<Grant> {
    const path = `auth/${encodeVaultPath(approleMount)}/login`;
    const req: VaultRequest = {
      method: 'POST',
      path,
      body: { role_id: roleId, secret_id: secretId },
      authenticated: false,
    };
    const answer = await transport.send(req, undefined);
    if (answer.statusCode >= 400 && answer.statusCode < 500 && answer.statusCode !== 429) {
      throw new VaultError(
        'VaultLoginFailed',
        `AppRole login at ${path} was rejected (${answer.statusCode}${
          answer.errors.length ? `: ${answer.errors.join('; ')}` : ''
        }): check VAULT_ROLE_ID, VAULT_SECRET_ID and VAULT_APPROLE_MOUNT; a secret id expires after its TTL, create a new one with "tsx src/vault/setup-cli.ts"`,
        { httpStatus: answer.statusCode, vaultErrors: answer.errors, path },
      );
    }
    if (answer.statusCode < 200 || answer.statusCode >= 300) throw transport.failure(answer, req);
    const granted = readAuthBlock(answer.body, path);
    const ttl = granted.ttlSeconds;
    onAuth?.({ kind: 'login', ttlSeconds: ttl });
    return {
      token: granted.token,
      refreshAt: refreshPoint(ttl),
      loginTtlSeconds: ttl,
      loginNext: !granted.renewable,
    };
  }

  async function renew(old: Grant): Promise<Grant> {
    const req: VaultRequest = { method: 'POST', path: 'auth/token/renew-self', body: {} };
    const answer = await transport.send(req, old.token);
    if (answer.statusCode < 200 || answer.statusCode >= 300) throw transport.failure(answer, req);
    const granted = readAuthBlock(answer.body, req.path);
    onAuth?.({ kind: 'renew', ttlSeconds: granted.ttlSeconds });
    return {
      token: old.token,
      refreshAt: refreshPoint(granted.ttlSeconds),
      loginTtlSeconds: old.loginTtlSeconds,
      // A renewal granting much less than login did means the max TTL is near.
      loginNext: !granted.renewable || granted.ttlSeconds < old.loginTtlSeconds / 2,
    };
  }

  async function refresh(old: Grant | undefined): Promise<Grant> {
    if (old && !old.loginNext) {
      try {
        return await renew(old);
      } catch (err) {
        // A token that can no longer be renewed (revoked, expired: 4xx) is replaced by a login;
        // a sealed or unreachable vault is reported as such.
        const rejected =
          isVaultError(err) &&
          err.type !== 'VaultThrottled' &&
          err.httpStatus !== undefined &&
          err.httpStatus < 500;
        if (!rejected) throw err;
      }
    }
    return login();
  }

  function singleFlight(run: () => Promise<Grant>): Promise<Grant> {
    if (!refreshing) {
      refreshing = run()
        .then((g) => (grant = g))
        .finally(() => {
          refreshing = undefined;
        });
    }
    return refreshing;
  }

  return {
    async token() {
      if (refreshing) return (await refreshing).token;
      if (grant && now() < grant.refreshAt) return grant.token;
      const old = grant;
      return (await singleFlight(() => refresh(old))).token;
    },
    // Log in again, unless another request already replaced the rejected token.
    async replaceRejected(rejected, path) {
      if (refreshing) return (await refreshing).token;
      if (grant && grant.token !== rejected) return grant.token;
      onAuth?.({ kind: 'relogin-after-denied', path });
      return (await singleFlight(login)).token;
    },
    secrets: () => [secretId, grant?.token],
  };
}

function readAuthBlock(
  body: unknown,
  path: string,
): { token: string; ttlSeconds: number; renewable: boolean } {
  const authBlock = isRecord(body) ? body.auth : undefined;
  if (!isRecord(authBlock) || typeof authBlock.client_token !== 'string') {
    throw malformed(path, 'no "auth.client_token"');
  }
  return {
    token: authBlock.client_token,
    ttlSeconds: typeof authBlock.lease_duration === 'number' ? authBlock.lease_duration : 0,
    renewable: authBlock.renewable === true,
  };
}
