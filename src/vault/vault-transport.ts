// One HTTP exchange with the Vault / OpenBao API: URL, headers, timeouts, JSON in and out, and the
// server's `errors` strings with every known credential blanked out. It never retries (Temporal
// owns retries) and knows nothing of logins: the token to send is handed in per request.
import type { ConnectionOptions } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { VaultError, vaultConnectionError, vaultErrorForStatus, type RequestContext } from './vault-errors';

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

/** What came back, whatever the status: the caller decides what is an answer. */
export interface VaultAnswer extends VaultResponse {
  /** The server's error strings, credentials blanked out. */
  errors: string[];
}

export interface VaultTransportOptions {
  /** e.g. "http://127.0.0.1:8200", without /v1. */
  address: string;
  namespace?: string;
  /** An undici dispatcher to use instead of an Agent of the transport's own. */
  dispatcher?: Dispatcher;
  /** Bound on connecting, on waiting for headers and on each gap in the body. */
  timeoutMs: number;
  /** CA, client certificate and server name for an https:// vault (vault-tls.ts). */
  tls?: ConnectionOptions;
  /** The credentials in use now, to keep out of any error text the server sends back. */
  secrets: () => ReadonlyArray<string | undefined>;
}

export interface VaultTransport {
  readonly address: string;
  readonly namespace?: string;
  send(req: VaultRequest, token: string | undefined): Promise<VaultAnswer>;
  /** The typed error for an answer that is not one the request accepts. */
  failure(answer: VaultAnswer, req: VaultRequest): VaultError;
  /** Closes the transport's own connection pool (a dispatcher handed in stays open). */
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

export function createVaultTransport(opts: VaultTransportOptions): VaultTransport {
  const address = opts.address.replace(/\/+$/, '');
  const ownAgent = opts.dispatcher
    ? undefined
    : new Agent({
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
        connect: { timeout: opts.timeoutMs, ...opts.tls },
      });
  const dispatcher: Dispatcher = opts.dispatcher ?? (ownAgent as Agent);

  /** Server error strings should never echo a credential, but make sure of it. */
  function redact(text: string): string {
    let out = text;
    for (const secret of opts.secrets()) if (secret) out = out.split(secret).join('[redacted]');
    return out;
  }

  function context(method: string, path: string): RequestContext {
    const ctx: RequestContext = { address, method, path };
    if (opts.namespace !== undefined) ctx.namespace = opts.namespace;
    return ctx;
  }

  async function send(req: VaultRequest, token: string | undefined): Promise<VaultAnswer> {
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

  return {
    address,
    ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
    send,
    failure: (answer, req) =>
      vaultErrorForStatus(answer.statusCode, answer.errors, context(req.method, req.path)),
    async close() {
      await ownAgent?.close();
    },
  };
}
