// The real Temporal server (built from go.temporal.io/server, not the CLI's dev server) on
// PostgreSQL, configured exactly as the temporalio/server image configures itself: no config file,
// `temporal-server start` renders the template embedded in the binary from the environment, and the
// environment is the compose file's `temporal` service with the host's addresses put in. The
// schema job and the namespace job are the compose file's own scripts in deploy/, run for real.
import { randomInt } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import {
  assertPortFree,
  freePort,
  ONBOARDING_STATUS_ATTRIBUTE,
  spawnManaged,
  waitUntil,
  type ManagedProcess,
} from './processes';
import { productionBinary, productionBinDir, temporalSchemaDir } from './production-binaries';
import { projectRoot, serverBinary } from './server-binaries';
import { codedErrorClass } from '../cli/coded-error';

export const DEPLOY_DIR = join(projectRoot, 'deploy');
/** The files docker-compose.yml mounts: the same ones run here. */
export const SCHEMA_SETUP_SCRIPT = join(DEPLOY_DIR, 'temporal-schema-setup.sh');
export const NAMESPACE_SETUP_SCRIPT = join(DEPLOY_DIR, 'temporal-namespace-setup.sh');
export const DYNAMIC_CONFIG_FILE = join(DEPLOY_DIR, 'temporal-dynamicconfig.yaml');

/** The compose file's database names (DBNAME, VISIBILITY_DBNAME). */
export const TEMPORAL_DATABASES = { history: 'temporal', visibility: 'temporal_visibility' } as const;
/** The compose file's namespace retention default. */
export const NAMESPACE_RETENTION = '30d';

export const TEMPORAL_SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
export type TemporalService = (typeof TEMPORAL_SERVICES)[number];

/** One process with all four services (as the compose file runs it), or one process per service. */
export type TemporalLayout = 'single' | 'split';

export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface TemporalPorts {
  frontendGrpc: number;
  frontendHttp: number;
  /** Per service: its gRPC port and its membership (ringpop) port. */
  services: Record<TemporalService, { grpc: number; membership: number }>;
}

export class SetupScriptError extends codedErrorClass('SETUP_SCRIPT') {}

/**
 * The `temporal` service's environment in docker-compose.yml, for this host: the compose file's
 * names and values, with PostgreSQL's address, the password, the bind address and the dynamic
 * config path (the same file the compose mounts) filled in; plus the ports, which the image's
 * defaults fix at 7233 and up and which must be free here.
 */
export function temporalServerEnvironment(
  pg: PostgresEndpoint,
  ports: TemporalPorts,
): Record<string, string> {
  const env: Record<string, string> = {
    DB: 'postgres12',
    DB_PORT: String(pg.port),
    POSTGRES_SEEDS: pg.host,
    POSTGRES_USER: pg.user,
    POSTGRES_PWD: pg.password,
    DBNAME: TEMPORAL_DATABASES.history,
    VISIBILITY_DBNAME: TEMPORAL_DATABASES.visibility,
    BIND_ON_IP: '127.0.0.1',
    DYNAMIC_CONFIG_FILE_PATH: DYNAMIC_CONFIG_FILE,
    FRONTEND_GRPC_PORT: String(ports.frontendGrpc),
    FRONTEND_HTTP_PORT: String(ports.frontendHttp),
    LOG_LEVEL: 'warn',
  };
  for (const service of TEMPORAL_SERVICES) {
    const upper = service.toUpperCase();
    if (service !== 'frontend') env[`${upper}_GRPC_PORT`] = String(ports.services[service].grpc);
    env[`${upper}_MEMBERSHIP_PORT`] = String(ports.services[service].membership);
  }
  return env;
}

/** The compose file's `temporal-schema` job environment, for this host. */
export function schemaJobEnvironment(pg: PostgresEndpoint): Record<string, string> {
  return {
    POSTGRES_SEEDS: pg.host,
    DB_PORT: String(pg.port),
    POSTGRES_USER: pg.user,
    SQL_PASSWORD: pg.password,
    DBNAME: TEMPORAL_DATABASES.history,
    VISIBILITY_DBNAME: TEMPORAL_DATABASES.visibility,
    // The admin-tools image keeps the schema at /etc/temporal/schema; here it is the server
    // module's own copy, installed beside the binaries.
    TEMPORAL_SCHEMA_DIR: temporalSchemaDir(),
  };
}

