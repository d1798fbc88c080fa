// The Graph calls of a process (worker or trigger) as its configuration says: one token for all
// (GRAPH_TOKEN_SOURCE=env) or each tenant's own from the vault (GRAPH_TOKEN_SOURCE=vault).
import type { Dispatcher } from 'undici';
import { ConfigError } from '../config/env-reader';
import type { KvV2 } from '../vault/kv-v2';
import { createGraphClient, type GraphClientOptions } from './graph-client';
import type { GraphConfig } from './graph-config';
import { envTokenSource, vaultTokenSource, type GraphTokenSource } from './graph-token-source';
import { createTenantGraph, type TenantGraph } from './tenant-graph';

export interface TenantGraphConfig {
  graph: GraphConfig;
  /** Required with GRAPH_TOKEN_SOURCE=vault: reads the tokens (and, for the trigger, the WABA index). */
  vault?: { client: Pick<KvV2, 'kvRead'>; mount: string };
  dispatcher?: Dispatcher;
  /** Meta's usage headers of every response (graph-budget.ts), whichever tenant's token it went with. */
  onUsage?: GraphClientOptions['onUsage'];
}

export function tokenSourceFromConfig(config: TenantGraphConfig): GraphTokenSource {
  if (config.graph.tokens.source === 'env') {
    // loadGraphConfig requires it for `env`; a hand-built configuration may still lack it.
    if (config.graph.accessToken === undefined) {
      throw new ConfigError('GRAPH_ACCESS_TOKEN', 'is not set, and GRAPH_TOKEN_SOURCE is env');
    }
    return envTokenSource(config.graph.accessToken);
  }
  if (!config.vault) throw new Error('GRAPH_TOKEN_SOURCE=vault needs a vault client');
  return vaultTokenSource({
    vault: config.vault.client,
    mount: config.vault.mount,
    config: config.graph.tokens,
  });
}

export function tenantGraphFromConfig(config: TenantGraphConfig): TenantGraph {
  const { graph } = config;
  return createTenantGraph({
    tokens: tokenSourceFromConfig(config),
    clientFor: (accessToken) =>
      createGraphClient({
        baseUrl: graph.baseUrl,
        apiVersion: graph.apiVersion,
        accessToken,
        headersTimeoutMs: graph.headersTimeoutMs,
        bodyTimeoutMs: graph.bodyTimeoutMs,
        ...(config.dispatcher ? { dispatcher: config.dispatcher } : {}),
        ...(config.onUsage ? { onUsage: config.onUsage } : {}),
      }),
  });
}
