// The vault settings of a worker, read once at start-up: a missing credential or a malformed
// path fails here with one line naming the variable, never later inside an activity.
import { readFileSync } from 'node:fs';
import { ConfigError, EnvReader, type Env } from '../config/env-reader';
import type { VaultAuth } from './vault-client';
import { loadVaultTls, type VaultTls } from './vault-tls';

/** Where the embedded local stack runs OpenBao; only ever a default when the caller says so. */
export const LOCAL_STACK_VAULT_ADDRESS = 'http://127.0.0.1:8200';

/**
 * Mount and prefix segments: letters, digits, "_", "-", "." (not leading, so no "." or ".."),
 * joined by single slashes. They end up in API paths and in the worker's HCL policy, so
 * nothing else may pass.
 */
export const VAULT_PATH_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;
const PATH_EXPECTED =
  'slash-separated segments of letters, digits, "_", "-", "." without leading/trailing slash';

/** Where the PINs are kept: the worker reads them there, the vault setup grants access to them. */
export interface VaultLocation {
  address: string;
  namespace?: string;
  kvMount: string;
  pinPrefix: string;
}

export interface VaultConfig extends VaultLocation {
  auth: VaultAuth;
  requestTimeoutMs: number;
  /** For an https:// VAULT_ADDR: VAULT_CACERT, VAULT_CAPATH, client certificate, server name. */
  tls?: VaultTls;
}

export interface VaultConfigDefaults {
  /** The local stack passes LOCAL_STACK_VAULT_ADDRESS; production passes nothing, so VAULT_ADDR is required. */
  address?: string;
  /** The local stack's dev root token, used only when no credential is in the environment. */
  token?: string;
}

/** VAULT_ADDR (or the given default), VAULT_NAMESPACE, VAULT_KV_MOUNT and VAULT_PIN_PREFIX. */
export function loadVaultLocation(env: Env, defaultAddress?: string): VaultLocation {
  const read = new EnvReader(env);
  const address = read.url('VAULT_ADDR', defaultAddress);
  const namespace = read.matching('VAULT_NAMESPACE', VAULT_PATH_PATTERN, PATH_EXPECTED);
  const kvMount = read.matching('VAULT_KV_MOUNT', VAULT_PATH_PATTERN, PATH_EXPECTED, 'secret') as string;
  const pinPrefix = read.matching(
    'VAULT_PIN_PREFIX',
    VAULT_PATH_PATTERN,
    PATH_EXPECTED,
    'whatsapp/two-step-pins',
  ) as string;
  return { address, ...(namespace !== undefined && { namespace }), kvMount, pinPrefix };
}

export function loadVaultConfig(env: Env, defaults: VaultConfigDefaults = {}): VaultConfig {
  const location = loadVaultLocation(env, defaults.address);
  const read = new EnvReader(env);
  const requestTimeoutMs = read.positiveNumber('VAULT_REQUEST_TIMEOUT_MS', 10_000);
  const tls = loadVaultTls(env, location.address);
  return { ...location, auth: readAuth(read, defaults), requestTimeoutMs, ...(tls !== undefined && { tls }) };
}

function readAuth(read: EnvReader, defaults: VaultConfigDefaults): VaultAuth {
  const token = read.optional('VAULT_TOKEN');
  const roleId = read.optional('VAULT_ROLE_ID');
  const secretId = readSecretId(read);
  if (token !== undefined && (roleId !== undefined || secretId !== undefined)) {
    throw new ConfigError(
      'VAULT_TOKEN',
      'is set together with VAULT_ROLE_ID/VAULT_SECRET_ID: give either a token or the AppRole credentials, not both',
    );
  }
  if (roleId !== undefined || secretId !== undefined) {
    if (roleId === undefined) {
      throw new ConfigError('VAULT_ROLE_ID', 'is not set but VAULT_SECRET_ID is: AppRole needs both');
    }
    if (secretId === undefined) {
      throw new ConfigError(
        'VAULT_SECRET_ID',
        'is not set (nor VAULT_SECRET_ID_FILE) but VAULT_ROLE_ID is: AppRole needs both',
      );
    }
    const mount = read.matching(
      'VAULT_APPROLE_MOUNT',
      VAULT_PATH_PATTERN,
      PATH_EXPECTED,
      'approle',
    ) as string;
    return { kind: 'approle', roleId, secretId, mount };
  }
  const effective = token ?? defaults.token;
  if (effective === undefined) {
    throw new ConfigError(
      'VAULT_TOKEN',
      'is not set, nor VAULT_ROLE_ID + VAULT_SECRET_ID: give a vault token, or the AppRole credentials that "tsx src/vault/setup-cli.ts" creates',
    );
  }
  return { kind: 'token', token: effective };
}

/** VAULT_SECRET_ID, or the first line of the file VAULT_SECRET_ID_FILE names (a mounted secret). */
function readSecretId(read: EnvReader): string | undefined {
  const direct = read.optional('VAULT_SECRET_ID');
  const file = read.optional('VAULT_SECRET_ID_FILE');
  if (direct !== undefined && file !== undefined) {
    throw new ConfigError('VAULT_SECRET_ID_FILE', 'is set together with VAULT_SECRET_ID: give only one');
  }
  if (file === undefined) return direct;
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('VAULT_SECRET_ID_FILE', `cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  const secretId = content.split(/\r?\n/)[0]?.trim();
  if (!secretId) throw new ConfigError('VAULT_SECRET_ID_FILE', `names an empty file (${file})`);
  return secretId;
}
