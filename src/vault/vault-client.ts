// A small client for the part of the Vault / OpenBao HTTP API this product uses: KV version 2
// data and metadata (kv-v2.ts), AppRole login with token renewal (approle-session.ts), and
// health, over one transport (vault-transport.ts). It never retries a failed request on its own
// (Temporal owns retries); the one exception is a 403 under AppRole, where the token may simply
// have expired or been revoked, so it logs in again once and repeats the request once before
// reporting VaultPermissionDenied.
import type { ConnectionOptions } from 'node:tls';
import type { Dispatcher } from 'undici';
import { createVaultSession, type VaultAuth, type VaultAuthEvent } from './approle-session';
import { createKvV2, type KvV2 } from './kv-v2';
import { isRecord } from './vault-answer';
import {
  createVaultTransport,
  type VaultAnswer,
  type VaultRequest,
  type VaultResponse,
} from './vault-transport';

export type { VaultAuth, VaultAuthEvent } from './approle-session';
export type { KvKeyMetadata, KvReadResult, KvVersionInfo, KvVersionMetadata } from './kv-v2';
export { encodeVaultPath, type VaultMethod, type VaultRequest, type VaultResponse } from './vault-transport';

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
  /** CA, client certificate and server name for an https:// vault (vault-tls.ts). */
  tls?: ConnectionOptions;
  /** Clock for token renewal decisions; Date.now by default. */
  now?: () => number;
  onAuth?: (event: VaultAuthEvent) => void;
}

export interface VaultHealth {
  statusCode: number;
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version?: string;
}

export interface VaultClient extends KvV2 {
  readonly address: string;
  readonly namespace?: string;
  health(): Promise<VaultHealth>;
  request(req: VaultRequest): Promise<VaultResponse>;
  /** Closes the client's own connection pool (a dispatcher handed in stays open). */
  close(): Promise<void>;
}

export function createVaultClient(opts: VaultClientOptions): VaultClient {
  // The transport asks the session for the secrets to redact (only once requests run, after both
  // exist); the session sends through the transport.
  const transport = createVaultTransport({
    address: opts.address,
    ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
    ...(opts.dispatcher !== undefined ? { dispatcher: opts.dispatcher } : {}),
    timeoutMs: opts.timeoutMs,
    ...(opts.tls !== undefined ? { tls: opts.tls } : {}),
    secrets: () => auth.secrets(),
  });
  const auth = createVaultSession(opts.auth, transport, {
    now: opts.now ?? Date.now,
    ...(opts.onAuth !== undefined ? { onAuth: opts.onAuth } : {}),
  });

  async function perform(req: VaultRequest): Promise<VaultResponse> {
    let answer: VaultAnswer;
    if (req.authenticated === false) {
      answer = await transport.send(req, undefined);
    } else {
      const token = await auth.token();
      answer = await transport.send(req, token);
      if (answer.statusCode === 403) {
        // Nothing was done on a 403, so repeating the request is safe, writes included.
        const replacement = await auth.replaceRejected(token, req.path);
        if (replacement !== undefined) answer = await transport.send(req, replacement);
      }
    }
    const ok =
      (answer.statusCode >= 200 && answer.statusCode < 300) ||
      (req.acceptStatus?.includes(answer.statusCode) ?? false) ||
      (req.absentOk === true && answer.statusCode === 404 && answer.errors.length === 0);
    if (!ok) throw transport.failure(answer, req);
    return { statusCode: answer.statusCode, body: answer.body };
  }

  return {
    address: transport.address,
    ...(transport.namespace !== undefined ? { namespace: transport.namespace } : {}),
    request: perform,
    ...createKvV2(perform),

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

    close: () => transport.close(),
  };
}
