// The worker reaching a vault over TLS, configured as Vault users do (VAULT_CACERT, VAULT_CAPATH,
// VAULT_CLIENT_CERT + VAULT_CLIENT_KEY, VAULT_TLS_SERVER_NAME), against a real OpenBao with two
// TLS listeners: one server-authenticated, one requiring client certificates. Certificates are
// made for the run with openssl. A wrong CA, a missing client certificate and a wrong server name
// stop the worker at start-up in one line naming the variable to fix. Last, the vault is sealed
// under a running worker: the metrics count VaultSealed, and unsealing lets the number finish.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError } from '../src/config/env-reader';
import { generateKeyringValue } from '../src/crypto/keyring';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { freePort, spawnManaged, waitUntil, type ManagedProcess } from '../src/local-stack/processes';
import { serverBinary } from '../src/local-stack/server-binaries';
import { counterSeries, PRODUCT_METRICS } from '../src/metrics/metric-names';
import { createVaultClient } from '../src/vault/vault-client';
import { loadVaultTls, probeVaultTls, vaultTlsProblem } from '../src/vault/vault-tls';
import {
  ONBOARDING_TASK_QUEUE,
  WORKFLOW_TYPE,
  workflowIdFor,
  type RegisterNumberResult,
} from '../src/workflows/messages';
import type { TestNamespace } from './support/namespaces';
import { phoneNumberIds } from './support/onboarding-harness';
import { waitForExit } from './support/process-runner';
import { parseExposition, seriesValue } from './support/prometheus-text';
import { makeCertificates, type CertificateFiles } from './support/test-certificates';
import { connectCodecClient, startWorkerProcess } from './support/worker-process';

const NAMESPACE: TestNamespace = 'vault-tls';
const rootToken = `root-${randomBytes(8).toString('hex')}`;
const graphToken = `graph-${randomBytes(8).toString('hex')}`;
const codecKeys = generateKeyringValue('codec-tls');
const vaultPrefix = `test/${NAMESPACE}/${randomBytes(4).toString('hex')}`;

let dir: string;
let certs: CertificateFiles;
let bao: ManagedProcess;
let plainAddress: string;
let tlsAddress: string;
let mtlsAddress: string;
let sandbox: GraphSandbox;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vault-tls-'));
  certs = makeCertificates(join(dir, 'certs'), { dns: ['vault.test'], ips: ['127.0.0.1'] });
  const [plainPort, tlsPort, mtlsPort] = [await freePort(), await freePort(), await freePort()];
  plainAddress = `http://127.0.0.1:${plainPort}`;
  tlsAddress = `https://127.0.0.1:${tlsPort}`;
  mtlsAddress = `https://127.0.0.1:${mtlsPort}`;
  const config = join(dir, 'listeners.hcl');
  writeFileSync(
    config,
    [
      `listener "tcp" {`,
      `  address = "127.0.0.1:${tlsPort}"`,
      `  tls_cert_file = "${certs.serverCert}"`,
      `  tls_key_file = "${certs.serverKey}"`,
      `}`,
      `listener "tcp" {`,
      `  address = "127.0.0.1:${mtlsPort}"`,
      `  tls_cert_file = "${certs.serverCert}"`,
      `  tls_key_file = "${certs.serverKey}"`,
      `  tls_require_and_verify_client_cert = true`,
      `  tls_client_ca_file = "${certs.clientCaCert}"`,
      `}`,
    ].join('\n'),
  );
  // Dev mode (unsealed, KV v2 at secret/) on a plain loopback listener for the test's own setup,
  // plus the two TLS listeners from the config file.
  bao = spawnManaged({
    name: 'bao',
    command: serverBinary('bao'),
    args: [
      'server',
      '-dev',
      `-dev-listen-address=127.0.0.1:${plainPort}`,
      `-dev-root-token-id=${rootToken}`,
      `-config=${config}`,
      '-log-level=warn',
    ],
    env: { ...process.env, BAO_DEV_ROOT_TOKEN_ID: undefined, VAULT_TOKEN: undefined },
    logFile: join(inject('logDir'), 'openbao-tls.log'),
  });
  const plain = createVaultClient({
    address: plainAddress,
    auth: { kind: 'token', token: rootToken },
    timeoutMs: 2_000,
  });
  await waitUntil('OpenBao (TLS)', bao, async () => !(await plain.health()).sealed, 30_000);
  await plain.close();

  sandbox = await startGraphSandbox({ accessToken: graphToken });
  ({ connection, client } = await connectCodecClient(NAMESPACE, codecKeys));
}, 60_000);

