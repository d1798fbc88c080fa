// Which Graph token a call uses. With `env` every call uses GRAPH_ACCESS_TOKEN. With `vault` each
// client business (the number's tenant) has its own business-integration system-user token in KV v2,
// read when the call is made and kept for a short while, so a token rotated in the vault is in use
// within GRAPH_TOKEN_CACHE_SECONDS without restarting a worker or the trigger:
//
//   {mount}/data/{prefix}/tenants/{tenant}   { "access_token": "EAAG..." }
//   {mount}/data/{prefix}/wabas/{wabaId}     { "tenant": "acme-retail" }   (read by the trigger only)
//
// Tokens are per tenant, not per WABA, because Meta issues one per client business: a client with
// three WABAs has one token to rotate. Webhooks name only the WABA, hence the small WABA index.
import type { KvV2 } from '../vault/kv-v2';
import type { GraphTokenConfig } from './graph-token-config';
import { TenantTokenError } from './tenant-token-error';

/** A token and where it came from: the origin is what an operator fixes when Meta refuses it. */
export interface GraphCredential {
  token: string;
  /** "GRAPH_ACCESS_TOKEN", or the logical vault path of the tenant's token. */
  origin: string;
  tenant?: string;
}

export interface GraphTokenSource {
  readonly kind: 'env' | 'vault';
  /** The token for a number of this tenant; TenantTokenError when the vault has none. */
  credentialFor(tenant: string | undefined): Promise<GraphCredential>;
  /** The tenant a WABA belongs to, from the vault's WABA index (undefined with `env`, or unknown). */
  tenantOfWaba(wabaId: string): Promise<string | undefined>;
  /** Meta refused this tenant's token: read it again next time instead of waiting out the cache. */
  forget(tenant: string | undefined): void;
  /** Where the tenant's token lives (for runbooks); undefined with `env`. */
  tokenPathOf(tenant: string): string | undefined;
  /** Where a WABA's index entry lives; undefined with `env`. */
  wabaIndexPathOf(wabaId: string): string | undefined;
}

export const ENV_TOKEN_ORIGIN = 'GRAPH_ACCESS_TOKEN';

/** Tenant names become one path segment: no slash, no leading dot, nothing to escape. */
export const TENANT_SEGMENT_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/;
const WABA_SEGMENT_PATTERN = /^[0-9]{1,32}$/;
/** What Meta's tokens look like to HTTP: printable ASCII without spaces. */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

export function envTokenSource(accessToken: string): GraphTokenSource {
  const credential: GraphCredential = { token: accessToken, origin: ENV_TOKEN_ORIGIN };
  return {
    kind: 'env',
    credentialFor: async (tenant) => (tenant ? { ...credential, tenant } : credential),
    tenantOfWaba: async () => undefined,
    forget() {},
    tokenPathOf: () => undefined,
    wabaIndexPathOf: () => undefined,
  };
}

export interface VaultTokenSourceOptions {
  vault: Pick<KvV2, 'kvRead'>;
  mount: string;
  config: Pick<GraphTokenConfig, 'prefix' | 'cacheMs'>;
  now?: () => number;
}

interface Cached<T> {
  value: T;
  until: number;
}

export function vaultTokenSource(opts: VaultTokenSourceOptions): GraphTokenSource {
  const { mount, config } = opts;
  const now = opts.now ?? Date.now;
  const tokens = new Map<string, Cached<string>>();
  const wabas = new Map<string, Cached<string>>();
  const tokenKey = (tenant: string) => `${config.prefix}/tenants/${tenant}`;
  const tokenPathOf = (tenant: string) => `${mount}/${tokenKey(tenant)}`;
  const putCommand = (tenant: string) =>
    `bao kv put -mount=${mount} ${tokenKey(tenant)} access_token=@token.txt`;

  async function readToken(tenant: string): Promise<string> {
    const cached = tokens.get(tenant);
    if (cached && cached.until > now()) return cached.value;
    const found = await opts.vault.kvRead<{ access_token?: unknown }>(mount, tokenKey(tenant));
    const token = found?.data.access_token;
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
      tokens.delete(tenant);
      const what = found
        ? 'has no usable "access_token" (a string without spaces)'
        : 'does not exist (or its newest version is deleted)';
      throw new TenantTokenError(
        `no Graph token for tenant "${tenant}": the vault path ${tokenPathOf(tenant)} ${what}. ` +
          `Put the tenant's business-integration system-user token there (${putCommand(tenant)}), then send retry`,
        tenant,
        tokenPathOf(tenant),
      );
    }
    // Misses are not cached: a token put in the vault is used by the very next retry.
    tokens.set(tenant, { value: token, until: now() + config.cacheMs });
    return token;
  }

  return {
    kind: 'vault',
    async credentialFor(tenant) {
      if (tenant === undefined || tenant === '') {
        throw new TenantTokenError(
          `this number has no tenant, and GRAPH_TOKEN_SOURCE=vault reads each tenant's token from ` +
            `${mount}/${config.prefix}/tenants/<tenant>: start the number again with its tenant`,
          undefined,
          undefined,
        );
      }
      if (!TENANT_SEGMENT_PATTERN.test(tenant)) {
        throw new TenantTokenError(
          `tenant ${JSON.stringify(tenant.slice(0, 40))} cannot name a vault path (letters, digits, "_", "-", "." only, ` +
            'at most 100): with GRAPH_TOKEN_SOURCE=vault start the number under a tenant name of that form',
          tenant,
          undefined,
        );
      }
      return { token: await readToken(tenant), origin: tokenPathOf(tenant), tenant };
    },
    async tenantOfWaba(wabaId) {
      if (!WABA_SEGMENT_PATTERN.test(wabaId)) return undefined;
      const cached = wabas.get(wabaId);
      if (cached && cached.until > now()) return cached.value;
      const found = await opts.vault.kvRead<{ tenant?: unknown }>(mount, `${config.prefix}/wabas/${wabaId}`);
      const tenant = found?.data.tenant;
      if (typeof tenant !== 'string' || !TENANT_SEGMENT_PATTERN.test(tenant)) return undefined;
      wabas.set(wabaId, { value: tenant, until: now() + config.cacheMs });
      return tenant;
    },
    forget(tenant) {
      if (tenant !== undefined) tokens.delete(tenant);
    },
    tokenPathOf,
    wabaIndexPathOf: (wabaId) => `${mount}/${config.prefix}/wabas/${wabaId}`,
  };
}
