// Starting the worker process's workers from a checked configuration: real clients for the vault
// and the Graph API, the prebuilt workflow bundle when this is the build.
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { createDataConverter } from '../codec/data-converter';
import { createGraphBudget } from '../graph/graph-budget';
import type { LineLogger } from '../logging/line-logger';
import { tenantGraphApi } from '../graph/tenant-graph-api';
import { tenantGraphFromConfig } from '../graph/tenant-graph-from-config';
import { TemporalUnreachableError, type TemporalSettings } from '../temporal/temporal-connection';
import { createVaultBudgetBoard } from '../vault/graph-budget-board';
import { createPinStore } from '../vault/pin-store';
import { createVaultClient } from '../vault/vault-client';
import { probeVaultTls, vaultTlsProblem } from '../vault/vault-tls';
import { createOnboardingWorkers } from './onboarding-workers';
import type { WorkerConfig } from './worker-config';
import { prebuiltWorkflowBundle } from './workflow-bundle';

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
  /** Resolves when every task-queue worker has stopped (after shutdown() or a signal). */
  done: Promise<void>;
  shutdown(): void;
}

/** Connects and starts the workers from a checked configuration. */
export async function startWorker(config: WorkerConfig, log?: LineLogger): Promise<RunningWorker> {
  const connection = await connectWorkerConnection(config.temporal);
  const vault = createVaultClient({
    address: config.vault.address,
    namespace: config.vault.namespace,
    auth: config.vault.auth,
    timeoutMs: config.vault.requestTimeoutMs,
    ...(config.vault.tls ? { tls: config.vault.tls.connect } : {}),
  });
  // One TLS handshake before taking work: a CA or certificate that cannot work stops the worker
  // here with the variable to fix. A vault that is merely down is left to the activities' retries.
  if (config.vault.tls) {
    try {
      await probeVaultTls(config.vault.address, config.vault.tls, config.vault.requestTimeoutMs);
    } catch (err) {
      const problem = vaultTlsProblem(err, config.vault.tls, config.vault.address);
      if (problem) {
        await Promise.allSettled([vault.close(), connection.close()]);
        throw problem;
      }
      log?.warn('the vault does not answer yet; vault steps retry until it does', {
        vaultAddress: config.vault.address,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
  // Meta's budgets are read from every Graph response and shared with the other workers through
  // the vault (docs/performance.md, "Meta's budget").
  const graphBudget = createGraphBudget({
    board: createVaultBudgetBoard({ vault, mount: config.vault.kvMount, prefix: config.vault.pinPrefix }),
    onBoardError: (err) => {
      log?.warn('cannot read or write the Graph budget board in the vault', {
        error: err instanceof Error ? err.message : String(err),
      });
    },
  });
  // Tokens are read through the same vault client as the PINs (the worker policy grants both).
  const graph = tenantGraphApi(
    tenantGraphFromConfig({
      graph: config.graph,
      vault: { client: vault, mount: config.vault.kvMount },
      onUsage: (readings) => graphBudget.observe(readings),
    }),
  );
  const workflowBundle = prebuiltWorkflowBundle();
  const workers = await createOnboardingWorkers({
    connection,
    namespace: config.temporal.namespace,
    deps: {
      sealingKeyring: config.sealingKeyring,
      vault: createPinStore({ vault, mount: config.vault.kvMount, prefix: config.vault.pinPrefix }),
      graph,
    },
    graphMaxRequestsPerSecond: config.graph.maxRequestsPerSecond,
    graphBudget,
    dataConverter: createDataConverter(config.codecKeyring),
    workflowBundle,
  });
  log?.announce(
    `worker: ready on ${config.temporal.address} namespace "${config.temporal.namespace}"; ` +
      `Graph ${config.graph.baseUrl}/${config.graph.apiVersion}${config.graph.isSandbox ? ' (sandbox)' : ''} ` +
      `capped at ${config.graph.maxRequestsPerSecond}/s, tokens from ${config.graph.tokens.source}; ` +
      `vault ${config.vault.address}; ` +
      `workflows ${workflowBundle ? 'from the prebuilt bundle' : 'bundled from source'}`,
    {
      temporalAddress: config.temporal.address,
      namespace: config.temporal.namespace,
      graphBaseUrl: config.graph.baseUrl,
      vaultAddress: config.vault.address,
      metrics: config.metricsBindAddress ? `http://${config.metricsBindAddress}/metrics` : 'off',
    },
  );
  const done = workers.run().finally(() => connection.close());
  return { done, shutdown: () => workers.shutdown() };
}