/** The compose file's `temporal-namespace` job environment. */
export function namespaceJobEnvironment(address: string, namespace: string): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_NAMESPACE_RETENTION: NAMESPACE_RETENTION,
  };
}

/** Runs one of deploy/'s shell scripts with `sh`, its output appended to `logFile`. */
export async function runSetupScript(
  script: string,
  env: Record<string, string>,
  opts: { logFile: string; pathDirs: string[]; timeoutMs?: number },
): Promise<void> {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  let tail = '';
  const child = spawn('/bin/sh', [script], {
    env: { ...process.env, ...env, PATH: [...opts.pathDirs, process.env.PATH ?? ''].join(':') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    tail = (tail + chunk.toString()).slice(-2_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
  const code = await new Promise<number | NodeJS.Signals>((resolveExit) =>
    child.once('exit', (c, signal) => resolveExit(c ?? signal ?? -1)),
  );
  clearTimeout(timer);
  await new Promise<void>((r) => log.end(() => r()));
  if (code !== 0) {
    const last = tail.trim().split('\n').filter(Boolean).at(-1) ?? '';
    throw new SetupScriptError(
      `${script.slice(projectRoot.length + 1)} exited with ${code}: ${last} (log: ${opts.logFile})`,
    );
  }
}

/** deploy/temporal-schema-setup.sh with the real temporal-sql-tool: create, set up, migrate. */
export async function setUpTemporalSchema(pg: PostgresEndpoint, logFile: string): Promise<void> {
  productionBinary('temporal-sql-tool');
  await runSetupScript(SCHEMA_SETUP_SCRIPT, schemaJobEnvironment(pg), {
    logFile,
    pathDirs: [productionBinDir()],
  });
}

/** deploy/temporal-namespace-setup.sh with the `temporal` CLI: the namespace and OnboardingStatus. */
export async function setUpNamespace(address: string, namespace: string, logFile: string): Promise<void> {
  await runSetupScript(NAMESPACE_SETUP_SCRIPT, namespaceJobEnvironment(address, namespace), {
    logFile,
    pathDirs: [dirname(serverBinary('temporal'))],
  });
  // The script's last call answered; check from here that the attribute is usable in the namespace.
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    const attrs = await connection.operatorService.listSearchAttributes({ namespace });
    if (!(ONBOARDING_STATUS_ATTRIBUTE in attrs.customAttributes)) {
      throw new SetupScriptError(
        `namespace ${namespace} has no ${ONBOARDING_STATUS_ATTRIBUTE} after the setup job`,
      );
    }
  } finally {
    await connection.close();
  }
}

/**
 * A free port below 32768: Temporal's SQL schema keeps membership ports in a SMALLINT column, so
 * the OS's ephemeral ports (32768 and up) fail the first membership heartbeat.
 */
export async function freeMembershipPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = randomInt(20_000, 32_768);
    if (taken.has(port)) continue;
    try {
      await assertPortFree(port, 'Temporal membership');
      taken.add(port);
      return port;
    } catch {
      // busy: try another
    }
  }
  throw new Error('no free port between 20000 and 32767 for Temporal membership');
}

/**
 * The ports of an earlier start (kept in `file`) when they are all still free, so that the cluster
 * metadata (which records the frontend's addresses) stays as it is; new ones otherwise.
 */
export async function reuseTemporalPorts(
  file: string,
  frontendGrpc: number,
): Promise<{ ports: TemporalPorts; reused: boolean }> {
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as TemporalPorts;
    // The frontend's own gRPC port is the caller's, checked when the server starts.
    const others = [
      saved.frontendHttp,
      ...TEMPORAL_SERVICES.flatMap((s) => [saved.services[s].grpc, saved.services[s].membership]),
    ].filter((port) => port !== frontendGrpc);
    const free = await Promise.all(
      others.map((port) =>
        assertPortFree(port, 'Temporal').then(
          () => true,
          () => false,
        ),
      ),
    );
    if (saved.frontendGrpc === frontendGrpc && free.every(Boolean)) return { ports: saved, reused: true };
  }
  const ports = await allocateTemporalPorts(frontendGrpc);
  writeFileSync(file, `${JSON.stringify(ports, null, 2)}\n`);
  return { ports, reused: false };
}

