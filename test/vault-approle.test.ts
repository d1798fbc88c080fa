// Least privilege on the real OpenBao: the worker's AppRole can do its job under the PIN prefix
// and nothing else, keeps itself logged in (renewal, re-login after revocation), and the setup
// CLI hands the secret id over in a private file.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  applyWorkerAccess,
  renderTriggerPolicy,
  renderWorkerPolicy,
  type WorkerAccess,
} from '../src/vault/apply-worker-access';
import { createPinStore } from '../src/vault/pin-store';
import { runSetupCli } from '../src/vault/setup-cli';
import { createVaultClient, type VaultAuthEvent, type VaultClient } from '../src/vault/vault-client';
import { loadVaultConfig } from '../src/vault/vault-config';
import { vaultFailure } from './support/vault-failure';

const address = inject('vaultAddress');
const rootToken = inject('vaultRootToken');
const run = randomBytes(5).toString('hex');
const prefix = `test-approle-${run}/two-step-pins`;
const roleName = `pin-worker-test-${run}`;
let nextId = 200_000_000_000_000;
const freshNumber = () => String(nextId++);

describe('worker AppRole', () => {
  let access: WorkerAccess;
  const clients: VaultClient[] = [];
  function workerClient(events: VaultAuthEvent[] = [], now?: () => number): VaultClient {
    const client = createVaultClient({
      address,
      auth: { kind: 'approle', roleId: access.roleId, secretId: access.secretId },
      timeoutMs: 5_000,
      onAuth: (e) => events.push(e),
      ...(now ? { now } : {}),
    });
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    access = await applyWorkerAccess({ address, rootToken, mount: 'secret', prefix, roleName });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it('renders the policy for exactly the mount and prefix', () => {
    const policy = renderWorkerPolicy('secret', prefix);
    expect(policy).toContain(`path "secret/data/${prefix}/*"`);
    expect(policy).toContain(`path "secret/metadata/${prefix}/*"`);
    const rules = policy
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n');
    expect(rules).not.toMatch(/\{\{|delete|destroy|list|sudo|deny/);
    expect(rules.match(/^path "[^"]+"/gm)).toEqual([
      `path "secret/data/${prefix}/*"`,
      `path "secret/metadata/${prefix}/*"`,
      'path "secret/data/whatsapp/graph-tokens/tenants/*"',
      'path "auth/token/renew-self"',
      'path "auth/token/lookup-self"',
      'path "auth/token/revoke-self"',
    ]);
    expect(() => renderWorkerPolicy('secret', 'x" {} path "sys/*')).toThrow(/invalid KV prefix/);
  });

  it("reads tenants' Graph tokens, and nothing else under the token prefix", async () => {
    const tokenPrefix = `test-approle-${run}/graph-tokens`;
    const tokenAccess = await applyWorkerAccess({
      address,
      rootToken,
      mount: 'secret',
      prefix,
      tokenPrefix,
      roleName: `${roleName}-tokens`,
    });
    const admin = createVaultClient({ address, auth: { kind: 'token', token: rootToken }, timeoutMs: 5_000 });
    clients.push(admin);
    await admin.kvWrite('secret', `${tokenPrefix}/tenants/acme`, { access_token: 'acme-token' });
    await admin.kvWrite('secret', `${tokenPrefix}/wabas/1`, { tenant: 'acme' });
    const worker = createVaultClient({
      address,
      auth: { kind: 'approle', roleId: tokenAccess.roleId, secretId: tokenAccess.secretId },
      timeoutMs: 5_000,
    });
    clients.push(worker);
    expect((await worker.kvRead('secret', `${tokenPrefix}/tenants/acme`))?.data).toEqual({
      access_token: 'acme-token',
    });
    const denied = [
      () => worker.kvWrite('secret', `${tokenPrefix}/tenants/acme`, { access_token: 'mine' }),
      () => worker.kvRead('secret', `${tokenPrefix}/wabas/1`),
      () => worker.kvReadMetadata('secret', `${tokenPrefix}/tenants/acme`),
    ];
    for (const call of denied) expect((await vaultFailure(call())).type).toBe('VaultPermissionDenied');
  });

  it("gives the trigger read on the tenants' tokens and the WABA index, and no PIN", async () => {
    const tokenPrefix = `test-trigger-${run}/graph-tokens`;
    const admin = createVaultClient({ address, auth: { kind: 'token', token: rootToken }, timeoutMs: 5_000 });
    clients.push(admin);
    const policyName = `pin-trigger-test-${run}`;
    await admin.request({
      method: 'PUT',
      path: `sys/policies/acl/${policyName}`,
      body: { policy: renderTriggerPolicy('secret', tokenPrefix) },
    });
    const created = await admin.request({
      method: 'POST',
      path: 'auth/token/create',
      body: { policies: [policyName], no_default_policy: true, ttl: '10m' },
    });
    const token = (created.body as { auth: { client_token: string } }).auth.client_token;
    await admin.kvWrite('secret', `${tokenPrefix}/tenants/acme`, { access_token: 'acme-token' });
    await admin.kvWrite('secret', `${tokenPrefix}/wabas/1`, { tenant: 'acme' });
    await admin.kvWrite('secret', `${prefix}/900000000000001`, { pin: '123456' });
    const trigger = createVaultClient({ address, auth: { kind: 'token', token }, timeoutMs: 5_000 });
    clients.push(trigger);
    expect((await trigger.kvRead('secret', `${tokenPrefix}/wabas/1`))?.data).toEqual({ tenant: 'acme' });
    expect((await trigger.kvRead('secret', `${tokenPrefix}/tenants/acme`))?.data.access_token).toBe(
      'acme-token',
    );
    expect((await vaultFailure(trigger.kvRead('secret', `${prefix}/900000000000001`))).type).toBe(
      'VaultPermissionDenied',
    );
    expect(
      (await vaultFailure(trigger.kvWrite('secret', `${tokenPrefix}/wabas/2`, { tenant: 'x' }))).type,
    ).toBe('VaultPermissionDenied');
  });

  it('can store, read back and mark active a PIN under its prefix', async () => {
    const events: VaultAuthEvent[] = [];
    const store = createPinStore({ vault: workerClient(events), mount: 'secret', prefix });
    const id = freshNumber();
    const stored = await store.storePin({
      phoneNumberId: id,
      pin: '012345',
      workflowId: `register-number-${id}`,
      createdAt: '2026-03-01T00:00:00.000Z',
    });
    expect(stored).toEqual({ path: `secret/${prefix}/${id}`, version: 1 });
    expect(await store.readPin({ phoneNumberId: id, version: 1 })).toBe('012345');
    await store.markActive({ phoneNumberId: id, version: 1 });
    expect(await store.describe(id)).toEqual({ currentVersion: 1, activeVersion: 1 });
    expect(events).toEqual([{ kind: 'login', ttlSeconds: 3600 }]);
  });

  it('is denied outside its prefix and for deleting, after one fresh login each time', async () => {
    const events: VaultAuthEvent[] = [];
    const vault = workerClient(events);
    const other = await vaultFailure(vault.kvRead('secret', `other/${run}`));
    expect(other.type).toBe('VaultPermissionDenied');
    expect(other.httpStatus).toBe(403);
    expect(other.retryable).toBe(false);
    expect(events.map((e) => e.kind)).toEqual(['login', 'relogin-after-denied', 'login']);

    const sibling = await vaultFailure(vault.kvWrite('secret', `${prefix}-evil/1`, { pin: '000000' }));
    expect(sibling.type).toBe('VaultPermissionDenied');
    const id = freshNumber();
    await createPinStore({ vault, mount: 'secret', prefix }).storePin({
      phoneNumberId: id,
      pin: '654321',
      workflowId: 'w',
      createdAt: 'c',
    });
    const destroy = await vaultFailure(
      vault.request({ method: 'PUT', path: `secret/destroy/${prefix}/${id}`, body: { versions: [1] } }),
    );
    expect(destroy.type).toBe('VaultPermissionDenied');
    const policies = await vaultFailure(vault.request({ method: 'GET', path: 'sys/policies/acl' }));
    expect(policies.type).toBe('VaultPermissionDenied');
    // Each denied call tried exactly one fresh login.
    expect(events.filter((e) => e.kind === 'relogin-after-denied')).toHaveLength(4);
    const message = [other, sibling, destroy, policies].map((e) => e.message).join('\n');
    expect(message).not.toContain(access.secretId);
  });

  it('logs in again once when its token was revoked, and the call succeeds', async () => {
    const events: VaultAuthEvent[] = [];
    const vault = workerClient(events);
    const store = createPinStore({ vault, mount: 'secret', prefix });
    const id = freshNumber();
    await store.storePin({ phoneNumberId: id, pin: '777777', workflowId: 'w', createdAt: 'c' });
    await vault.request({ method: 'POST', path: 'auth/token/revoke-self' });
    expect(await store.readPin({ phoneNumberId: id, version: 1 })).toBe('777777');
    expect(events.map((e) => e.kind)).toEqual(['login', 'relogin-after-denied', 'login']);
  });

  it('renews its token once two thirds of the TTL have passed', async () => {
    const events: VaultAuthEvent[] = [];
    let skew = 0;
    const vault = workerClient(events, () => Date.now() + skew);
    const lookup = async () =>
      (
        (await vault.request({ method: 'GET', path: 'auth/token/lookup-self' })).body as {
          data: { id: string };
        }
      ).data.id;
    const token = await lookup();
    skew = 2_500_000; // 41 min 40 s into a 1 h token
    expect(await lookup()).toBe(token);
    expect(events).toEqual([
      { kind: 'login', ttlSeconds: 3600 },
      { kind: 'renew', ttlSeconds: 3600 },
    ]);
    await lookup();
    expect(events).toHaveLength(2);
  });

  it('reports a wrong secret id as VaultLoginFailed, not retryable, without the secret', async () => {
    const secretId = `wrong-${randomBytes(8).toString('hex')}`;
    const vault = createVaultClient({
      address,
      auth: { kind: 'approle', roleId: access.roleId, secretId },
      timeoutMs: 5_000,
    });
    clients.push(vault);
    const err = await vaultFailure(vault.kvRead('secret', `${prefix}/1`));
    expect(err.type).toBe('VaultLoginFailed');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('VAULT_SECRET_ID');
    expect([err.message, ...(err.vaultErrors ?? [])].join(' ')).not.toContain(secretId);
  });

  it('setup CLI: secret id into a mode-600 file, role id printed, and the worker config logs in with them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vault-setup-'));
    try {
      const file = join(dir, 'secret-id');
      let printed = '';
      let errors = '';
      const env = { VAULT_ADDR: address, VAULT_TOKEN: rootToken, VAULT_PIN_PREFIX: prefix };
      const setup = (argv: string[]) =>
        runSetupCli({
          argv,
          env,
          stdout: { write: (s: string) => (printed += s) },
          stderr: { write: (s: string) => (errors += s) },
        });
      expect(await setup(['--role-name', roleName])).toBe(2);
      expect(errors).toMatch(/^vault-setup: say where the secret id goes: --secret-id-file .*\n$/);

      expect(await setup(['--role-name', roleName, '--secret-id-file', file])).toBe(0);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const secretId = readFileSync(file, 'utf8').trim();
      expect(secretId).toMatch(/^[0-9a-f-]{36}$/);
      // Same role as applied before: applying again converges instead of minting a new role id.
      expect(printed).toContain(`VAULT_ROLE_ID=${access.roleId}`);
      expect(printed).not.toContain(secretId);
      expect(printed).not.toContain(rootToken);

      const config = loadVaultConfig({
        VAULT_ADDR: address,
        VAULT_ROLE_ID: access.roleId,
        VAULT_SECRET_ID_FILE: file,
        VAULT_PIN_PREFIX: prefix,
      });
      expect(config.auth).toEqual({ kind: 'approle', roleId: access.roleId, secretId, mount: 'approle' });
      const vault = createVaultClient({ address: config.address, auth: config.auth, timeoutMs: 5_000 });
      clients.push(vault);
      const store = createPinStore({ vault, mount: config.kvMount, prefix: config.pinPrefix });
      const id = freshNumber();
      expect(
        (await store.storePin({ phoneNumberId: id, pin: '246810', workflowId: 'w', createdAt: 'c' })).version,
      ).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
