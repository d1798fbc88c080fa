// A small client for the part of the Vault / OpenBao HTTP API this product uses: KV version 2
// data and metadata, AppRole login with token renewal, and health. It never retries a failed
// request on its own (Temporal owns retries); the one exception is a 403 under AppRole, where
// the token may simply have expired or been revoked, so it logs in again once and repeats the
// request once before reporting VaultPermissionDenied.
import { Agent, request, type Dispatcher } from 'undici';
import {
  VaultError,
  isVaultError,
  vaultConnectionError,
  vaultErrorForStatus,
  type RequestContext,
} from './vault-errors';

export type VaultAuth =
  { kind: 'token'; token: string } | { kind: 'approle'; roleId: string; secretId: string; mount?: string };

/** What the client did to stay authenticated, for logs and tests (never carries a token). */
export type VaultAuthEvent =
  | { kind: 'login'; ttlSeconds: number }
  | { kind: 'renew'; ttlSeconds: number }
  | { kind: 'relogin-after-denied'; path: string };

export interface VaultClientOptions {
  /** e.g. "http://127.0.0.1:8200", without /v1. */
  address: string;
  /** Sent as X-Vault-Namespace (Vault Enterprise / HCP, OpenBao namespaces). */
  namespace?: string;
  auth: VaultAuth;
  /** An undici dispatcher to use instead of the client's own Agent (tests hand in a MockAgent). */
  dispatcher?: Dispatcher;
  /** Bound on connecting, on waiting for headers and on each gap in the body. */
  timeoutMs: number;
  /** Clock for token renewal decisions; Date.now by default. */
  now?: () => number;
  onAuth?: (event: VaultAuthEvent) => void;
}

export type VaultMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface VaultRequest {
  method: VaultMethod;
  /** Below /v1/, e.g. "sys/health" or "secret/data/x". Segments must already be URL-safe. */
  path: string;
  query?: Record<string, string | number | boolean>;
  body?: unknown;
  /** application/json unless told (metadata PATCH wants application/merge-patch+json). */
  contentType?: string;
  /** A 404 without server errors (a missing or deleted KV key) is an answer, not a failure. */
  absentOk?: boolean;
  /** Further statuses that are answers (sys/health reports sealed as 503, standby as 429). */
  acceptStatus?: number[];
  /** Send the token (default true); login and health go without. */
  authenticated?: boolean;
}

export interface VaultResponse {
  statusCode: number;
  /** Parsed JSON, or undefined for an empty body (204). */
  body: unknown;
}

export interface KvVersionMetadata {
  version: number;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

export interface KvReadResult<T = Record<string, unknown>> {
  data: T;
  metadata: KvVersionMetadata;
}

export interface KvVersionInfo {
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

export interface KvKeyMetadata {
  currentVersion: number;
  oldestVersion: number;
  /** Vault keeps custom metadata as string values only. */
  customMetadata: Record<string, string>;
  /** By version number ("1", "2", ...). */
  versions: Record<string, KvVersionInfo>;
  maxVersions: number;
  casRequired: boolean;
}

export interface VaultHealth {
  statusCode: number;
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version?: string;
}

export interface VaultClient {
  readonly address: string;
  readonly namespace?: string;
  kvRead<T = Record<string, unknown>>(
    mount: string,
    path: string,
    opts?: { version?: number },
  ): Promise<KvReadResult<T> | undefined>;
  kvWrite(
    mount: string,
    path: string,
    data: Record<string, unknown>,
    opts?: { cas?: number },
  ): Promise<{ version: number }>;
  kvReadMetadata(mount: string, path: string): Promise<KvKeyMetadata | undefined>;
  /**
   * Merges `custom` into the key's custom_metadata (a null value removes that entry); other
   * entries stay. The key must exist.
   */
  kvWriteCustomMetadata(mount: string, path: string, custom: Record<string, string | null>): Promise<void>;
  health(): Promise<VaultHealth>;
  request(req: VaultRequest): Promise<VaultResponse>;
  /** Closes the client's own connection pool (a dispatcher handed in stays open). */
  close(): Promise<void>;
}

/** Encodes each segment of a KV mount or key path for use inside a URL path. */
export function encodeVaultPath(path: string): string {
  return path
    .split('/')
    .filter((segment) => segment.length > 0)
    .map(encodeURIComponent)
    .join('/');
}

/** undici errors that are our bugs, not the network's: let them surface as they are. */
const PROGRAMMING_ERRORS = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'ERR_INVALID_URL']);