export async function allocateTemporalPorts(frontendGrpc?: number): Promise<TemporalPorts> {
  const taken = new Set<number>(frontendGrpc ? [frontendGrpc] : []);
  const distinct = async () => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) return (taken.add(port), port);
    }
  };
  const grpc = frontendGrpc ?? (await distinct());
  const services = {} as TemporalPorts['services'];
  for (const service of TEMPORAL_SERVICES) {
    services[service] = {
      grpc: service === 'frontend' ? grpc : await distinct(),
      membership: await freeMembershipPort(taken),
    };
  }
  return { frontendGrpc: grpc, frontendHttp: await distinct(), services };
}

export interface TemporalServerOptions {
  postgres: PostgresEndpoint;
  ports: TemporalPorts;
  layout: TemporalLayout;
  logDir: string;
  /**
   * The cluster metadata will be written: a first start, or addresses that differ from the stored
   * ones. Every service process writes it then and only one write wins (the others exit with
   * "failed to initialize current cluster metadata" or "version mismatch"), so the frontend starts
   * alone first. Otherwise all start together: a frontend alone would wait for ringpop to give up on
   * the other services' old addresses (about 45 s).
   */
  metadataChanges: boolean;
}

export interface TemporalServer {
  readonly address: string;
  readonly layout: TemporalLayout;
  readonly processes: readonly ManagedProcess[];
  /** Stops every service process (SIGTERM, then SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL to every service process: no shutdown at all, as a crash or an OOM kill. */
  kill(): Promise<void>;
}

/** Answers once the frontend serves gRPC; with `history`, once it also reaches the history service. */
async function frontendAnswers(address: string, history: boolean): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    await connection.workflowService.getSystemInfo({});
    if (history) {
      await connection.workflowService
        .getWorkflowExecutionHistory({
          namespace: 'temporal-system',
          execution: { workflowId: 'readiness-probe-that-does-not-exist' },
        })
        .catch((err: { code?: number }) => {
          // NOT_FOUND comes from history itself; anything else means it is not reachable yet.
          if (err.code !== 5) throw err;
        });
    }
    return true;
  } finally {
    await connection.close();
  }
}

/** Starts the server's processes and waits until the frontend serves and reaches history. */
export async function startTemporalServer(opts: TemporalServerOptions): Promise<TemporalServer> {
  const address = `127.0.0.1:${opts.ports.frontendGrpc}`;
  await assertPortFree(opts.ports.frontendGrpc, 'Temporal gRPC');
  const env = { ...process.env, ...temporalServerEnvironment(opts.postgres, opts.ports) };
  const processes: ManagedProcess[] = [];
  const spawnServices = (services: readonly TemporalService[]) => {
    const name = opts.layout === 'single' ? 'temporal-server' : `temporal-${services[0]}`;
    const proc = spawnManaged({
      name,
      command: productionBinary('temporal-server'),
      args: ['--allow-no-auth', 'start', ...services.flatMap((s) => ['--service', s])],
      env,
      logFile: join(opts.logDir, `${name}.log`),
    });
    processes.push(proc);
    return proc;
  };
  const stopAll = async () => {
    await Promise.allSettled(processes.map((p) => p.stop()));
  };
  const server: TemporalServer = {
    address,
    layout: opts.layout,
    processes,
    stop: stopAll,
    async kill() {
      for (const p of processes) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await Promise.all(processes.map((p) => p.exited));
    },
  };
  try {
    if (opts.layout === 'single') {
      spawnServices(TEMPORAL_SERVICES);
    } else if (!opts.metadataChanges) {
      for (const service of TEMPORAL_SERVICES) spawnServices([service]);
    } else {
      const frontend = spawnServices(['frontend']);
      await waitUntil('the Temporal frontend', frontend, () => frontendAnswers(address, false), 120_000);
      for (const service of TEMPORAL_SERVICES.slice(1)) spawnServices([service]);
    }
    // Any of the processes dying during start-up fails the wait.
    await waitUntil(
      `the Temporal server (${opts.layout === 'single' ? 'one process' : 'frontend, history, matching, worker'})`,
      firstToExit(processes),
      () => frontendAnswers(address, true),
      120_000,
    );
  } catch (err) {
    await stopAll();
    throw err;
  }
  return server;
}

/** A stand-in process whose `exited` resolves when the first of `processes` ends. */
function firstToExit(processes: readonly ManagedProcess[]): ManagedProcess {
  return {
    name: 'temporal',
    pid: processes[0]?.pid ?? -1,
    exited: Promise.race(processes.map((p) => p.exited)),
    async stop() {
      await Promise.allSettled(processes.map((p) => p.stop()));
    },
  };
}
