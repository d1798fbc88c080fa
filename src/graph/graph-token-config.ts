// Where Graph tokens come from, read once at start-up: one GRAPH_ACCESS_TOKEN for every number
// (`env`), or each client business's own token from the vault (`vault`), as Meta asks solution
// partners to call on a client's behalf (docs/pin-drift.md, "Tokens").
import { ConfigError, EnvReader, type Env } from '../config/env-reader';
import { VAULT_PATH_PATTERN } from '../vault/vault-config';

export const GRAPH_TOKEN_SOURCES = ['env', 'vault'] as const;
export type GraphTokenSourceKind = (typeof GRAPH_TOKEN_SOURCES)[number];

/** Beside the PINs' default prefix `whatsapp/two-step-pins`. */
export const DEFAULT_GRAPH_TOKEN_PREFIX = 'whatsapp/graph-tokens';
/**
 * Long enough that a busy worker reads a tenant's token about once a minute, short enough that a
 * token rotated in the vault is in use a minute later without restarting anything.
 */
export const DEFAULT_GRAPH_TOKEN_CACHE_SECONDS = 60;

export interface GraphTokenConfig {
  source: GraphTokenSourceKind;
  /** KV prefix under VAULT_KV_MOUNT: tokens at {prefix}/tenants/{tenant}, WABAs at {prefix}/wabas/{id}. */
  prefix: string;
  cacheMs: number;
}

export function loadGraphTokenConfig(env: Env): GraphTokenConfig {
  const read = new EnvReader(env);
  const raw = read.optional('GRAPH_TOKEN_SOURCE') ?? 'env';
  if (!(GRAPH_TOKEN_SOURCES as readonly string[]).includes(raw)) {
    throw new ConfigError(
      'GRAPH_TOKEN_SOURCE',
      `must be "env" (one GRAPH_ACCESS_TOKEN) or "vault" (a token per tenant in the vault) (got "${raw}")`,
    );
  }
  const prefix = read.matching(
    'VAULT_GRAPH_TOKEN_PREFIX',
    VAULT_PATH_PATTERN,
    'slash-separated segments of letters, digits, "_", "-", "."',
    DEFAULT_GRAPH_TOKEN_PREFIX,
  ) as string;
  const seconds = read.positiveNumber('GRAPH_TOKEN_CACHE_SECONDS', DEFAULT_GRAPH_TOKEN_CACHE_SECONDS);
  return { source: raw as GraphTokenSourceKind, prefix, cacheMs: Math.round(seconds * 1000) };
}