afterAll(async () => {
  await connection?.close();
  await sandbox?.close();
  await bao?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function worker(env: Record<string, string>) {
  return startWorkerProcess({
    namespace: NAMESPACE,
    graphBaseUrl: sandbox.url,
    graphToken,
    codecKeys,
    vaultPrefix,
    env: { VAULT_TOKEN: rootToken, LOG_FORMAT: 'text', LOG_LEVEL: 'WARN', ...env },
  });
}

/** Starts a worker on `env`, onboards one number through it, and returns that number's result. */
async function onboardThrough(
  env: Record<string, string>,
): Promise<{ id: string; result: RegisterNumberResult }> {
  const proc = worker(env);
  try {
    await proc.waitForLine(/worker: ready/, 90_000);
    const [id] = phoneNumberIds(1);
    const result = (await client.workflow.execute(WORKFLOW_TYPE, {
      taskQueue: ONBOARDING_TASK_QUEUE,
      workflowId: workflowIdFor(id!),
      args: [{ phoneNumberId: id! }],
    })) as RegisterNumberResult;
    return { id: id!, result };
  } finally {
    await proc.stop();
  }
}

/** The PIN the vault holds as active for a number, read by root over the plain listener. */
async function activePin(id: string): Promise<string | undefined> {
  const plain = createVaultClient({
    address: plainAddress,
    auth: { kind: 'token', token: rootToken },
    timeoutMs: 2_000,
  });
  try {
    const meta = await plain.kvReadMetadata('secret', `${vaultPrefix}/${id}`);
    const version = Number(meta?.customMetadata.active_version);
    const found = await plain.kvRead<{ pin: string }>('secret', `${vaultPrefix}/${id}`, { version });
    return found?.data.pin;
  } finally {
    await plain.close();
  }
}

async function refusal(env: Record<string, string>): Promise<string[]> {
  const proc = worker(env);
  expect(await waitForExit(proc, 60_000)).toBe(2);
  return proc
    .stderr()
    .split('\n')
    .filter((l) => l.trim() !== '');
}

describe('the worker and a TLS vault', () => {
  it('onboards through a server-authenticated listener, trusting the CA in VAULT_CACERT', async () => {
    const { id, result } = await onboardThrough({ VAULT_ADDR: tlsAddress, VAULT_CACERT: certs.caCert });
    expect(result.outcome).toBe('Completed');
    expect(await activePin(id)).toBe(sandbox.pinOf(id));
  });

  it('onboards through a listener that requires client certificates (VAULT_CAPATH, mTLS, server name)', async () => {
    const caDir = join(dir, 'ca-path');
    mkdirSync(caDir);
    cpSync(certs.strangerCaCert, join(caDir, '00-other.pem'));
    cpSync(certs.caCert, join(caDir, '10-vault.pem'));
    const { id, result } = await onboardThrough({
      VAULT_ADDR: mtlsAddress,
      VAULT_CAPATH: caDir,
      VAULT_CLIENT_CERT: certs.clientCert,
      VAULT_CLIENT_KEY: certs.clientKey,
      VAULT_TLS_SERVER_NAME: 'vault.test',
    });
    expect(result.outcome).toBe('Completed');
    expect(await activePin(id)).toBe(sandbox.pinOf(id));
  });

  it('stops at start-up, in one line naming VAULT_CACERT, when the CA is the wrong one', async () => {
    const lines = await refusal({ VAULT_ADDR: tlsAddress, VAULT_CACERT: certs.strangerCaCert });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^worker: VAULT_CACERT does not verify the certificate of the vault at https:\/\/127\.0\.0\.1:\d+ \(/,
    );
  });

  it('stops at start-up, naming VAULT_CLIENT_CERT, without a client certificate or with one the vault refuses', async () => {
    const missing = await refusal({ VAULT_ADDR: mtlsAddress, VAULT_CACERT: certs.caCert });
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatch(
      /^worker: VAULT_CLIENT_CERT is not set, and the vault at .* requires a client certificate/,
    );
    const refused = await refusal({
      VAULT_ADDR: mtlsAddress,
      VAULT_CACERT: certs.caCert,
      VAULT_CLIENT_CERT: certs.strangerClientCert,
      VAULT_CLIENT_KEY: certs.strangerClientKey,
    });
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatch(/^worker: VAULT_CLIENT_CERT was refused by the vault at /);
  });

  it('stops at start-up, naming VAULT_TLS_SERVER_NAME, when the certificate does not name the server', async () => {
    const lines = await refusal({
      VAULT_ADDR: tlsAddress,
      VAULT_CACERT: certs.caCert,
      VAULT_TLS_SERVER_NAME: 'vault.elsewhere.test',
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^worker: VAULT_TLS_SERVER_NAME \(vault\.elsewhere\.test\) is not a name in the vault certificate/,
    );
  });
});

describe('a sealed vault, on the metrics endpoint', () => {
  it('counts VaultSealed while sealed, and the number completes by itself once unsealed', async () => {
    const metricsPort = await freePort();
    const proc = worker({
      VAULT_ADDR: tlsAddress,
      VAULT_CACERT: certs.caCert,
      METRICS_BIND_ADDRESS: `127.0.0.1:${metricsPort}`,
    });
    const plain = createVaultClient({
      address: plainAddress,
      auth: { kind: 'token', token: rootToken },
      timeoutMs: 2_000,
    });
    try {
      await proc.waitForLine(/worker: ready/, 90_000);
      await plain.request({ method: 'PUT', path: 'sys/seal' });
      const [id] = phoneNumberIds(1);
      const run = await client.workflow.start(WORKFLOW_TYPE, {
        taskQueue: ONBOARDING_TASK_QUEUE,
        workflowId: workflowIdFor(id!),
        args: [
          {
            phoneNumberId: id!,
            retrySchedules: { vault: { initialInterval: '500ms', maximumInterval: '500ms' } },
          },
        ],
      });
      const sealedCount = async () => {
        const res = await request(`http://127.0.0.1:${metricsPort}/metrics`);
        const series = parseExposition(await res.body.text());
        return seriesValue(series, counterSeries(PRODUCT_METRICS.vaultFailures.name), {
          failure_type: 'VaultSealed',
        });
      };
      const deadline = Date.now() + 20_000;
      while ((await sealedCount()) < 2 && Date.now() < deadline) await sleep(250);
      expect(await sealedCount()).toBeGreaterThanOrEqual(2);

      // The dev server printed its unseal key into its log: the runbook's "unseal it", for real.
      const key = /Unseal Key: (\S+)/.exec(
        readFileSync(join(inject('logDir'), 'openbao-tls.log'), 'utf8'),
      )?.[1];
      expect(key).toBeDefined();
      await plain.request({ method: 'PUT', path: 'sys/unseal', body: { key }, authenticated: false });
      expect(((await run.result()) as RegisterNumberResult).outcome).toBe('Completed');
      expect(await activePin(id!)).toBe(sandbox.pinOf(id!));
    } finally {
      await plain.close();
      await proc.stop();
    }
  });
});

describe('VAULT_SKIP_VERIFY and the TLS variables at start-up', () => {
  it('is refused outside loopback, with the way out, and allowed on loopback', async () => {
    expect(() => loadVaultTls({ VAULT_SKIP_VERIFY: 'true' }, 'https://vault.example.com:8200')).toThrow(
      /^VAULT_SKIP_VERIFY is refused for vault\.example\.com: .* Give the vault's CA in VAULT_CACERT/,
    );
    const tls = loadVaultTls({ VAULT_SKIP_VERIFY: 'true' }, tlsAddress);
    const vault = createVaultClient({
      address: tlsAddress,
      auth: { kind: 'token', token: rootToken },
      timeoutMs: 2_000,
      tls: tls!.connect,
    });
    try {
      expect((await vault.health()).sealed).toBe(false);
    } finally {
      await vault.close();
    }
  });

  it('without a CA, the system CAs do not know the vault: the hint says to set VAULT_CACERT', async () => {
    const tls = loadVaultTls({}, tlsAddress)!;
    const err = await probeVaultTls(tlsAddress, tls, 2_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    const problem = vaultTlsProblem(err, tls, tlsAddress);
    expect(problem).toBeInstanceOf(ConfigError);
    expect(problem?.message).toMatch(
      /^VAULT_CACERT does not verify .*: set VAULT_CACERT to the PEM file of the CA/,
    );
    // A vault that is down is not a TLS problem: the worker starts and the activities retry.
    const down = `https://127.0.0.1:${await freePort()}`;
    const refused = await probeVaultTls(down, tls, 2_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((refused as { code?: string }).code).toBe('ECONNREFUSED');
    expect(vaultTlsProblem(refused, tls, down)).toBeUndefined();
  });

  it('checks the files before any connection: unreadable, not PEM, a key of another certificate, half of a pair', () => {
    const notPem = join(dir, 'not-a-cert.pem');
    writeFileSync(notPem, 'hello\n');
    expect(() => loadVaultTls({ VAULT_CACERT: join(dir, 'missing.pem') }, tlsAddress)).toThrow(
      /^VAULT_CACERT cannot be read: .*missing\.pem \(ENOENT\)/,
    );
    expect(() => loadVaultTls({ VAULT_CACERT: notPem }, tlsAddress)).toThrow(
      /^VAULT_CACERT holds no PEM certificate/,
    );
    expect(() => loadVaultTls({ VAULT_CLIENT_CERT: certs.clientCert }, tlsAddress)).toThrow(
      /^VAULT_CLIENT_KEY is not set but VAULT_CLIENT_CERT is/,
    );
    expect(() =>
      loadVaultTls(
        { VAULT_CLIENT_CERT: certs.clientCert, VAULT_CLIENT_KEY: certs.strangerClientKey },
        tlsAddress,
      ),
    ).toThrow(/^VAULT_CLIENT_KEY does not belong to the certificate in VAULT_CLIENT_CERT/);
    expect(() => loadVaultTls({ VAULT_CACERT: certs.caCert }, plainAddress)).toThrow(
      /^VAULT_CACERT is set but VAULT_ADDR .* is plain http:\/\//,
    );
    expect(() => loadVaultTls({ VAULT_SKIP_VERIFY: 'maybe' }, tlsAddress)).toThrow(
      /^VAULT_SKIP_VERIFY must be true or false/,
    );
  });
});
