// The KV v2 client against the real OpenBao dev server of the test run, plus one OpenBao of
// its own to seal and stop, and undici MockAgent / a silent socket for answers a dev server
// will not give (429, a 502 from a proxy, a vault that never answers).
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { MockAgent } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, startOpenBaoDev, type OpenBaoServer } from '../src/local-stack/processes';
import { ConfigError } from '../src/config/env-reader';
import { createVaultClient, type VaultClient } from '../src/vault/vault-client';
import { LOCAL_STACK_VAULT_ADDRESS, loadVaultConfig } from '../src/vault/vault-config';
import { VAULT_FAILURE_TYPES, VaultError, toApplicationFailure } from '../src/vault/vault-errors';
import { vaultFailure } from './support/vault-failure';

const address = inject('vaultAddress');
const rootToken = inject('vaultRootToken');
const base = `test-client-${randomBytes(6).toString('hex')}`;

/** Nothing a caller could log or put into Temporal history may carry the token. */
function expectNoSecret(err: VaultError, ...secrets: string[]) {
  const visible = [err.message, err.stack ?? '', JSON.stringify(err), ...(err.vaultErrors ?? [])].join('\n');
  for (const secret of secrets) expect(visible).not.toContain(secret);
}

describe('KV v2 client on the shared OpenBao', () => {
  let vault: VaultClient;
  beforeAll(() => {
    vault = createVaultClient({ address, auth: { kind: 'token', token: rootToken }, timeoutMs: 5_000 });
  });
  afterAll(async () => {
    await vault.close();
  });

  it('writes versions and reads the latest or exactly the one asked for', async () => {
    const path = `${base}/versions`;
    expect(await vault.kvWrite('secret', path, { v: 'one' })).toEqual({ version: 1 });
    expect(await vault.kvWrite('secret', path, { v: 'two' })).toEqual({ version: 2 });
    const latest = await vault.kvRead('secret', path);
    expect(latest?.data).toEqual({ v: 'two' });
    expect(latest?.metadata).toMatchObject({ version: 2, destroyed: false, deletion_time: '' });
    const first = await vault.kvRead('secret', path, { version: 1 });
    expect(first?.data).toEqual({ v: 'one' });
    expect(first?.metadata.version).toBe(1);
  });

  it('rejects a stale check-and-set with VaultCasMismatch and accepts the current one', async () => {
    const path = `${base}/cas`;
    expect(await vault.kvWrite('secret', path, { v: 'a' }, { cas: 0 })).toEqual({ version: 1 });
    const err = await vaultFailure(vault.kvWrite('secret', path, { v: 'b' }, { cas: 0 }));
    expect(err.type).toBe('VaultCasMismatch');
    expect(err.httpStatus).toBe(400);
    expect(err.message).toContain(`secret/data/${path}`);
    expect(await vault.kvWrite('secret', path, { v: 'b' }, { cas: 1 })).toEqual({ version: 2 });
  });

  it('answers undefined for an absent key or deleted version, but fails on a missing mount', async () => {
    expect(await vault.kvRead('secret', `${base}/never-written`)).toBeUndefined();
    expect(await vault.kvReadMetadata('secret', `${base}/never-written`)).toBeUndefined();
    const path = `${base}/deleted`;
    await vault.kvWrite('secret', path, { v: 'x' });
    await vault.request({ method: 'DELETE', path: `secret/data/${path}` });
    expect(await vault.kvRead('secret', path)).toBeUndefined();
    expect((await vault.kvReadMetadata('secret', path))?.currentVersion).toBe(1);
    // A typo in VAULT_KV_MOUNT must not look like "no PIN stored yet".
    const err = await vaultFailure(vault.kvRead(`no-such-mount-${base}`, 'x'));
    expect(err.type).toBe('VaultNotFound');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('VAULT_KV_MOUNT');
  });

  it('merges custom metadata: adds, keeps the others, removes with null', async () => {
    const path = `${base}/custom`;
    await vault.kvWrite('secret', path, { v: 'x' });
    await vault.kvWriteCustomMetadata('secret', path, { active_version: '1' });
    await vault.kvWriteCustomMetadata('secret', path, { pending_version: '2' });
    let meta = await vault.kvReadMetadata('secret', path);
    expect(meta?.customMetadata).toEqual({ active_version: '1', pending_version: '2' });
    expect(meta?.currentVersion).toBe(1);
    expect(Object.keys(meta?.versions ?? {})).toEqual(['1']);
    await vault.kvWriteCustomMetadata('secret', path, { active_version: '2', pending_version: null });
    meta = await vault.kvReadMetadata('secret', path);
    expect(meta?.customMetadata).toEqual({ active_version: '2' });
    const missing = await vaultFailure(vault.kvWriteCustomMetadata('secret', `${base}/nope`, { a: '1' }));
    expect(missing.type).toBe('VaultNotFound');
  });

  it('reports a bad token as VaultPermissionDenied, not retryable, without quoting the token', async () => {
    const badToken = `s.bad-${randomBytes(8).toString('hex')}`;
    const bad = createVaultClient({ address, auth: { kind: 'token', token: badToken }, timeoutMs: 5_000 });
    try {
      const err = await vaultFailure(bad.kvRead('secret', `${base}/versions`));
      expect(err.type).toBe('VaultPermissionDenied');
      expect(err.httpStatus).toBe(403);
      expect(err.retryable).toBe(false);
      expect(err.vaultErrors?.join(' ')).toMatch(/permission denied/);
      expectNoSecret(err, badToken, rootToken);
      const failure = toApplicationFailure(err);
      expect(failure.type).toBe('VaultPermissionDenied');
      expect(failure.nonRetryable).toBe(true);
      expect(failure.details).toEqual([{ httpStatus: 403, path: `secret/data/${base}/versions` }]);
    } finally {
      await bad.close();
    }
  });

  it('reports a method the server does not support as VaultMethodNotAllowed', async () => {
    const err = await vaultFailure(vault.request({ method: 'DELETE', path: 'sys/health' }));
    expect(err.type).toBe('VaultMethodNotAllowed');
    expect(err.httpStatus).toBe(405);
    expect(err.retryable).toBe(false);
    expectNoSecret(err, rootToken);
  });

  it('sends X-Vault-Namespace: data lands in the namespace, and a missing one is named', async () => {
    const ns = `ns-${randomBytes(4).toString('hex')}`;
    await vault.request({ method: 'POST', path: `sys/namespaces/${ns}`, body: {} });
    const inNs = createVaultClient({
      address,
      namespace: ns,
      auth: { kind: 'token', token: rootToken },
      timeoutMs: 5_000,
    });
    try {
      await inNs.request({
        method: 'POST',
        path: 'sys/mounts/kv',
        body: { type: 'kv', options: { version: '2' } },
      });
      expect(await inNs.kvWrite('kv', `${base}/n`, { v: 'ns' })).toEqual({ version: 1 });
      expect((await inNs.kvRead('kv', `${base}/n`))?.data).toEqual({ v: 'ns' });
      // The same path without the header is another mount (or none) in the root namespace.
      const outside = await vaultFailure(vault.kvRead('kv', `${base}/n`));
      expect(outside.type).toBe('VaultNotFound');
    } finally {
      await inNs.close();
      await vault.request({ method: 'DELETE', path: `sys/namespaces/${ns}` }).catch(() => undefined);
    }
    const nowhere = createVaultClient({
      address,
      namespace: `${ns}-missing`,
      auth: { kind: 'token', token: rootToken },
      timeoutMs: 5_000,
    });
    try {
      const err = await vaultFailure(nowhere.kvRead('secret', `${base}/versions`));
      expect(err.type).toBe('VaultNotFound');
      expect(err.vaultErrors).toContain('namespace not found');
      expect(err.message).toContain(`namespace "${ns}-missing"`);
    } finally {
      await nowhere.close();
    }
  });

  it('reads health without a token', async () => {
    expect(await vault.health()).toMatchObject({ statusCode: 200, initialized: true, sealed: false });
  });
});

