// An OpenBao server that keeps its data between runs, for the local stack and for fault drills.
// Temporal's local state survives a restart of the stack, so the PINs its workflows point at
// must survive too: dev mode (in memory) would leave every running workflow with a dangling
// vault version. The server is real (`bao server -config`, Raft storage, Shamir seal); only
// the unseal key and root token are kept in a local file so the stack can unseal itself.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { assertPortFree, spawnManaged, waitUntil, type OpenBaoServer } from './processes';
import { serverBinary } from './server-binaries';
import { codedErrorClass } from '../cli/coded-error';

export interface OpenBaoPersistentOptions {
  port: number;
  /** The folder this server owns: its storage, its generated config and its keys file. */
  dataDir: string;
  logFile?: string;
}

export interface PersistentOpenBaoServer extends OpenBaoServer {
  readonly dataDir: string;
  /** Seals the server (as an operator would in an incident); vault calls then fail with 503. */
  seal(): Promise<void>;
  /** Unseals it with the stored key and waits until it serves requests again. */
  unseal(): Promise<void>;
}

/** What `sys/init` handed out, kept in `<dataDir>/openbao-keys.json` (mode 0600). */
export interface OpenBaoLocalKeys {
  unsealKey: string;
  rootToken: string;
  initializedAt: string;
}

export class OpenBaoLocalStateError extends codedErrorClass('OPENBAO_LOCAL_STATE') {}

export const OPENBAO_KEYS_FILE = 'openbao-keys.json';
const KV_MOUNT = 'secret';
const HTTP_TIMEOUTS = { headersTimeout: 10_000, bodyTimeout: 10_000 };

interface BaoResponse {
  status: number;
  body: Record<string, unknown> | undefined;
}

