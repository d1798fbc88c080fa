import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { Connection } from '@temporalio/client';
import { CodedError } from '../cli/coded-error';
import { serverBinary } from './server-binaries';

export const ONBOARDING_STATUS_ATTRIBUTE = 'OnboardingStatus';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the exit code (or signal) when the process ends, whoever ended it. */
  readonly exited: Promise<number | NodeJS.Signals>;
  stop(): Promise<void>;
}

export class PortBusyError extends CodedError<'PORT_BUSY'> {
  constructor(
    readonly port: number,
    readonly purpose: string,
    readonly host = '127.0.0.1',
  ) {
    super(
      'PORT_BUSY',
      `port ${port} (${purpose}) is already in use on ${host}: stop whatever holds it or choose another port`,
    );
  }
}

/** A free TCP port on 127.0.0.1, as the OS hands it out. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolvePort(address.port);
        else reject(new Error('could not obtain a free port'));
      });
    });
  });
}

export async function assertPortFree(port: number, purpose: string): Promise<void> {
  await new Promise<void>((resolveFree, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortBusyError(port, purpose) : err),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolveFree()));
  });
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Where stdout and stderr go; nothing is kept when absent. */
  logFile?: string;
  /** Run as this user (when started as root: PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
  /** What stop() sends first (SIGTERM by default; PostgreSQL's fast shutdown is SIGINT). */
  stopSignal?: NodeJS.Signals;
}

export function spawnManaged(opts: SpawnOptions): ManagedProcess {
  let out: NodeJS.WritableStream | undefined;
  if (opts.logFile) {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    out = createWriteStream(opts.logFile, { flags: 'a' });
  }
  const child: ChildProcess = spawn(opts.command, opts.args, {
    env: opts.env ?? process.env,
    stdio: ['ignore', out ? 'pipe' : 'ignore', out ? 'pipe' : 'ignore'],
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  });
  if (out) {
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
  }
  const exited = new Promise<number | NodeJS.Signals>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit(code ?? signal ?? 0));
    child.once('error', () => resolveExit(-1));
  });
  return {
    name: opts.name,
    pid: child.pid ?? -1,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(opts.stopSignal ?? 'SIGTERM');
        const done = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
        if (!done) child.kill('SIGKILL');
      }
      await exited;
    },
  };
}

/**
 * Polls `check` until it answers true; fails early when the process exits, and stops it when
 * it is still not ready at the deadline.
 */
export async function waitUntil(
  what: string,
  proc: ManagedProcess,
  check: () => Promise<boolean>,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  let ended: number | NodeJS.Signals | undefined;
  void proc.exited.then((code) => (ended = code));
  while (Date.now() < deadline) {
    if (ended !== undefined) throw new Error(`${what} exited (${ended}) before it was ready`);
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  await proc.stop();
  throw new Error(`${what} was not ready after ${timeoutMs / 1000}s`);
}

export interface TemporalDevServerOptions {
  port: number;
  uiPort?: number;
  /** Persistent state; in memory when absent. */
  dbFile?: string;
  headless?: boolean;
  uiCodecEndpoint?: string;
  logFile?: string;
  namespace?: string;
  /** Further namespaces to create at launch, each with the OnboardingStatus attribute. */
  extraNamespaces?: string[];
  /** Extra dynamic config (KEY -> JSON value). */
  dynamicConfig?: Record<string, unknown>;
}

export interface TemporalDevServer extends ManagedProcess {
  readonly address: string;
  readonly uiUrl?: string;
  readonly namespace: string;
}

/** The Temporal CLI dev server, with the OnboardingStatus search attribute registered. */
export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<TemporalDevServer> {
  await assertPortFree(opts.port, 'Temporal gRPC');
  if (!opts.headless && opts.uiPort) await assertPortFree(opts.uiPort, 'Temporal Web UI');
  const namespace = opts.namespace ?? 'default';
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    ...[namespace, ...(opts.extraNamespaces ?? [])].flatMap((ns) => ['--namespace', ns]),
    '--search-attribute',
    `${ONBOARDING_STATUS_ATTRIBUTE}=Keyword`,
    '--log-level',
    'warn',
    '--ui-disable-news-fetch',
  ];
  if (opts.headless) args.push('--headless');
  else if (opts.uiPort) args.push('--ui-port', String(opts.uiPort));
  if (opts.dbFile) {
    mkdirSync(dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  if (opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {})) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  const proc = spawnManaged({
    name: 'temporal',
    command: serverBinary('temporal'),
    args,
    logFile: opts.logFile,
  });
  const address = `127.0.0.1:${opts.port}`;
  await waitUntil(
    'the Temporal dev server',
    proc,
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        const attrs = await connection.operatorService.listSearchAttributes({ namespace });
        return ONBOARDING_STATUS_ATTRIBUTE in attrs.customAttributes;
      } finally {
        await connection.close();
      }
    },
    60_000,
  );
  const uiPort = opts.headless ? undefined : (opts.uiPort ?? opts.port + 1000);
  return Object.assign(proc, {
    address,
    namespace,
    uiUrl: uiPort ? `http://127.0.0.1:${uiPort}` : undefined,
  });
}

export interface OpenBaoOptions {
  port: number;
  /** Dev mode: in memory, unsealed, KV v2 at secret/, with this root token. */
  rootToken: string;
  logFile?: string;
}

export interface OpenBaoServer extends ManagedProcess {
  readonly address: string;
  readonly rootToken: string;
}

/** An OpenBao dev server: in memory, unsealed, KV v2 mounted at secret/. */
export async function startOpenBaoDev(opts: OpenBaoOptions): Promise<OpenBaoServer> {
  await assertPortFree(opts.port, 'OpenBao');
  const proc = spawnManaged({
    name: 'bao',
    command: serverBinary('bao'),
    args: [
      'server',
      '-dev',
      `-dev-listen-address=127.0.0.1:${opts.port}`,
      `-dev-root-token-id=${opts.rootToken}`,
      '-log-level=warn',
    ],
    // The dev server prints its root token: keep it out of shared logs unless asked.
    env: { ...process.env, BAO_DEV_ROOT_TOKEN_ID: undefined, VAULT_TOKEN: undefined },
    logFile: opts.logFile,
  });
  const address = `http://127.0.0.1:${opts.port}`;
  await waitUntil(
    'OpenBao',
    proc,
    async () => {
      const res = await request(`${address}/v1/sys/mounts/secret/tune`, {
        headers: { 'x-vault-token': opts.rootToken },
      });
      await res.body.dump();
      return res.statusCode === 200;
    },
    30_000,
  );
  return Object.assign(proc, { address, rootToken: opts.rootToken });
}
