// The whole local stack in one call: the Temporal dev server (with its Web UI and the
// OnboardingStatus search attribute) and OpenBao, started side by side, plus whatever extra
// services other parts of the project plug in (the Graph sandbox, the codec server). Used by
// `npm run stack`, by the demo and by tests (on free ports, in a temporary data folder).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startOpenBaoPersistent } from './openbao-persistent';
import {
  assertPortFree,
  freePort,
  startOpenBaoDev,
  startTemporalDevServer,
  type ManagedProcess,
} from './processes';
import { dataDir as localDataRoot, serverBinary, type ServerBinary } from './server-binaries';
import { startUiFront, UI_CODEC_PATH, type UiFront } from './ui-front';
import { codedErrorClass } from '../cli/coded-error';

export const DEFAULT_STACK_PORTS = { temporal: 7233, ui: 8233, vault: 8200 } as const;

/** Under the git-ignored .data/ folder, apart from other local state so --fresh wipes only this. */
export const defaultStackDataDir = join(localDataRoot, 'local-stack');

/** What an extra service is given: the running core of the stack. */
export interface LocalStackCore {
  /** host:port of Temporal's gRPC frontend. */
  readonly temporalAddress: string;
  readonly namespace: string;
  readonly uiUrl: string;
  /** The codec endpoint the Web UI was started with: a path under its own origin, or a URL. */
  readonly uiCodecEndpoint?: string;
  readonly vaultAddress: string;
  /** Root token of this local OpenBao: local use only. */
  readonly vaultToken: string;
  readonly dataDir: string;
  readonly logDir: string;
}

export interface ExtraService {
  readonly name: string;
  readonly url: string;
  /** Variables that point programs at this service, printed as `export` lines by the CLI. */
  readonly env?: Readonly<Record<string, string>>;
  /** Lines the CLI prints last, where a person reads them (e.g. how to sign in). */
  readonly notes?: readonly string[];
  readonly pid?: number;
  /** Resolves with a line saying why once the service has stopped for good on its own. */
  readonly failed?: Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts one extra service once Temporal and OpenBao are up. Adding a service to the stack is
 * one entry in `extraServices`, e.g. `(stack) => startCodecServer({ port: 8888, ... })`
 * wrapped to return `{ name, url, stop }`.
 */
export type ExtraServiceStarter = (stack: LocalStackCore) => Promise<ExtraService>;

export interface LocalStackOptions {
  temporalPort?: number;
  uiPort?: number;
  vaultPort?: number;
  /** Where Temporal's database and OpenBao's storage live (persistent mode) and logs go. */
  dataDir?: string;
  /** Keep Temporal's and OpenBao's state across restarts (default); in memory when false. */
  persistent?: boolean;
  namespace?: string;
  /** Further namespaces created at launch, each with the OnboardingStatus search attribute. */
  extraNamespaces?: string[];
  /** The codec server the Web UI calls to decode payloads (it must be known when Temporal starts). */
  uiCodecEndpoint?: string;
  /**
   * A codec server to serve under the Web UI's own origin, at /codec (src/local-stack/ui-front.ts):
   * the browser then sends the codec sign-in cookie without any UI setting. Replaces uiCodecEndpoint.
   */
  uiCodecServer?: string;
  extraServices?: readonly ExtraServiceStarter[];
  /** Defaults to `<dataDir>/logs`. */
  logDir?: string;
}

export interface LocalStack extends LocalStackCore {
  readonly services: readonly ExtraService[];
  /** The server processes this stack spawned (Temporal, OpenBao). */
  readonly processes: readonly ManagedProcess[];
  readonly persistent: boolean;
  /** Stops every service and process, even when some fail to stop; then reports those failures. */
  stop(): Promise<void>;
}

export class MissingServerBinaryError extends codedErrorClass('SERVER_BINARY_MISSING') {}

export class StackOptionsError extends codedErrorClass('STACK_OPTIONS') {}

export class StackDataDirError extends codedErrorClass('STACK_DATA_DIR') {}

/** Written into every stack data folder: --fresh only ever deletes folders that carry it. */
export const STACK_MARKER_FILE = '.local-stack';

function requireBinaries(names: ServerBinary[]): void {
  for (const name of names) {
    try {
      serverBinary(name);
    } catch (err) {
      throw new MissingServerBinaryError((err as Error).message, { cause: err });
    }
  }
}

function assertDistinctPorts(ports: ReadonlyArray<readonly [number, string]>): void {
  const seen = new Map<number, string>();
  for (const [port, purpose] of ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new StackOptionsError(`port for ${purpose} must be an integer from 1 to 65535 (got ${port})`);
    }
    const other = seen.get(port);
    if (other) throw new StackOptionsError(`port ${port} is given for both ${other} and ${purpose}`);
    seen.set(port, purpose);
  }
}

/**
 * Deletes a stack data folder so the next start is a first start. Refuses folders the stack did
 * not create (no marker file and not empty): a mistyped --data-dir must not wipe anything else.
 */