async function baoCall(
  address: string,
  method: 'GET' | 'POST',
  path: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<BaoResponse> {
  const res = await request(`${address}/v1/${path}`, {
    method,
    headers: {
      ...(opts.token ? { 'x-vault-token': opts.token } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    ...HTTP_TIMEOUTS,
  });
  const text = await res.body.text();
  let body: Record<string, unknown> | undefined;
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, body };
}

function describeFailure(what: string, res: BaoResponse): Error {
  const errors = Array.isArray(res.body?.errors) ? (res.body.errors as unknown[]).join('; ') : '';
  return new Error(`OpenBao ${what} failed with HTTP ${res.status}${errors ? `: ${errors}` : ''}`);
}

export function readOpenBaoKeys(dataDir: string): OpenBaoLocalKeys | undefined {
  const file = join(dataDir, OPENBAO_KEYS_FILE);
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<OpenBaoLocalKeys>;
  if (typeof parsed.unsealKey !== 'string' || typeof parsed.rootToken !== 'string') {
    throw new OpenBaoLocalStateError(`${file} is not an OpenBao keys file (no unsealKey/rootToken)`);
  }
  return {
    unsealKey: parsed.unsealKey,
    rootToken: parsed.rootToken,
    initializedAt: parsed.initializedAt ?? '',
  };
}

function writeOpenBaoKeys(dataDir: string, keys: OpenBaoLocalKeys): void {
  const file = join(dataDir, OPENBAO_KEYS_FILE);
  const partial = `${file}.partial`;
  // Written whole then renamed: a half-written keys file would lock the data away for good.
  writeFileSync(partial, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  chmodSync(partial, 0o600);
  renameSync(partial, file);
}

/** The server's config, regenerated at each start since the port may change between runs. */
function writeConfig(dataDir: string, port: number): string {
  const storageDir = join(dataDir, 'raft');
  mkdirSync(storageDir, { recursive: true, mode: 0o700 });
  // JSON rather than HCL: paths with quotes or backslashes need no escaping rules of our own.
  const config = {
    // Raft: OpenBao 2.x has no "file" storage any more; a one-node Raft cluster is its local store.
    // performance_multiplier 1 (tightest timings): one node on loopback has no network to be
    // patient with, and the default makes the first sys/init wait ~7 s for a leader election.
    storage: { raft: { path: storageDir, node_id: 'local-stack', performance_multiplier: 1 } },
    listener: [
      {
        tcp: {
          address: `127.0.0.1:${port}`,
          // Nobody joins this one-node cluster: let the OS pick the cluster port so it cannot collide.
          cluster_address: '127.0.0.1:0',
          tls_disable: true,
        },
      },
    ],
    api_addr: `http://127.0.0.1:${port}`,
    cluster_addr: 'https://127.0.0.1:0',
    ui: false,
    log_level: 'warn',
  };
  const file = join(dataDir, 'openbao.json');
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return file;
}

async function isActive(address: string): Promise<boolean> {
  // sys/health answers 200 only when initialised, unsealed and active (Raft leader elected).
  const res = await baoCall(address, 'GET', 'sys/health');
  return res.status === 200;
}

async function waitForActive(address: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isActive(address).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`OpenBao at ${address} did not become active in time`);
    await sleep(100);
  }
}

/** Seals the server: every vault call then fails with 503 until it is unsealed. */
export async function sealOpenBao(address: string, rootToken: string): Promise<void> {
  const res = await baoCall(address, 'POST', 'sys/seal', { token: rootToken });
  if (res.status !== 204 && res.status !== 200) throw describeFailure('seal', res);
}

/** Submits the (single) unseal key and waits until the server serves requests again. */
export async function unsealOpenBao(address: string, unsealKey: string): Promise<void> {
  const res = await baoCall(address, 'POST', 'sys/unseal', { body: { key: unsealKey } });
  if (res.status !== 200) throw describeFailure('unseal', res);
  if (res.body?.sealed !== false) throw new Error('OpenBao is still sealed after the unseal key was given');
  await waitForActive(address);
}

async function initialise(address: string, dataDir: string): Promise<OpenBaoLocalKeys> {
  // One share, threshold one: a local store unsealed by the stack itself, not a real ceremony.
  const res = await baoCall(address, 'POST', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
  const keys = res.body?.keys_base64;
  const rootToken = res.body?.root_token;
  if (
    res.status !== 200 ||
    !Array.isArray(keys) ||
    typeof keys[0] !== 'string' ||
    typeof rootToken !== 'string'
  ) {
    throw describeFailure('initialisation', res);
  }
  const stored = { unsealKey: keys[0], rootToken, initializedAt: new Date().toISOString() };
  writeOpenBaoKeys(dataDir, stored);
  return stored;
}

async function ensureKvV2(address: string, token: string): Promise<void> {
  const mounts = await baoCall(address, 'GET', 'sys/mounts', { token });
  if (mounts.status !== 200) throw describeFailure('listing mounts', mounts);
  const existing = (mounts.body?.data ?? mounts.body) as Record<string, { type?: string } | undefined>;
  if (!existing[`${KV_MOUNT}/`]) {
    const res = await baoCall(address, 'POST', `sys/mounts/${KV_MOUNT}`, {
      token,
      body: { type: 'kv', options: { version: '2' } },
    });
    if (res.status !== 204 && res.status !== 200)
      throw describeFailure(`enabling KV v2 at ${KV_MOUNT}/`, res);
  }
  // A new KV v2 mount upgrades itself in the background and refuses writes until it is done.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const config = await baoCall(address, 'GET', `${KV_MOUNT}/config`, { token });
    if (config.status === 200) return;
    if (Date.now() > deadline) throw describeFailure(`reading ${KV_MOUNT}/config`, config);
    await sleep(100);
  }
}

/**
 * Starts (first run: also initialises) a persistent OpenBao on 127.0.0.1:port, unseals it and
 * makes sure KV v2 is mounted at secret/. Same shape as the dev server, plus seal()/unseal().
 */
export async function startOpenBaoPersistent(
  opts: OpenBaoPersistentOptions,
): Promise<PersistentOpenBaoServer> {
  await assertPortFree(opts.port, 'OpenBao');
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const storedKeys = readOpenBaoKeys(opts.dataDir);
  const configFile = writeConfig(opts.dataDir, opts.port);
  const address = `http://127.0.0.1:${opts.port}`;
  const proc = spawnManaged({
    name: 'openbao',
    command: serverBinary('bao'),
    args: ['server', `-config=${configFile}`],
    env: { ...process.env, BAO_TOKEN: undefined, VAULT_TOKEN: undefined, BAO_ADDR: undefined },
    logFile: opts.logFile,
  });
  try {
    let sealStatus: BaoResponse | undefined;
    await waitUntil(
      'OpenBao',
      proc,
      async () => {
        sealStatus = await baoCall(address, 'GET', 'sys/seal-status');
        return sealStatus.status === 200;
      },
      30_000,
    );
    let keys = storedKeys;
    if (sealStatus?.body?.initialized !== true) {
      keys = await initialise(address, opts.dataDir);
    } else if (!keys) {
      const storage = join(opts.dataDir, 'raft');
      throw new OpenBaoLocalStateError(
        `OpenBao's storage in ${storage} is initialised but ${join(opts.dataDir, OPENBAO_KEYS_FILE)} ` +
          `is missing, so it cannot be unsealed: delete ${opts.dataDir} (npm run stack -- --fresh) to start over`,
      );
    }
    if (sealStatus?.body?.sealed !== false || !(await isActive(address))) {
      await unsealOpenBao(address, keys.unsealKey);
    }
    await ensureKvV2(address, keys.rootToken);
    const { rootToken, unsealKey } = keys;
    return Object.assign(proc, {
      address,
      rootToken,
      dataDir: opts.dataDir,
      seal: () => sealOpenBao(address, rootToken),
      unseal: () => unsealOpenBao(address, unsealKey),
    });
  } catch (err) {
    await proc.stop();
    throw err;
  }
}
