// Gives the worker its own least-privilege identity: the policy in worker-policy.hcl for one
// KV mount and PIN prefix, and an AppRole whose tokens carry only that policy. Run by an
// administrator (setup-cli.ts) or by the local stack; safe to run again (it converges).
import type { ConnectionOptions } from 'node:tls';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_GRAPH_TOKEN_PREFIX } from '../graph/graph-token-config';
import { createVaultClient, encodeVaultPath, type VaultClient } from './vault-client';
import { VAULT_PATH_PATTERN } from './vault-config';
import { VaultError, isVaultError } from './vault-errors';

export const DEFAULT_WORKER_ROLE_NAME = 'whatsapp-pin-worker';

export interface ApplyWorkerAccessOptions {
  address: string;
  /** An administrator's token (root in the local stack); used for these calls only. */
  rootToken: string;
  namespace?: string;
  mount: string;
  prefix: string;
  /** Where tenants' Graph tokens live (VAULT_GRAPH_TOKEN_PREFIX); the worker may read them. */
  tokenPrefix?: string;
  /** Also the policy's name. */
  roleName?: string;
  approleMount?: string;
  /** Worker tokens live an hour and are renewed; a fresh login is needed at the latest every 4h. */
  tokenTtl?: string;
  tokenMaxTtl?: string;
  /** How long a secret id can be used to log in; rotate it before then. */
  secretIdTtl?: string;
  timeoutMs?: number;
  /** TLS to an https:// vault (VAULT_CACERT and friends, vault-tls.ts). */
  tls?: ConnectionOptions;
}

export interface WorkerAccess {
  roleId: string;
  secretId: string;
  secretIdAccessor: string;
  policyName: string;
  roleName: string;
  approleMount: string;
}

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const TTL_PATTERN = /^[0-9]+[smhd]?$/;

/** The policy text for a mount and prefixes (validated: they are pasted into HCL). */
export function renderWorkerPolicy(
  mount: string,
  prefix: string,
  tokenPrefix: string = DEFAULT_GRAPH_TOKEN_PREFIX,
): string {
  for (const [what, value] of [
    ['mount', mount],
    ['prefix', prefix],
    ['token prefix', tokenPrefix],
  ] as const) {
    if (!VAULT_PATH_PATTERN.test(value)) {
      throw new Error(`invalid KV ${what} "${value}" for the worker policy: use segments of [A-Za-z0-9_.-]`);
    }
  }
  return readPolicyTemplate('worker-policy.hcl')
    .replaceAll('{{KV_MOUNT}}', mount)
    .replaceAll('{{PIN_PREFIX}}', prefix)
    .replaceAll('{{TOKEN_PREFIX}}', tokenPrefix);
}

/** The trigger's policy (GRAPH_TOKEN_SOURCE=vault): read the tenants' tokens and the WABA index only. */
export function renderTriggerPolicy(mount: string, tokenPrefix: string = DEFAULT_GRAPH_TOKEN_PREFIX): string {
  for (const value of [mount, tokenPrefix]) {
    if (!VAULT_PATH_PATTERN.test(value)) {
      throw new Error(`invalid KV path "${value}" for the trigger policy: use segments of [A-Za-z0-9_.-]`);
    }
  }
  return readPolicyTemplate('trigger-policy.hcl')
    .replaceAll('{{KV_MOUNT}}', mount)
    .replaceAll('{{TOKEN_PREFIX}}', tokenPrefix);
}

function readPolicyTemplate(name: string): string {
  // Next to this file under tsx; a compiled copy in dist/vault/ falls back to the source tree.
  const candidates = [join(__dirname, name), join(__dirname, '..', '..', 'src', 'vault', name)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`${name} not found (looked in ${candidates.join(', ')})`);
  return readFileSync(found, 'utf8');
}

export async function applyWorkerAccess(opts: ApplyWorkerAccessOptions): Promise<WorkerAccess> {
  const roleName = opts.roleName ?? DEFAULT_WORKER_ROLE_NAME;
  const approleMount = opts.approleMount ?? 'approle';
  if (!NAME_PATTERN.test(roleName)) throw new Error(`invalid role name "${roleName}": use [A-Za-z0-9_-]`);
  if (!VAULT_PATH_PATTERN.test(approleMount)) throw new Error(`invalid AppRole mount "${approleMount}"`);
  const ttls = {
    token_ttl: opts.tokenTtl ?? '1h',
    token_max_ttl: opts.tokenMaxTtl ?? '4h',
    secret_id_ttl: opts.secretIdTtl ?? '720h',
  };
  for (const [field, value] of Object.entries(ttls)) {
    if (!TTL_PATTERN.test(value)) throw new Error(`invalid ${field} "${value}": use e.g. 1h, 30m, 720h`);
  }
  const policy = renderWorkerPolicy(opts.mount, opts.prefix, opts.tokenPrefix);
  const vault = createVaultClient({
    address: opts.address,
    auth: { kind: 'token', token: opts.rootToken },
    timeoutMs: opts.timeoutMs ?? 10_000,
    ...(opts.tls !== undefined ? { tls: opts.tls } : {}),
    ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
  });
  try {
    const policyName = roleName;
    await vault.request({ method: 'PUT', path: `sys/policies/acl/${policyName}`, body: { policy } });
    await enableAppRole(vault, approleMount);
    const rolePath = `auth/${encodeVaultPath(approleMount)}/role/${roleName}`;
    await vault.request({
      method: 'POST',
      path: rolePath,
      body: {
        token_policies: [policyName],
        // Only the worker policy: the default policy's cubbyhole, wrapping and the like are not needed.
        token_no_default_policy: true,
        token_type: 'service',
        ...ttls,
        // The worker logs in again whenever its token runs out, so a secret id is used many times.
        secret_id_num_uses: 0,
      },
    });
    const roleIdAnswer = await vault.request({ method: 'GET', path: `${rolePath}/role-id` });
    const secretAnswer = await vault.request({ method: 'POST', path: `${rolePath}/secret-id`, body: {} });
    return {
      roleId: stringField(roleIdAnswer.body, 'role_id', rolePath),
      secretId: stringField(secretAnswer.body, 'secret_id', rolePath),
      secretIdAccessor: stringField(secretAnswer.body, 'secret_id_accessor', rolePath),
      policyName,
      roleName,
      approleMount,
    };
  } finally {
    await vault.close();
  }
}

async function enableAppRole(vault: VaultClient, mount: string): Promise<void> {
  const mounts = await vault.request({ method: 'GET', path: 'sys/auth' });
  const body = mounts.body as { data?: Record<string, { type?: string }> } | undefined;
  const existing = body?.data?.[`${mount}/`];
  if (existing) {
    if (existing.type !== 'approle') {
      throw new Error(`auth/${mount} is already a "${existing.type}" auth method, not approle`);
    }
    return;
  }
  try {
    await vault.request({
      method: 'POST',
      path: `sys/auth/${encodeVaultPath(mount)}`,
      body: { type: 'approle' },
    });
  } catch (err) {
    // Another setup run enabled it between our look and our write: that is what we wanted.
    if (!(isVaultError(err, 'VaultBadRequest') && err.vaultErrors?.some((e) => /already in use/i.test(e)))) {
      throw err;
    }
  }
}

function stringField(body: unknown, field: string, path: string): string {
  const data = (body as { data?: Record<string, unknown> } | undefined)?.data;
  const value = data?.[field];
  if (typeof value !== 'string') {
    throw new VaultError('VaultUnavailable', `the vault's answer for ${path} has no ${field}`, { path });
  }
  return value;
}
