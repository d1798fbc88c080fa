// Each client business's own Graph token, read from the real OpenBao dev server when a call is made:
// the layout, the cache (a rotation is used once the cache time has passed, never before a refusal
// forces a re-read), the refusals that name the exact path, the WABA index, and a token Meta refuses
// (the Graph sandbox answering 190) naming that tenant's path. Also the security-event record kept
// on a number's vault record.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createGraphClient } from '../src/graph/graph-client';
import { GraphError } from '../src/graph/graph-errors';
import { loadGraphTokenConfig } from '../src/graph/graph-token-config';
import { envTokenSource, vaultTokenSource } from '../src/graph/graph-token-source';
import { createTenantGraph } from '../src/graph/tenant-graph';
import { TenantTokenError, tenantTokenFailure } from '../src/graph/tenant-token-error';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import {
  EXAMPLE_BATCH_FILE,
  localTenantToken,
  readExampleTenants,
  sandboxGrantsOf,
  seedTenantTokens,
  type ExampleTenant,
} from '../src/local-stack/example-tenants';
import { createPinStore } from '../src/vault/pin-store';
import { createSecurityEventRecorder, SECURITY_EVENT_METADATA } from '../src/vault/security-event-record';
import { createVaultClient, type VaultClient } from '../src/vault/vault-client';

const run = randomBytes(5).toString('hex');
const tokenPrefix = `test-tokens-${run}/graph-tokens`;
const pinPrefix = `test-tokens-${run}/two-step-pins`;

let vault: VaultClient;
let sandbox: GraphSandbox;

beforeAll(async () => {
  vault = createVaultClient({
    address: inject('vaultAddress'),
    auth: { kind: 'token', token: inject('vaultRootToken') },
    timeoutMs: 5_000,
  });
  sandbox = await startGraphSandbox({ accessToken: `acme-token-${run}` });
});
afterAll(async () => {
  await vault.close();
  await sandbox.close();
});

function source(clock: { now: number }, cacheMs = 5_000) {
  return vaultTokenSource({
    vault,
    mount: 'secret',
    config: { prefix: tokenPrefix, cacheMs },
    now: () => clock.now,
  });
}

describe('configuration', () => {
  it('defaults to env, takes vault, refuses anything else in one line naming the variable', () => {
    expect(loadGraphTokenConfig({})).toEqual({
      source: 'env',
      prefix: 'whatsapp/graph-tokens',
      cacheMs: 60_000,
    });
    expect(
      loadGraphTokenConfig({ GRAPH_TOKEN_SOURCE: 'vault', GRAPH_TOKEN_CACHE_SECONDS: '2.5' }),
    ).toMatchObject({ source: 'vault', cacheMs: 2_500 });
    expect(() => loadGraphTokenConfig({ GRAPH_TOKEN_SOURCE: 'file' })).toThrow(
      /^GRAPH_TOKEN_SOURCE must be "env".*\(got "file"\)$/,
    );
    expect(() => loadGraphTokenConfig({ VAULT_GRAPH_TOKEN_PREFIX: '../x' })).toThrow(
      /^VAULT_GRAPH_TOKEN_PREFIX/,
    );
  });
});