describe('answers a dev server does not give', () => {
  it('classifies 429, a standby 503, a proxy 502 and a 412 as retryable, from a MockAgent', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const origin = 'http://vault.invalid:8200';
    const pool = agent.get(origin);
    const reply = (path: string, status: number, body: string) =>
      pool
        .intercept({ path: `/v1/${path}`, method: 'GET', headers: { 'x-vault-namespace': 'team-a' } })
        .reply(status, body, { headers: { 'content-type': 'application/json' } });
    reply('secret/data/a', 429, '{"errors":["request path \\"secret/data/a\\": rate limit quota exceeded"]}');
    reply('secret/data/b', 503, '{"errors":["node is in standby mode"]}');
    reply('secret/data/c', 502, '<html>Bad Gateway</html>');
    reply('secret/data/d', 412, '{"errors":["required index state not present"]}');
    const token = 'hvs.mock-token';
    const vault = createVaultClient({
      address: origin,
      namespace: 'team-a',
      auth: { kind: 'token', token },
      dispatcher: agent,
      timeoutMs: 1_000,
    });
    try {
      const seen = [];
      for (const key of ['a', 'b', 'c', 'd']) {
        const err = await vaultFailure(vault.kvRead('secret', key));
        expect(err.retryable).toBe(true);
        expect(toApplicationFailure(err).nonRetryable).toBe(false);
        expectNoSecret(err, token);
        seen.push([err.type, err.httpStatus]);
      }
      expect(seen).toEqual([
        ['VaultThrottled', 429],
        ['VaultUnavailable', 503],
        ['VaultUnavailable', 502],
        ['VaultUnavailable', 412],
      ]);
      agent.assertNoPendingInterceptors();
    } finally {
      await vault.close();
      await agent.close();
    }
  });

  it('gives up on a vault that never answers after timeoutMs, as a retryable VaultConnectionError', async () => {
    const silent: Server = createServer(() => {
      // Accept the request and never answer.
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const vault = createVaultClient({
      address: `http://127.0.0.1:${port}`,
      auth: { kind: 'token', token: rootToken },
      timeoutMs: 300,
    });
    try {
      const started = Date.now();
      const err = await vaultFailure(vault.kvRead('secret', 'x'));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(err.type).toBe('VaultConnectionError');
      expect(err.retryable).toBe(true);
      expect(err.message).toContain('UND_ERR_HEADERS_TIMEOUT');
      expectNoSecret(err, rootToken);
    } finally {
      await vault.close();
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('has one retryability per failure type', () => {
    const retryable = VAULT_FAILURE_TYPES.filter((t) => new VaultError(t, 'x').retryable);
    expect(retryable).toEqual([
      'VaultSealed',
      'VaultUnavailable',
      'VaultThrottled',
      'VaultCasMismatch',
      'VaultConnectionError',
    ]);
  });
});

describe('an OpenBao of its own, sealed and then stopped', () => {
  let bao: OpenBaoServer | undefined;
  const ownRoot = `root-${randomBytes(8).toString('hex')}`;
  beforeAll(async () => {
    bao = await startOpenBaoDev({ port: await freePort(), rootToken: ownRoot });
  });
  afterAll(async () => {
    await bao?.stop();
  });

  it('reports VaultSealed (retryable) while sealed and VaultConnectionError once stopped', async () => {
    const server = bao as OpenBaoServer;
    const vault = createVaultClient({
      address: server.address,
      auth: { kind: 'token', token: ownRoot },
      timeoutMs: 5_000,
    });
    try {
      await vault.kvWrite('secret', 'before-seal', { v: '1' });
      await vault.request({ method: 'PUT', path: 'sys/seal' });
      const sealed = await vaultFailure(vault.kvRead('secret', 'before-seal'));
      expect(sealed.type).toBe('VaultSealed');
      expect(sealed.httpStatus).toBe(503);
      expect(sealed.retryable).toBe(true);
      expect(sealed.message).toContain('bao operator unseal');
      expect(sealed.message).toContain('secret/data/before-seal');
      expectNoSecret(sealed, ownRoot);
      const failure = toApplicationFailure(sealed);
      expect(failure.type).toBe('VaultSealed');
      expect(failure.nonRetryable).toBe(false);
      expect(failure.cause).toBe(sealed);
      expect(await vault.health()).toMatchObject({ statusCode: 503, sealed: true });

      await server.stop();
      const down = await vaultFailure(vault.kvRead('secret', 'before-seal'));
      expect(down.type).toBe('VaultConnectionError');
      expect(down.retryable).toBe(true);
      expect(down.message).toContain('ECONNREFUSED');
      expect(down.message).toContain(server.address);
      expectNoSecret(down, ownRoot);
    } finally {
      await vault.close();
    }
  });
});

describe('vault configuration', () => {
  function configError(env: Record<string, string>, defaults = {}): ConfigError {
    try {
      loadVaultConfig(env, defaults);
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    throw new Error('expected a ConfigError');
  }

  it('reads a token configuration with the documented defaults', () => {
    expect(loadVaultConfig({ VAULT_ADDR: 'https://vault.example.com/', VAULT_TOKEN: 't' })).toEqual({
      address: 'https://vault.example.com',
      auth: { kind: 'token', token: 't' },
      kvMount: 'secret',
      pinPrefix: 'whatsapp/two-step-pins',
      requestTimeoutMs: 10_000,
      // https:// with no TLS variable: the system CAs, no client certificate.
      tls: { connect: {}, trustVariable: 'system CAs', clientCertificate: false },
    });
    const approle = loadVaultConfig({
      VAULT_ADDR: 'http://vault:8200',
      VAULT_ROLE_ID: 'r',
      VAULT_SECRET_ID: 's',
      VAULT_APPROLE_MOUNT: 'workers/approle',
      VAULT_NAMESPACE: 'team-a',
      VAULT_KV_MOUNT: 'kv',
      VAULT_PIN_PREFIX: 'wa/pins',
      VAULT_REQUEST_TIMEOUT_MS: '2500',
    });
    expect(approle).toEqual({
      address: 'http://vault:8200',
      namespace: 'team-a',
      auth: { kind: 'approle', roleId: 'r', secretId: 's', mount: 'workers/approle' },
      kvMount: 'kv',
      pinPrefix: 'wa/pins',
      requestTimeoutMs: 2500,
    });
  });

  it('defaults the address and token only when the local stack says so', () => {
    expect(configError({ VAULT_TOKEN: 't' }).variable).toBe('VAULT_ADDR');
    expect(loadVaultConfig({}, { address: LOCAL_STACK_VAULT_ADDRESS, token: 'dev-root' })).toMatchObject({
      address: 'http://127.0.0.1:8200',
      auth: { kind: 'token', token: 'dev-root' },
    });
  });

  it('fails with one line naming the variable', () => {
    const missing = configError({ VAULT_ADDR: 'http://v:8200' });
    expect(missing.message).toMatch(/^VAULT_TOKEN is not set, nor VAULT_ROLE_ID \+ VAULT_SECRET_ID/);
    expect(missing.message).not.toContain('\n');
    expect(configError({ VAULT_ADDR: 'http://v:8200', VAULT_ROLE_ID: 'r' }).variable).toBe('VAULT_SECRET_ID');
    expect(configError({ VAULT_ADDR: 'http://v:8200', VAULT_SECRET_ID: 's' }).variable).toBe('VAULT_ROLE_ID');
    expect(
      configError({ VAULT_ADDR: 'http://v:8200', VAULT_TOKEN: 't', VAULT_ROLE_ID: 'r', VAULT_SECRET_ID: 's' })
        .variable,
    ).toBe('VAULT_TOKEN');
    for (const prefix of ['/whatsapp', 'whatsapp/', 'a/../b', 'a b', 'a//b']) {
      expect(
        configError({ VAULT_ADDR: 'http://v:8200', VAULT_TOKEN: 't', VAULT_PIN_PREFIX: prefix }).variable,
      ).toBe('VAULT_PIN_PREFIX');
    }
    expect(configError({ VAULT_ADDR: 'vault:8200', VAULT_TOKEN: 't' }).variable).toBe('VAULT_ADDR');
    const timeout = configError({
      VAULT_ADDR: 'http://v:8200',
      VAULT_TOKEN: 't',
      VAULT_REQUEST_TIMEOUT_MS: '0',
    });
    expect(timeout.variable).toBe('VAULT_REQUEST_TIMEOUT_MS');
    const tokenValue = 'hvs.secret-value';
    expect(configError({ VAULT_TOKEN: tokenValue }).message).not.toContain(tokenValue);
  });
});