export function wipeStackData(dataDir: string): void {
  const dir = resolve(dataDir);
  if (!existsSync(dir)) return;
  const entries = readdirSync(dir);
  if (entries.length > 0 && !entries.includes(STACK_MARKER_FILE)) {
    throw new StackDataDirError(
      `refusing to wipe ${dir}: it was not created by the local stack (no ${STACK_MARKER_FILE} file in it)`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}

async function stopEverything(
  services: ExtraService[],
  processes: ManagedProcess[],
  front?: UiFront,
): Promise<void> {
  const failures: string[] = [];
  // Extra services first (they talk to the servers), newest first; then the servers together.
  for (const service of [...services].reverse()) {
    await service.stop().catch((err: Error) => failures.push(`${service.name}: ${err.message}`));
  }
  await front?.close().catch((err: Error) => failures.push(`Web UI front: ${err.message}`));
  const results = await Promise.allSettled(processes.map((p) => p.stop()));
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      failures.push(`${processes[i]?.name ?? 'process'}: ${(result.reason as Error).message}`);
    }
  });
  if (failures.length > 0) {
    throw new Error(`the local stack did not stop cleanly: ${failures.join('; ')}`);
  }
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const temporalPort = opts.temporalPort ?? DEFAULT_STACK_PORTS.temporal;
  const uiPort = opts.uiPort ?? DEFAULT_STACK_PORTS.ui;
  const vaultPort = opts.vaultPort ?? DEFAULT_STACK_PORTS.vault;
  const persistent = opts.persistent ?? true;
  const dataDir = resolve(opts.dataDir ?? defaultStackDataDir);
  const logDir = resolve(opts.logDir ?? join(dataDir, 'logs'));
  const namespace = opts.namespace ?? 'default';

  // Everything that can be checked is checked before anything is spawned: a busy port or a
  // missing binary then costs nothing to clean up and names exactly what to fix.
  const ports = [
    [temporalPort, 'Temporal gRPC'],
    [uiPort, 'Temporal Web UI'],
    [vaultPort, 'OpenBao'],
  ] as const;
  assertDistinctPorts(ports);
  for (const [port, purpose] of ports) await assertPortFree(port, purpose);
  requireBinaries(['temporal', 'bao']);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(
    join(dataDir, STACK_MARKER_FILE),
    'State of the local stack (npm run stack). "npm run stack -- --fresh" deletes this folder.\n',
  );

  const processes: ManagedProcess[] = [];
  const services: ExtraService[] = [];
  // With a front, the dev server's own UI moves to an internal port and the front takes uiPort.
  const devUiPort = opts.uiCodecServer ? await freePort() : uiPort;
  const started = await Promise.allSettled([
    startTemporalDevServer({
      port: temporalPort,
      uiPort: devUiPort,
      namespace,
      extraNamespaces: opts.extraNamespaces,
      dbFile: persistent ? join(dataDir, 'temporal.db') : undefined,
      uiCodecEndpoint: opts.uiCodecServer ? UI_CODEC_PATH : opts.uiCodecEndpoint,
      logFile: join(logDir, 'temporal.log'),
    }).then((server) => (processes.push(server), server)),
    (persistent
      ? startOpenBaoPersistent({
          port: vaultPort,
          dataDir: join(dataDir, 'openbao'),
          logFile: join(logDir, 'openbao.log'),
        })
      : startOpenBaoDev({
          port: vaultPort,
          rootToken: `root-${randomBytes(12).toString('hex')}`,
          logFile: join(logDir, 'openbao.log'),
        })
    ).then((server) => (processes.push(server), server)),
  ]);
  const [temporal, bao] = started;
  if (temporal.status === 'rejected' || bao.status === 'rejected') {
    await stopEverything(services, processes).catch(() => undefined);
    const reason: unknown =
      temporal.status === 'rejected' ? temporal.reason : (bao as PromiseRejectedResult).reason;
    throw reason;
  }

  let front: UiFront | undefined;
  if (opts.uiCodecServer) {
    try {
      front = await startUiFront({
        port: uiPort,
        uiTarget: temporal.value.uiUrl ?? `http://127.0.0.1:${devUiPort}`,
        codecTarget: opts.uiCodecServer,
      });
    } catch (err) {
      await stopEverything(services, processes).catch(() => undefined);
      throw err;
    }
  }

  const core: LocalStackCore = {
    temporalAddress: temporal.value.address,
    namespace,
    uiUrl: front?.url ?? temporal.value.uiUrl ?? `http://127.0.0.1:${uiPort}`,
    uiCodecEndpoint: front ? UI_CODEC_PATH : opts.uiCodecEndpoint,
    vaultAddress: bao.value.address,
    vaultToken: bao.value.rootToken,
    dataDir,
    logDir,
  };
  try {
    // One after the other, in the order given: a later service may rely on an earlier one.
    for (const startService of opts.extraServices ?? []) services.push(await startService(core));
  } catch (err) {
    await stopEverything(services, processes, front).catch(() => undefined);
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    ...core,
    services,
    processes,
    persistent,
    stop: () => (stopping ??= stopEverything(services, processes, front)),
  };
}