describe('token source', () => {
  it('env: every tenant gets GRAPH_ACCESS_TOKEN', async () => {
    const env = envTokenSource('one-token');
    expect(await env.credentialFor('acme')).toEqual({
      token: 'one-token',
      origin: 'GRAPH_ACCESS_TOKEN',
      tenant: 'acme',
    });
    expect(env.tokenPathOf('acme')).toBeUndefined();
  });

  it("vault: reads the tenant's token from {prefix}/tenants/{tenant}, two tenants two tokens", async () => {
    await vault.kvWrite('secret', `${tokenPrefix}/tenants/acme-retail`, { access_token: 'token-acme' });
    await vault.kvWrite('secret', `${tokenPrefix}/tenants/bluebird`, { access_token: 'token-bluebird' });
    const tokens = source({ now: 0 });
    expect(await tokens.credentialFor('acme-retail')).toEqual({
      token: 'token-acme',
      origin: `secret/${tokenPrefix}/tenants/acme-retail`,
      tenant: 'acme-retail',
    });
    expect((await tokens.credentialFor('bluebird')).token).toBe('token-bluebird');
  });

  it('a rotation is used once the cache time has passed, without a new source', async () => {
    const clock = { now: 0 };
    const tokens = source(clock, 2_000);
    await vault.kvWrite('secret', `${tokenPrefix}/tenants/rotating`, { access_token: 'old-token' });
    expect((await tokens.credentialFor('rotating')).token).toBe('old-token');
    await vault.kvWrite('secret', `${tokenPrefix}/tenants/rotating`, { access_token: 'new-token' });
    clock.now += 1_999;
    expect((await tokens.credentialFor('rotating')).token).toBe('old-token');
    clock.now += 1;
    expect((await tokens.credentialFor('rotating')).token).toBe('new-token');
  });

  it('a tenant with no token, an unusable token, no tenant, or a name that is no path: each names what to fix', async () => {
    const tokens = source({ now: 0 });
    const missing = await tokens.credentialFor('nobody').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TenantTokenError);
    expect((missing as TenantTokenError).tokenPath).toBe(`secret/${tokenPrefix}/tenants/nobody`);
    expect((missing as Error).message).toContain(
      `the vault path secret/${tokenPrefix}/tenants/nobody does not exist`,
    );
    expect((missing as Error).message).toContain(
      `bao kv put -mount=secret ${tokenPrefix}/tenants/nobody access_token=@token.txt`,
    );
    expect((missing as Error).message).toMatch(/then send retry$/);

    await vault.kvWrite('secret', `${tokenPrefix}/tenants/spaced`, { access_token: 'has a space' });
    await expect(tokens.credentialFor('spaced')).rejects.toThrow(/has no usable "access_token"/);
    await expect(tokens.credentialFor(undefined)).rejects.toThrow(/this number has no tenant/);
    await expect(tokens.credentialFor('../pins')).rejects.toThrow(/cannot name a vault path/);

    const failure = tenantTokenFailure(missing as TenantTokenError);
    expect(failure).toMatchObject({ type: 'TenantTokenMissing', nonRetryable: true });
    expect(failure.details?.[0]).toEqual({
      tokenPath: `secret/${tokenPrefix}/tenants/nobody`,
      tenant: 'nobody',
    });
  });

  it('a token put in the vault after a miss is used at once (misses are not cached)', async () => {
    const tokens = source({ now: 0 });
    await expect(tokens.credentialFor('late')).rejects.toBeInstanceOf(TenantTokenError);
    await vault.kvWrite('secret', `${tokenPrefix}/tenants/late`, { access_token: 'late-token' });
    expect((await tokens.credentialFor('late')).token).toBe('late-token');
  });

  it("finds a WABA's tenant in the index", async () => {
    await vault.kvWrite('secret', `${tokenPrefix}/wabas/102290129340000`, { tenant: 'acme-retail' });
    const tokens = source({ now: 0 });
    expect(await tokens.tenantOfWaba('102290129340000')).toBe('acme-retail');
    expect(await tokens.tenantOfWaba('999')).toBeUndefined();
    expect(await tokens.tenantOfWaba('not-digits')).toBeUndefined();
  });
});

