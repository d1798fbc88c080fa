// Everything the worker needs, read and checked once at start-up: a missing or malformed
// variable stops the process with one line naming it, never later inside an activity.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../config/env-reader';
import type { Keyring } from '../crypto/keyring';
import { loadCodecKeyring } from '../codec/codec-config';
import { loadGraphConfig, type GraphConfig } from '../graph/graph-config';
import { DEFAULT_SANDBOX_PORT } from '../graph-sandbox/server';
import { defaultStackDataDir } from '../local-stack/stack';
import { loadPinSealingKeyring } from '../pin/sealing-config';
import { loadTemporalSettings, type TemporalSettings } from '../temporal/temporal-connection';
import { LOCAL_STACK_VAULT_ADDRESS, loadVaultConfig, type VaultConfig } from '../vault/vault-config';
import { loadMetricsBindAddress } from '../metrics/metrics-config';

/** Where the local stack leaves the worker's AppRole credentials (git-ignored). */
export const WORKER_APPROLE_FILE_NAME = 'worker-approle.json';
export const LOCAL_WORKER_APPROLE_FILE = join(defaultStackDataDir, WORKER_APPROLE_FILE_NAME);
/** The Graph sandbox of `npm run stack`: where a --local worker calls Graph unless told otherwise. */
export const LOCAL_GRAPH_SANDBOX_URL = `http://127.0.0.1:${DEFAULT_SANDBOX_PORT}`;

export interface WorkerConfig {
  local: boolean;
  temporal: TemporalSettings;
  graph: GraphConfig;
  vault: VaultConfig;
  sealingKeyring: Keyring;
  codecKeyring: Keyring;
  /** METRICS_BIND_ADDRESS; undefined means no /metrics endpoint. */
  metricsBindAddress?: string;
}

interface LocalAppRole {
  roleId: string;
  secretId: string;
}

/** In the local stack the worker logs in with the AppRole the stack created, not the root token. */
function withLocalVaultCredentials(env: Env): Env {
  if (env.VAULT_TOKEN || env.VAULT_ROLE_ID || !existsSync(LOCAL_WORKER_APPROLE_FILE)) return env;
  const creds = JSON.parse(readFileSync(LOCAL_WORKER_APPROLE_FILE, 'utf8')) as LocalAppRole;
  return { ...env, VAULT_ROLE_ID: creds.roleId, VAULT_SECRET_ID: creds.secretId };
}

/** `npm run worker -- --local` next to `npm run stack` needs no GRAPH_BASE_URL of its own. */
function withLocalGraphSandbox(env: Env): Env {
  return env.GRAPH_BASE_URL?.trim() ? env : { ...env, GRAPH_BASE_URL: LOCAL_GRAPH_SANDBOX_URL };
}

export function loadWorkerConfig(env: Env, opts: { local: boolean }): WorkerConfig {
  const effectiveEnv = opts.local ? withLocalGraphSandbox(withLocalVaultCredentials(env)) : env;
  return {
    local: opts.local,
    temporal: loadTemporalSettings(effectiveEnv),
    graph: loadGraphConfig(effectiveEnv),
    vault: loadVaultConfig(effectiveEnv, opts.local ? { address: LOCAL_STACK_VAULT_ADDRESS } : {}),
    sealingKeyring: loadPinSealingKeyring(effectiveEnv, opts),
    codecKeyring: loadCodecKeyring(effectiveEnv, opts),
    // Off unless asked, --local included: several local workers, or one beside the stack's own
    // (which serves 127.0.0.1:9464), would all want the same port.
    metricsBindAddress: loadMetricsBindAddress(effectiveEnv),
  };
}
