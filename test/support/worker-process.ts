// The real worker CLI (src/worker.ts) as a child process for tests that watch what it prints or
// serves: its environment is built here from the run's servers and nothing else.
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import { createDataConverter } from '../../src/codec/data-converter';
import { generateKeyringValue, parseKeyring } from '../../src/crypto/keyring';
import type { TestNamespace } from './namespaces';
import { runTsx, type CapturedProcess } from './process-runner';

export interface WorkerProcessOptions {
  name?: string;
  namespace: TestNamespace;
  graphBaseUrl: string;
  graphToken: string;
  /** Where the worker keeps PINs; a fresh folder of the namespace unless given. */
  vaultPrefix?: string;
  /** PAYLOAD_CODEC_KEYS, shared with the test's client. */
  codecKeys: string;
  /** Environment that replaces or adds to the defaults (e.g. METRICS_BIND_ADDRESS, LOG_FORMAT). */
  env?: Record<string, string>;
}

export function workerEnv(opts: WorkerProcessOptions): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_NAMESPACE: opts.namespace,
    VAULT_ADDR: inject('vaultAddress'),
    VAULT_TOKEN: inject('vaultRootToken'),
    VAULT_PIN_PREFIX: opts.vaultPrefix ?? `test/${opts.namespace}/${randomBytes(4).toString('hex')}`,
    GRAPH_BASE_URL: opts.graphBaseUrl,
    GRAPH_ACCESS_TOKEN: opts.graphToken,
    PIN_SEALING_KEYS: generateKeyringValue(`seal-${randomBytes(3).toString('hex')}`),
    PAYLOAD_CODEC_KEYS: opts.codecKeys,
    ...opts.env,
  };
}

export function startWorkerProcess(opts: WorkerProcessOptions): CapturedProcess {
  return runTsx({ name: opts.name ?? 'worker', script: 'src/worker.ts', env: workerEnv(opts) });
}

/** A client of the run's dev server in `namespace`, with the worker's payload codec keys. */
export async function connectCodecClient(
  namespace: TestNamespace,
  codecKeys: string,
): Promise<{ connection: Connection; client: Client }> {
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const client = new Client({
    connection,
    namespace,
    dataConverter: createDataConverter(parseKeyring('PAYLOAD_CODEC_KEYS', codecKeys)),
  });
  return { connection, client };
}
