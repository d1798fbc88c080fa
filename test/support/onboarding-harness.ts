// Builds the product's real pieces for a test: a Graph sandbox, the PIN store on the run's
// OpenBao, the workers in the test file's own namespace, and a client with the codec.
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { afterAll, beforeAll, inject } from 'vitest';
import type { ActivityDeps } from '../../src/activities';
import { createDataConverter } from '../../src/codec/data-converter';
import { createKeyring, type Keyring } from '../../src/crypto/keyring';
import type { GraphBudget } from '../../src/graph/graph-budget';
import { createGraphClient } from '../../src/graph/graph-client';
import {
  startGraphSandbox,
  type GraphSandbox,
  type GraphSandboxOptions,
} from '../../src/graph-sandbox/server';
import { createOnboardingWorkers, type OnboardingWorkers } from '../../src/worker/onboarding-workers';
import { bundleWorkflows } from '../../src/worker/workflow-bundle';
import { createPinStore, type PinStore } from '../../src/vault/pin-store';
import { createVaultClient, type VaultClient } from '../../src/vault/vault-client';
import type { TestNamespace } from './namespaces';

export const TEST_GRAPH_TOKEN = `graph-test-token-${randomBytes(8).toString('hex')}`;

let bundle: Promise<WorkflowBundle> | undefined;
/** One workflow bundle per test file (bundling takes seconds; workers reuse it). */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflows({ log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} });
  return bundle;
}

export function testKeyring(kid: string): Keyring {
  return createKeyring([{ kid, key: randomBytes(32) }]);
}

export interface OnboardingHarness {
  sandbox: GraphSandbox;
  pinStore: PinStore;
  vault: VaultClient;
  deps: ActivityDeps;
  codecKeyring: Keyring;
  vaultPrefix: string;
  /**
   * Builds workers and runs them (a test may start several, one after another). The harness owns
   * them: close() shuts down every one still running and waits until each has stopped.
   */
  startWorkers(overrides?: WorkerOverrides): Promise<OnboardingWorkers>;
  client: Client;
  nativeConnection: NativeConnection;
  close(): Promise<void>;
}

/**
 * Real clients for the activities: the PIN store under `vaultPrefix` on an OpenBao (the run's dev
 * server unless given), the Graph client on a sandbox, a fresh sealing key.
 */
export function localActivityDeps(opts: {
  graphUrl: string;
  vaultPrefix: string;
  vault?: { address: string; token: string };
  sealingKeyring?: Keyring;
}): { vault: VaultClient; pinStore: PinStore; deps: ActivityDeps } {
  const vault = createVaultClient({
    address: opts.vault?.address ?? inject('vaultAddress'),
    auth: { kind: 'token', token: opts.vault?.token ?? inject('vaultRootToken') },
    timeoutMs: 5_000,
  });
  const pinStore = createPinStore({ vault, mount: 'secret', prefix: opts.vaultPrefix });
  const deps: ActivityDeps = {
    sealingKeyring: opts.sealingKeyring ?? testKeyring('sealing-test'),
    vault: pinStore,
    graph: createGraphClient({
      baseUrl: opts.graphUrl,
      apiVersion: 'v25.0',
      accessToken: TEST_GRAPH_TOKEN,
      headersTimeoutMs: 2_000,
      bodyTimeoutMs: 2_000,
    }),
  };
  return { vault, pinStore, deps };
}

export interface WorkerOverrides {
  graphMaxRequestsPerSecond?: number;
  deps?: Partial<ActivityDeps>;
  dataConverter?: DataConverter;
  graphBudget?: GraphBudget;
}

export async function startOnboardingHarness(opts: {
  namespace: TestNamespace;
  sandbox?: GraphSandboxOptions;
}): Promise<OnboardingHarness> {
  const sandbox = await startGraphSandbox({ accessToken: TEST_GRAPH_TOKEN, ...opts.sandbox });
  const vaultPrefix = `test/${opts.namespace}/${randomBytes(4).toString('hex')}`;
  const { vault, pinStore, deps } = localActivityDeps({ graphUrl: sandbox.url, vaultPrefix });
  const codecKeyring = testKeyring('codec-test');
  const dataConverter = createDataConverter(codecKeyring);
  const address = inject('temporalAddress');
  const [nativeConnection, connection, workflowBundleBuilt] = await Promise.all([
    NativeConnection.connect({ address }),
    Connection.connect({ address }),
    workflowBundle(),
  ]);
  const client = new Client({ connection, namespace: opts.namespace, dataConverter });
  const started: Array<{ workers: OnboardingWorkers; running: Promise<void> }> = [];
  return {
    sandbox,
    pinStore,
    vault,
    deps,
    codecKeyring,
    vaultPrefix,
    client,
    nativeConnection,
    async startWorkers(overrides) {
      const workers = await createOnboardingWorkers({
        connection: nativeConnection,
        namespace: opts.namespace,
        deps: { ...deps, ...overrides?.deps },
        graphMaxRequestsPerSecond: overrides?.graphMaxRequestsPerSecond ?? 1_000,
        graphBudget: overrides?.graphBudget,
        dataConverter: overrides?.dataConverter ?? dataConverter,
        workflowBundle: workflowBundleBuilt,
      });
      started.push({ workers, running: workers.run() });
      return workers;
    },
    async close() {
      for (const { workers } of started) workers.shutdown();
      await Promise.allSettled(started.map(({ running }) => running));
      await Promise.allSettled([sandbox.close(), connection.close(), nativeConnection.close()]);
    },
  };
}

/** Distinct, realistic phone-number ids per test run (Meta's are 15-16 digit numbers). */
export function phoneNumberIds(count: number): string[] {
  const base = 100_000_000_000_000 + Math.floor(Math.random() * 1e12) * 1_000;
  return Array.from({ length: count }, (_, i) => String(base + i));
}

/**
 * The harness of a whole test file, its workers running: started before the file's first test,
 * closed after its last. The object it returns stands for the harness inside tests and hooks
 * (reading it at the top level of the file, before the start, throws).
 */
export function onboardingHarnessForFile(
  opts: Parameters<typeof startOnboardingHarness>[0],
): OnboardingHarness {
  let harness: OnboardingHarness | undefined;
  beforeAll(async () => {
    harness = await startOnboardingHarness(opts);
    await harness.startWorkers();
  });
  afterAll(async () => {
    await harness?.close();
  });
  return new Proxy({} as OnboardingHarness, {
    get(_target, key) {
      if (!harness) throw new Error(`the ${opts.namespace} harness is read before its beforeAll started it`);
      // Reflect.get: the harness's methods are closures, read off it like any other field.
      return Reflect.get(harness, key) as unknown;
    },
  });
}
