// The production-shaped stack, the same shape docker-compose.yml describes but run from real
// binaries on this host: PostgreSQL, the schema job, the Temporal server (all services in one
// process, or frontend/history/matching/worker as four), the namespace job, OpenBao in server mode
// with Raft storage, the Web UI pointed at that frontend, the product's own services (the worker's
// AppRole, the Graph sandbox, the codec server) and N worker processes. Used by
// `npm run stack -- --production`, by `npm run drill -- --production`, the bench and the smoke test.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOpenBaoPersistent, type PersistentOpenBaoServer } from './openbao-persistent';
import { startPostgres, type PostgresServer } from './postgres';
import { freePort, type ManagedProcess } from './processes';
import { requireProductionBinaries } from './production-binaries';
import { dataDir as localDataRoot } from './server-binaries';
import {
  DEFAULT_STACK_PORTS,
  STACK_MARKER_FILE,
  type ExtraService,
  type ExtraServiceStarter,
  type LocalStack,
  type LocalStackCore,
} from './stack';
import {
  reuseTemporalPorts,
  setUpNamespace,
  setUpTemporalSchema,
  startTemporalServer,
  TEMPORAL_DATABASES,
  type TemporalLayout,
  type TemporalPorts,
  type TemporalServer,
} from './temporal-server';
import { startTemporalUi } from './temporal-ui';
import type { SupervisorOptions } from './process-supervisor';
import { WORKER_APPROLE_FILE_NAME } from '../worker/worker-config';
import { stackWorkerEnv, supervisedWorker } from './stack-worker';

export const defaultProductionDataDir = join(localDataRoot, 'production-stack');

export interface ProductionStackOptions {
  temporalPort?: number;
  uiPort?: number;
  vaultPort?: number;
  /** PostgreSQL's port; a free one when absent (nothing outside the stack needs to know it). */
  postgresPort?: number;
  dataDir?: string;
  logDir?: string;
  namespace?: string;
  /** Further namespaces set up by the same namespace job (drills use one per drill). */
  extraNamespaces?: string[];
  /** Default 'split': frontend, history, matching and worker services as four processes. */
  layout?: TemporalLayout;
  /** The Web UI (default true). */
  ui?: boolean;
  uiCodecEndpoint?: string;
  extraServices?: readonly ExtraServiceStarter[];
  /**
   * Worker processes (src/worker.ts --local) started last, with the services' variables, each
   * restarted by a supervisor when it ends without being asked (as the dev stack's worker).
   */
  workers?: number;
  /** Where the worker supervisors' lines go (the stack CLI: stderr); nowhere by default. */
  report?: (line: string) => void;
  /** Supervisor tuning (the tests' short pauses). */
  workerSupervisor?: Pick<SupervisorOptions, 'backoffMs' | 'healthyAfterMs' | 'maxRestarts' | 'graceMs'>;
}

export interface ProductionStack extends LocalStack {
  readonly postgres: PostgresServer;
  readonly temporal: TemporalServer;
  readonly bao: PersistentOpenBaoServer;
  /** The supervised worker processes (also among `services`, last). */
  readonly workers: readonly ExtraService[];
  /** The variables a worker process of this stack runs with. */
  readonly workerEnv: NodeJS.ProcessEnv;
  /** Stops (or SIGKILLs) every Temporal service process, waits `downMs`, starts them again. */
  restartTemporal(opts: { kill: boolean; downMs: number }): Promise<void>;
  /** Stops PostgreSQL (fast shutdown), waits `downMs`, starts it again on the same cluster. */
  restartPostgres(downMs: number): Promise<void>;
}

/**
 * The worker processes' environment: the stack worker's (the caller's, minus anything pointing at
 * another Temporal or vault; this stack's addresses and the worker's AppRole), once the AppRole and
 * the Graph sandbox services have run.
 */
function workerVariables(core: LocalStackCore, services: readonly ExtraService[]): NodeJS.ProcessEnv {
  const appRoleFile = join(core.dataDir, WORKER_APPROLE_FILE_NAME);
  const graphBaseUrl = services.map((s) => s.env?.GRAPH_BASE_URL).find((url) => url !== undefined);
  if (!existsSync(appRoleFile) || graphBaseUrl === undefined) {
    throw new Error('worker processes need the worker AppRole and Graph sandbox services of the stack');
  }
  const appRole = JSON.parse(readFileSync(appRoleFile, 'utf8')) as { roleId: string; secretId: string };
  return stackWorkerEnv(process.env, core, graphBaseUrl, appRole);
}