describe("calls with the tenant's token", () => {
  it("Meta refusing a tenant's token (190) names that tenant's path and forgets the cached copy", async () => {
    const clock = { now: 0 };
    const tokens = source(clock, 60_000);
    await vault.kvWrite('secret', `${tokenPrefix}/tenants/expired`, { access_token: `stale-${run}` });
    const graph = createTenantGraph({
      tokens,
      clientFor: (accessToken) =>
        createGraphClient({
          baseUrl: sandbox.url,
          apiVersion: 'v25.0',
          accessToken,
          headersTimeoutMs: 5_000,
          bodyTimeoutMs: 5_000,
        }),
    });
    const err = await graph
      .call('expired', (c) => c.listPhoneNumbers({ wabaId: '1' }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraphError);
    expect(err).toMatchObject({ type: 'GraphAuthError', graphCode: 190 });
    expect((err as Error).message).toContain(
      `tenant "expired"'s token from vault secret/${tokenPrefix}/tenants/expired`,
    );
    expect((err as Error).message).not.toContain(`stale-${run}`);

    // The rotation is picked up by the next call although the cache time has not passed.
    await vault.kvWrite('secret', `${tokenPrefix}/tenants/expired`, { access_token: `acme-token-${run}` });
    sandbox.addWaba('1', [{ id: '100', display_phone_number: '+1 555 0100' }]);
    const listed = await graph.call('expired', (c) => c.listPhoneNumbers({ wabaId: '1' }));
    expect(listed.map((n) => n.id)).toEqual(['100']);
  });
});

describe('security events on the vault record', () => {
  it('records when and by whom beside active_version, counts, and recognises a redelivery', async () => {
    const store = createPinStore({ vault, mount: 'secret', prefix: pinPrefix });
    const record = createSecurityEventRecorder({ vault, mount: 'secret', prefix: pinPrefix });
    const id = '106540352242955';
    const stored = await store.storePin({
      phoneNumberId: id,
      pin: '123456',
      workflowId: 'w',
      createdAt: 'c',
    });
    await store.markActive({ phoneNumberId: id, version: stored.version });

    const event = {
      phoneNumberId: id,
      event: 'PIN_RESET_REQUEST',
      key: 'a'.repeat(24),
      occurredAt: '2026-12-01T08:00:00.000Z',
      requester: '61555822107539',
      recordedAt: '2026-12-01T08:00:05.000Z',
    };
    expect(await record(event)).toEqual({ recorded: true, duplicate: false, count: 1, activeVersion: 1 });
    expect(await record(event)).toEqual({ recorded: true, duplicate: true, count: 1, activeVersion: 1 });
    expect(
      await record({ ...event, event: 'PIN_CHANGED', key: 'b'.repeat(24), requester: undefined }),
    ).toMatchObject({ duplicate: false, count: 2 });

    const meta = await vault.kvReadMetadata('secret', `${pinPrefix}/${id}`);
    const M = SECURITY_EVENT_METADATA;
    expect(meta?.customMetadata).toEqual({
      active_version: '1',
      [M.event]: 'PIN_CHANGED',
      [M.occurredAt]: '2026-12-01T08:00:00.000Z',
      [M.recordedAt]: '2026-12-01T08:00:05.000Z',
      [M.count]: '2',
      [M.keys]: `${'a'.repeat(24)},${'b'.repeat(24)}`,
    });
  });

  it('keeps nothing for a number the vault has no record of', async () => {
    const record = createSecurityEventRecorder({ vault, mount: 'secret', prefix: pinPrefix });
    expect(
      await record({ phoneNumberId: '999999', event: 'PIN_CHANGED', key: 'c'.repeat(24), recordedAt: 'x' }),
    ).toEqual({ recorded: false });
    expect(await vault.kvReadMetadata('secret', `${pinPrefix}/999999`)).toBeUndefined();
  });
});

describe('the local stack seeds a token per example tenant', () => {
  it("writes each tenant's token and WABA index once, and the sandbox takes it for that tenant's WABAs only", async () => {
    const tenants = await readExampleTenants(EXAMPLE_BATCH_FILE);
    expect(tenants.map((t) => t.tenant)).toEqual([
      'acme-retail',
      'bluebird-travel',
      'corner-bakery',
      'delta-clinics',
    ]);
    const prefix = `test-seed-${run}/graph-tokens`;
    const written = await seedTenantTokens({ vault, mount: 'secret', prefix, tenants });
    expect(written).toBe(tenants.length + tenants.reduce((n, t) => n + Object.keys(t.wabas).length, 0));
    expect(await seedTenantTokens({ vault, mount: 'secret', prefix, tenants })).toBe(0);

    const tokens = vaultTokenSource({ vault, mount: 'secret', config: { prefix, cacheMs: 0 } });
    const [acme, bluebird] = tenants as [ExampleTenant, ExampleTenant];
    const acmeWaba = Object.keys(acme.wabas)[0] ?? '';
    const bluebirdWaba = Object.keys(bluebird.wabas)[0] ?? '';
    expect(await tokens.tenantOfWaba(acmeWaba)).toBe('acme-retail');
    expect((await tokens.credentialFor('acme-retail')).token).toBe(localTenantToken('acme-retail'));

    const local = await startGraphSandbox({
      tokenGrants: sandboxGrantsOf(tenants),
      wabas: Object.assign({}, ...tenants.map((t) => t.wabas)) as Record<string, Array<{ id: string }>>,
    });
    try {
      const graph = createTenantGraph({
        tokens,
        clientFor: (accessToken) =>
          createGraphClient({
            baseUrl: local.url,
            apiVersion: 'v25.0',
            accessToken,
            headersTimeoutMs: 5_000,
            bodyTimeoutMs: 5_000,
          }),
      });
      const listed = await graph.listPhoneNumbers({ wabaId: acmeWaba, tenant: 'acme-retail' });
      expect(listed.map((n) => n.id)).toEqual(acme.wabas[acmeWaba]?.map((n) => n.id));
      const refused = await graph
        .listPhoneNumbers({ wabaId: bluebirdWaba, tenant: 'acme-retail' })
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ type: 'GraphPermissionError', graphCode: 200 });
      expect((refused as Error).message).toContain(`secret/${prefix}/tenants/acme-retail`);
    } finally {
      await local.close();
    }
  });
});
