// The worker process: both task queues in one process; scale out by running more of them.
import { createDataConverter } from './codec/data-converter';
import type { CliIo } from './cli/cli-io';
import { EXIT_OK } from './cli/exit-code-policy';
import { parseFlags } from './cli/parse-flags';
import { runMain } from './cli/run-main';
import { createGraphClient } from './graph/graph-client';
import { createOnboardingWorkers } from './onboarding-worker';
import { installRuntimeLogging } from './runtime-logging';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { TemporalUnreachableError, type TemporalSettings } from './temporal/temporal-connection';
import { createPinStore } from './vault/pin-store';
import { createVaultClient } from './vault/vault-client';
import { loadWorkerConfig, type WorkerConfig } from './worker-config';
import { GRAPH_TASK_QUEUE, ONBOARDING_TASK_QUEUE } from './workflows/messages';

const HELP = `Usage: npm run worker -- [--local]

Runs the onboarding worker: the registerNumber workflow and vault work on the
"${ONBOARDING_TASK_QUEUE}" task queue, Graph calls on "${GRAPH_TASK_QUEUE}" (rate-capped globally by
GRAPH_MAX_REQUESTS_PER_SECOND). Stops gracefully on SIGINT/SIGTERM.

Options:
  --local   use the embedded local stack's defaults (npm run stack): Temporal 127.0.0.1:7233,
            OpenBao 127.0.0.1:8200 with the stack's AppRole, keys from the git-ignored .data/
            folder, and the stack's Graph sandbox (http://127.0.0.1:8099 unless GRAPH_BASE_URL is set)
  --help    this text

Environment (see README "Configuration"): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_*; GRAPH_BASE_URL, GRAPH_API_VERSION, GRAPH_ACCESS_TOKEN, GRAPH_MAX_REQUESTS_PER_SECOND;
VAULT_ADDR, VAULT_TOKEN or VAULT_ROLE_ID + VAULT_SECRET_ID, VAULT_NAMESPACE, VAULT_KV_MOUNT,
VAULT_PIN_PREFIX; PIN_SEALING_KEYS; PAYLOAD_CODEC_KEYS; LOG_LEVEL (INFO).

Exit codes: 0 stopped cleanly, 2 configuration or connection error, 1 anything else.`;

// Here, not beside the client's connection: it loads the SDK's native core, which processes
// that only start workflows (the starter, the trigger, ops) should not pay for.
export async function connectWorkerConnection(settings: TemporalSettings): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect(settings.connectionOptions as NativeConnectionOptions);
  } catch (err) {
    throw new TemporalUnreachableError(settings.address, err);
  }
}

export interface RunningWorker {
  /** Resolves when both task-queue workers have stopped (after shutdown() or a signal). */
  done: Promise<void>;
  shutdown(): void;
}

/** Connects and starts the worker pair from a checked configuration. */
export async function startWorker(config: WorkerConfig): Promise<RunningWorker> {
  const connection = await connectWorkerConnection(config.temporal);
  const vault = createVaultClient({
    address: config.vault.address,
    namespace: config.vault.namespace,
    auth: config.vault.auth,
    timeoutMs: config.vault.requestTimeoutMs,
  });
  const graph = createGraphClient({
    baseUrl: config.graph.baseUrl,
    apiVersion: config.graph.apiVersion,
    accessToken: config.graph.accessToken,
    headersTimeoutMs: config.graph.headersTimeoutMs,
    bodyTimeoutMs: config.graph.bodyTimeoutMs,
  });
  const workers = await createOnboardingWorkers({
    connection,
    namespace: config.temporal.namespace,
    deps: {
      sealingKeyring: config.sealingKeyring,
      vault: createPinStore({ vault, mount: config.vault.kvMount, prefix: config.vault.pinPrefix }),
      graph,
    },
    graphMaxRequestsPerSecond: config.graph.maxRequestsPerSecond,
    dataConverter: createDataConverter(config.codecKeyring),
  });
  console.error(
    `worker: ready on ${config.temporal.address} namespace "${config.temporal.namespace}"; ` +
      `Graph ${config.graph.baseUrl}/${config.graph.apiVersion}${config.graph.isSandbox ? ' (sandbox)' : ''} ` +
      `capped at ${config.graph.maxRequestsPerSecond}/s; vault ${config.vault.address}`,
  );
  const done = workers.run().finally(() => connection.close());
  return { done, shutdown: () => workers.shutdown() };
}

async function main(io: CliIo): Promise<number> {
  const flags = parseFlags(io, { booleans: 'local', help: HELP });
  installRuntimeLogging(io.env.LOG_LEVEL, 'INFO');
  const config = loadWorkerConfig(io.env, {
    local: flags.values.local === true || io.env.ONBOARDING_LOCAL_STACK === '1',
  });
  const worker = await startWorker(config);
  await worker.done;
  console.error('worker: stopped');
  return EXIT_OK;
}

// SIGINT and SIGTERM are the Temporal runtime's: it shuts the workers down, then `done` resolves.
if (require.main === module) runMain({ name: 'worker' }, main);
