// The worker as part of `npm run stack`: without one, a parked number's "current details" are
// blank in the UI (they come from a query the worker answers) and signals are never handled.
// It runs as a child process against the stack's own Temporal, OpenBao (with the worker's
// least-privilege AppRole, not the root token) and Graph sandbox, whatever the shell exports.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../config/env-reader';
import { loadWorkerConfig, WORKER_APPROLE_FILE_NAME } from '../worker/worker-config';
import { GRAPH_TASK_QUEUE, ONBOARDING_TASK_QUEUE } from '../workflows/messages';
import { superviseProcess, type SupervisorOptions } from './process-supervisor';
import type { ExtraService, ExtraServiceStarter } from './stack';
import { startWorkerProcess } from './worker-processes';
import { codedErrorClass } from '../cli/coded-error';

export class StackWorkerError extends codedErrorClass('STACK_WORKER') {}

interface StoredAppRole {
  roleId: string;
  secretId: string;
}

function readAppRole(file: string): StoredAppRole {
  if (!existsSync(file)) {
    throw new StackWorkerError(
      `the worker's AppRole credentials are missing (${file}): start the worker AppRole service first`,
    );
  }
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<StoredAppRole>;
  if (typeof parsed.roleId !== 'string' || typeof parsed.secretId !== 'string') {
    throw new StackWorkerError(`${file} holds no roleId/secretId: restart the stack with --fresh`);
  }
  return { roleId: parsed.roleId, secretId: parsed.secretId };
}

/**
 * The environment of the stack's worker: the caller's, minus anything that points at another
 * Temporal, vault or Graph (a shell set up for production must not leak into the local stack),
 * plus the stack's own addresses. Tuning variables (LOG_LEVEL, rates, timeouts, keys) pass through.
 */
export function stackWorkerEnv(
  env: Env,
  stack: { temporalAddress: string; namespace: string; vaultAddress: string },
  graphBaseUrl: string,
  appRole: StoredAppRole,
): Env {
  const elsewhere =
    /^(TEMPORAL_|VAULT_ADDR$|VAULT_TOKEN$|VAULT_ROLE_ID$|VAULT_SECRET_ID|VAULT_NAMESPACE$|VAULT_CACERT$|VAULT_CLIENT_|VAULT_TLS_)/;
  const kept = Object.fromEntries(
    Object.entries(env).filter(([name]) => !elsewhere.test(name) && name !== 'GRAPH_ACCESS_TOKEN'),
  );
  return {
    ...kept,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: stack.namespace,
    GRAPH_BASE_URL: graphBaseUrl,
    VAULT_ADDR: stack.vaultAddress,
    VAULT_ROLE_ID: appRole.roleId,
    VAULT_SECRET_ID: appRole.secretId,
  };
}

/**
 * Starts after workerAppRoleService (its credentials) and with the Graph sandbox's URL. The worker
 * is a process of its own (src/worker.ts --local, as deployed), kept running by a supervisor: an
 * exit the stack did not ask for is reported in one line and restarted (process-supervisor.ts).
 */
export function stackWorkerService(opts: {
  graphBaseUrl: string;
  /** Where the worker serves Prometheus /metrics (METRICS_BIND_ADDRESS), e.g. 127.0.0.1:9464. */
  metricsBindAddress?: string;
  env?: Env;
  /** Where the supervisor's lines go (the stack CLI: stderr); nowhere by default. */
  report?: (line: string) => void;
  /** Supervisor tuning (the tests' short pauses). */
  supervisor?: Pick<SupervisorOptions, 'backoffMs' | 'healthyAfterMs' | 'maxRestarts' | 'graceMs'>;
}): ExtraServiceStarter {
  return async (stack) => {
    const appRole = readAppRole(join(stack.dataDir, WORKER_APPROLE_FILE_NAME));
    const env: Env = {
      ...stackWorkerEnv(opts.env ?? process.env, stack, opts.graphBaseUrl, appRole),
      ...(opts.metricsBindAddress ? { METRICS_BIND_ADDRESS: opts.metricsBindAddress } : {}),
    };
    // Checked here first: a bad variable stops the stack with its one line (exit 2), not with
    // a worker that exits before it is ready.
    loadWorkerConfig(env, { local: true });
    return supervisedWorker({
      name: 'worker',
      env,
      logFile: join(stack.logDir, 'worker.log'),
      graphBaseUrl: opts.graphBaseUrl,
      metricsBindAddress: opts.metricsBindAddress,
      report: opts.report,
      restartByHand:
        'run npm run stack again (or npm run worker -- --local beside npm run stack -- --no-worker)',
      supervisor: opts.supervisor,
    });
  };
}

/**
 * One worker process of a stack (src/worker.ts --local with `env`), kept running by a supervisor
 * and shown as one of the stack's services: its line in the stack's table, its pid, and `failed`
 * once the supervisor gave up. The dev stack's worker and each `--production --workers` process.
 */
export async function supervisedWorker(opts: {
  /** As the stack lists it and the supervisor's lines name it: "worker", "worker-2". */
  name: string;
  env: Env;
  logFile: string;
  graphBaseUrl: string;
  metricsBindAddress?: string;
  report?: (line: string) => void;
  /** What a person runs to start it again once the supervisor gave up. */
  restartByHand: string;
  supervisor?: Pick<SupervisorOptions, 'backoffMs' | 'healthyAfterMs' | 'maxRestarts' | 'graceMs'>;
}): Promise<ExtraService> {
  const { name, env, logFile } = opts;
  const worker = await superviseProcess({
    // "stack: the worker (pid 12) was killed by SIGKILL"; with several, "stack: worker-2 (pid 12) ...".
    name: name === 'worker' ? 'the worker' : name,
    logFile,
    start: () => startWorkerProcess({ name, env, args: ['--local'], logFile }),
    report: opts.report ?? (() => undefined),
    restartByHand: opts.restartByHand,
    ...opts.supervisor,
  });
  return {
    name,
    url:
      `task queues ${ONBOARDING_TASK_QUEUE} and ${GRAPH_TASK_QUEUE}, Graph at ${opts.graphBaseUrl}` +
      (opts.metricsBindAddress ? `, metrics at http://${opts.metricsBindAddress}/metrics` : '') +
      ` (log ${logFile})`,
    get pid() {
      return worker.pid;
    },
    failed: worker.gaveUp,
    stop: () => worker.stop(),
  };
}