interface Session {
  token: string;
  /** When to refresh (renew or log in); Infinity for a token that never expires. */
  refreshAt: number;
  /** The TTL granted at login, to notice when renewals start being cut short by max TTL. */
  loginTtlSeconds: number;
  /** Renewal no longer extends the token (max TTL near): log in afresh at refreshAt. */
  loginNext: boolean;
}

interface RawAnswer {
  statusCode: number;
  body: unknown;
  errors: string[];
}

export function createVaultClient(opts: VaultClientOptions): VaultClient {
  const address = opts.address.replace(/\/+$/, '');
  const now = opts.now ?? Date.now;
  const ownAgent = opts.dispatcher
    ? undefined
    : new Agent({
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
        connect: { timeout: opts.timeoutMs },
      });
  const dispatcher: Dispatcher = opts.dispatcher ?? (ownAgent as Agent);
  const auth = opts.auth;
  const approleMount = auth.kind === 'approle' ? (auth.mount ?? 'approle') : undefined;

  let session: Session | undefined;
  let refreshing: Promise<Session> | undefined;

  /** Server error strings should never echo a credential, but make sure of it. */
  function redact(text: string): string {
    const secrets = [auth.kind === 'token' ? auth.token : auth.secretId, session?.token];
    let out = text;
    for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
    return out;
  }

  function context(method: string, path: string): RequestContext {
    const ctx: RequestContext = { address, method, path };
    if (opts.namespace !== undefined) ctx.namespace = opts.namespace;
    return ctx;
  }

  async function send(req: VaultRequest, token: string | undefined): Promise<RawAnswer> {
    const path = req.path.replace(/^\/+/, '');
    const ctx = context(req.method, path);
    const query = req.query
      ? '?' +
        new URLSearchParams(
          Object.entries(req.query).map(([k, v]): [string, string] => [k, String(v)]),
        ).toString()
      : '';
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== undefined) headers['x-vault-token'] = token;
    if (opts.namespace !== undefined) headers['x-vault-namespace'] = opts.namespace;
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['content-type'] = req.contentType ?? 'application/json';
    }
    let text: string;
    let statusCode: number;
    try {
      const res = await request(`${address}/v1/${path}${query}`, {
        method: req.method,
        headers,
        body,
        dispatcher,
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      });
      statusCode = res.statusCode;
      // Always read the body to the end, so the connection goes back to the pool.
      text = await res.body.text();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && PROGRAMMING_ERRORS.has(code)) throw err;
      throw vaultConnectionError(err, ctx);
    }
    let parsed: unknown;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        // A proxy's HTML error page, say: the status decides, the text is not kept.
        parsed = undefined;
      }
    }
    const rawErrors = (parsed as { errors?: unknown } | undefined)?.errors;
    const errors = Array.isArray(rawErrors)
      ? rawErrors.filter((e): e is string => typeof e === 'string').map(redact)
      : [];
    return { statusCode, body: parsed, errors };
  }

  function failure(answer: RawAnswer, req: VaultRequest): VaultError {
    return vaultErrorForStatus(answer.statusCode, answer.errors, context(req.method, req.path));
  }

  async function login(): Promise<Session> {
    if (auth.kind !== 'approle') throw new Error('login is only for AppRole');
    const path = `auth/${encodeVaultPath(approleMount as string)}/login`;
    const req: VaultRequest = {
      method: 'POST',
      path,
      body: { role_id: auth.roleId, secret_id: auth.secretId },
      authenticated: false,
    };
    const answer = await send(req, undefined);
    if (answer.statusCode >= 400 && answer.statusCode < 500 && answer.statusCode !== 429) {
      throw new VaultError(
        'VaultLoginFailed',
        `AppRole login at ${path} was rejected (${answer.statusCode}${
          answer.errors.length ? `: ${answer.errors.join('; ')}` : ''
        }): check VAULT_ROLE_ID, VAULT_SECRET_ID and VAULT_APPROLE_MOUNT; a secret id expires after its TTL, create a new one with "tsx src/vault/setup-cli.ts"`,
        { httpStatus: answer.statusCode, vaultErrors: answer.errors, path },
      );
    }
    if (answer.statusCode < 200 || answer.statusCode >= 300) throw failure(answer, req);
    const granted = readAuthBlock(answer.body, path);
    const ttl = granted.ttlSeconds;
    opts.onAuth?.({ kind: 'login', ttlSeconds: ttl });
    return {
      token: granted.token,
      refreshAt: refreshPoint(ttl),
      loginTtlSeconds: ttl,
      loginNext: !granted.renewable,
    };
  }

  function refreshPoint(ttlSeconds: number): number {
    // Past two thirds of the TTL: early enough that a slow renewal still finishes in time.
    return ttlSeconds > 0 ? now() + (ttlSeconds * 1000 * 2) / 3 : Number.POSITIVE_INFINITY;
  }

  async function renew(old: Session): Promise<Session> {
    const req: VaultRequest = { method: 'POST', path: 'auth/token/renew-self', body: {} };
    const answer = await send(req, old.token);
    if (answer.statusCode < 200 || answer.statusCode >= 300) throw failure(answer, req);
    const granted = readAuthBlock(answer.body, req.path);
    opts.onAuth?.({ kind: 'renew', ttlSeconds: granted.ttlSeconds });
    return {
      token: old.token,
      refreshAt: refreshPoint(granted.ttlSeconds),
      loginTtlSeconds: old.loginTtlSeconds,
      // A renewal granting much less than login did means the max TTL is near.
      loginNext: !granted.renewable || granted.ttlSeconds < old.loginTtlSeconds / 2,
    };
  }

  async function refresh(old: Session | undefined): Promise<Session> {
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

  function singleFlight(run: () => Promise<Session>): Promise<Session> {
    if (!refreshing) {
      refreshing = run()
        .then((s) => (session = s))
        .finally(() => {
          refreshing = undefined;
        });
    }
    return refreshing;
  }

  async function currentToken(): Promise<string> {
    if (auth.kind === 'token') return auth.token;
    if (refreshing) return (await refreshing).token;
    if (session && now() < session.refreshAt) return session.token;
    const old = session;
    return (await singleFlight(() => refresh(old))).token;
  }

  /** After a 403: log in again, unless another request already replaced the rejected token. */
  async function reloginAfterDenied(rejected: string, path: string): Promise<string> {
    if (refreshing) return (await refreshing).token;
    if (session && session.token !== rejected) return session.token;
    opts.onAuth?.({ kind: 'relogin-after-denied', path });
    return (await singleFlight(login)).token;
  }

  async function perform(req: VaultRequest): Promise<VaultResponse> {
    let answer: RawAnswer;
    if (req.authenticated === false) {
      answer = await send(req, undefined);
    } else {
      const token = await currentToken();
      answer = await send(req, token);
      if (answer.statusCode === 403 && auth.kind === 'approle') {
        // Nothing was done on a 403, so repeating the request is safe, writes included.
        answer = await send(req, await reloginAfterDenied(token, req.path));
      }
    }
    const ok =
      (answer.statusCode >= 200 && answer.statusCode < 300) ||
      (req.acceptStatus?.includes(answer.statusCode) ?? false) ||
      (req.absentOk === true && answer.statusCode === 404 && answer.errors.length === 0);
    if (!ok) throw failure(answer, req);
    return { statusCode: answer.statusCode, body: answer.body };
  }

  const kvPath = (mount: string, kind: 'data' | 'metadata', path: string) =>
    `${encodeVaultPath(mount)}/${kind}/${encodeVaultPath(path)}`;

  async function kvReadMetadata(mount: string, path: string): Promise<KvKeyMetadata | undefined> {
    const apiPath = kvPath(mount, 'metadata', path);
    const res = await perform({ method: 'GET', path: apiPath, absentOk: true });
    if (res.statusCode === 404) return undefined;
    const data = dataOf(res.body, apiPath);
    const custom: Record<string, string> = {};
    if (isRecord(data.custom_metadata)) {
      for (const [k, v] of Object.entries(data.custom_metadata)) if (typeof v === 'string') custom[k] = v;
    }
    const versions: Record<string, KvVersionInfo> = {};
    if (isRecord(data.versions)) {
      for (const [k, v] of Object.entries(data.versions)) {
        if (!isRecord(v)) continue;
        versions[k] = {
          created_time: stringOr(v.created_time),
          deletion_time: stringOr(v.deletion_time),
          destroyed: v.destroyed === true,
        };
      }
    }
    return {
      currentVersion: numberField(data, 'current_version', apiPath),
      oldestVersion: typeof data.oldest_version === 'number' ? data.oldest_version : 0,
      customMetadata: custom,
      versions,
      maxVersions: typeof data.max_versions === 'number' ? data.max_versions : 0,
      casRequired: data.cas_required === true,
    };
  }

  return {
    address,
    ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),

    request: perform,

    async kvRead<T = Record<string, unknown>>(
      mount: string,
      path: string,
      readOpts: { version?: number } = {},
    ): Promise<KvReadResult<T> | undefined> {
      const apiPath = kvPath(mount, 'data', path);
      const res = await perform({
        method: 'GET',
        path: apiPath,
        absentOk: true,
        ...(readOpts.version !== undefined ? { query: { version: readOpts.version } } : {}),
      });
      // 404 without errors: never written, or that version deleted or destroyed.
      if (res.statusCode === 404) return undefined;
      const data = dataOf(res.body, apiPath);
      const metadata = isRecord(data.metadata) ? data.metadata : {};
      return {
        data: (isRecord(data.data) ? data.data : {}) as T,
        metadata: {
          version: numberField(metadata, 'version', apiPath),
          created_time: stringOr(metadata.created_time),
          deletion_time: stringOr(metadata.deletion_time),
          destroyed: metadata.destroyed === true,
        },
      };
    },

    async kvWrite(mount, path, data, writeOpts = {}) {
      const apiPath = kvPath(mount, 'data', path);
      const res = await perform({
        method: 'POST',
        path: apiPath,
        body: { data, options: writeOpts.cas !== undefined ? { cas: writeOpts.cas } : {} },
      });
      return { version: numberField(dataOf(res.body, apiPath), 'version', apiPath) };
    },

    kvReadMetadata,

    async kvWriteCustomMetadata(mount, path, custom) {
      const apiPath = kvPath(mount, 'metadata', path);
      try {
        // JSON merge patch (Vault 1.9+, OpenBao): one request, entries not named stay as they are.
        await perform({
          method: 'PATCH',
          path: apiPath,
          body: { custom_metadata: custom },
          contentType: 'application/merge-patch+json',
        });
        return;
      } catch (err) {
        if (!isVaultError(err, 'VaultMethodNotAllowed')) throw err;
      }
      // Older servers without PATCH: read, merge, write the whole map back.
      const current = await kvReadMetadata(mount, path);
      if (!current) {
        throw new VaultError('VaultNotFound', `no key at ${apiPath} to attach custom metadata to`, {
          httpStatus: 404,
          path: apiPath,
        });
      }
      const merged: Record<string, string> = { ...current.customMetadata };
      for (const [k, v] of Object.entries(custom)) {
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
      await perform({ method: 'POST', path: apiPath, body: { custom_metadata: merged } });
    },

    async health() {
      const res = await perform({
        method: 'GET',
        path: 'sys/health',
        authenticated: false,
        acceptStatus: [429, 472, 473, 501, 503],
      });
      const body = isRecord(res.body) ? res.body : {};
      const health: VaultHealth = {
        statusCode: res.statusCode,
        initialized: body.initialized === true,
        sealed: body.sealed === true,
        standby: body.standby === true,
      };
      if (typeof body.version === 'string') health.version = body.version;
      return health;
    },

    async close() {
      await ownAgent?.close();
    },
  };
}

function stringOr(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(path: string, what: string): VaultError {
  return new VaultError('VaultUnavailable', `the vault's answer to ${path} is malformed (${what})`, { path });
}

function dataOf(body: unknown, path: string): Record<string, unknown> {
  if (!isRecord(body) || !isRecord(body.data)) throw malformed(path, 'no "data" object');
  return body.data;
}

function numberField(obj: Record<string, unknown>, field: string, path: string): number {
  const value = obj[field];
  if (typeof value !== 'number') throw malformed(path, `no numeric "${field}"`);
  return value;
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