export async function startProductionStack(opts: ProductionStackOptions = {}): Promise<ProductionStack> {
  requireProductionBinaries();
  const dataDir = resolve(opts.dataDir ?? defaultProductionDataDir);
  const logDir = resolve(opts.logDir ?? join(dataDir, 'logs'));
  const namespace = opts.namespace ?? 'default';
  const layout = opts.layout ?? 'split';
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(
    join(dataDir, STACK_MARKER_FILE),
    'State of the production-shaped stack (npm run stack -- --production). --fresh deletes this folder.\n',
  );

  const postgresOptions = {
    port: opts.postgresPort ?? (await freePort()),
    dataDir: join(dataDir, 'postgresql'),
    logFile: join(logDir, 'postgresql.log'),
  };
  let ports: TemporalPorts | undefined;
  let postgres: PostgresServer | undefined;
  let temporal: TemporalServer | undefined;
  let bao: PersistentOpenBaoServer | undefined;
  let ui: ManagedProcess | undefined;
  const services: ExtraService[] = [];
  const workers: ExtraService[] = [];

  let portsReused = true;
  const startTemporal = async () => {
    if (!ports) {
      const frontend = opts.temporalPort ?? DEFAULT_STACK_PORTS.temporal;
      ({ ports, reused: portsReused } = await reuseTemporalPorts(
        join(dataDir, 'temporal-ports.json'),
        frontend,
      ));
    }
    if (!postgres) throw new Error('PostgreSQL is not running');
    const metadataRows = await postgres.query(
      TEMPORAL_DATABASES.history,
      'SELECT count(*) FROM cluster_metadata_info',
    );
    temporal = await startTemporalServer({
      postgres,
      ports,
      layout,
      logDir,
      metadataChanges: metadataRows === '0' || !portsReused,
    });
    // The metadata now records these ports: a restart in this run changes nothing.
    portsReused = true;
  };

  const stopAll = async () => {
    const failures: string[] = [];
    const attempt = async (name: string, fn: () => Promise<void>) =>
      fn().catch((err: Error) => failures.push(`${name}: ${err.message}`));
    for (const service of [...services].reverse()) await attempt(service.name, () => service.stop());
    if (ui) await attempt('temporal-ui', () => (ui as ManagedProcess).stop());
    if (temporal) await attempt('temporal', () => (temporal as TemporalServer).stop());
    // PostgreSQL last: the Temporal services checkpoint their shards into it as they stop.
    await Promise.all([
      bao ? attempt('openbao', () => (bao as PersistentOpenBaoServer).stop()) : undefined,
      postgres ? attempt('postgresql', () => (postgres as PostgresServer).stop()) : undefined,
    ]);
    if (failures.length > 0) throw new Error(`the stack did not stop cleanly: ${failures.join('; ')}`);
  };

  try {
    const baoStarting = startOpenBaoPersistent({
      port: opts.vaultPort ?? DEFAULT_STACK_PORTS.vault,
      dataDir: join(dataDir, 'openbao'),
      logFile: join(logDir, 'openbao.log'),
    }).then((server) => (bao = server));
    const temporalStarting = (async () => {
      postgres = await startPostgres(postgresOptions);
      await setUpTemporalSchema(postgres, join(logDir, 'temporal-schema-job.log'));
      await startTemporal();
      const address = (temporal as TemporalServer).address;
      for (const ns of [namespace, ...(opts.extraNamespaces ?? [])]) {
        await setUpNamespace(address, ns, join(logDir, 'temporal-namespace-job.log'));
      }
    })();
    const [baoResult, temporalResult] = await Promise.allSettled([baoStarting, temporalStarting]);
    if (temporalResult.status === 'rejected') throw temporalResult.reason;
    if (baoResult.status === 'rejected') throw baoResult.reason;
    const server = temporal as unknown as TemporalServer;
    const vault = bao as unknown as PersistentOpenBaoServer;

    const uiPort = opts.uiPort ?? DEFAULT_STACK_PORTS.ui;
    if (opts.ui ?? true) {
      ui = await startTemporalUi({
        port: uiPort,
        temporalAddress: server.address,
        namespace,
        codecEndpoint: opts.uiCodecEndpoint,
        dataDir: join(dataDir, 'temporal-ui'),
        logFile: join(logDir, 'temporal-ui.log'),
      });
    }
    const core: LocalStackCore = {
      temporalAddress: server.address,
      namespace,
      uiUrl: `http://127.0.0.1:${uiPort}`,
      vaultAddress: vault.address,
      vaultToken: vault.rootToken,
      dataDir,
      logDir,
    };
    for (const startService of opts.extraServices ?? []) services.push(await startService(core));

    const workerEnv = (opts.workers ?? 0) > 0 ? workerVariables(core, services) : {};
    const graphBaseUrl = String(workerEnv.GRAPH_BASE_URL ?? '');
    const started = await Promise.allSettled(
      Array.from({ length: opts.workers ?? 0 }, (_, i) =>
        supervisedWorker({
          name: `worker-${i + 1}`,
          env: workerEnv,
          logFile: join(logDir, `worker-${i + 1}.log`),
          graphBaseUrl,
          report: opts.report,
          restartByHand: 'run npm run stack -- --production again',
          supervisor: opts.workerSupervisor,
        }).then((w) => (workers.push(w), w)),
      ),
    );
    // Stopped with the other services (last started, first stopped), whatever happens next.
    services.push(...workers);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;

    let stopping: Promise<void> | undefined;
    const stack: ProductionStack = {
      ...core,
      services,
      persistent: true,
      get postgres() {
        return postgres as PostgresServer;
      },
      get temporal() {
        return temporal as TemporalServer;
      },
      get bao() {
        return bao as PersistentOpenBaoServer;
      },
      get processes() {
        return [
          postgres as PostgresServer,
          ...(temporal as TemporalServer).processes,
          bao as PersistentOpenBaoServer,
          ...(ui ? [ui] : []),
        ];
      },
      workers,
      workerEnv,
      stop: () => (stopping ??= stopAll()),
      async restartTemporal({ kill, downMs }) {
        const current = temporal as TemporalServer;
        await (kill ? current.kill() : current.stop());
        await sleep(downMs);
        await startTemporal();
      },
      async restartPostgres(downMs) {
        await (postgres as PostgresServer).stop();
        await sleep(downMs);
        postgres = await startPostgres(postgresOptions);
      },
    };
    return stack;
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}
