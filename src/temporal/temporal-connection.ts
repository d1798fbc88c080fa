// Where Temporal is, by the @temporalio/envconfig conventions (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and the TOML file);
// the embedded local stack when nothing is set.
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { ConfigError, type Env } from '../config/env-reader';
import { CodedError } from '../cli/coded-error';

export const LOCAL_TEMPORAL_ADDRESS = '127.0.0.1:7233';

export interface TemporalSettings {
  address: string;
  namespace: string;
  connectionOptions: ConnectionOptions;
}

export function loadTemporalSettings(env: Env): TemporalSettings {
  const overrideEnvVars = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  let config: ReturnType<typeof loadClientConnectConfig>;
  try {
    config = loadClientConnectConfig({ overrideEnvVars });
  } catch (err) {
    throw new ConfigError(
      'TEMPORAL_CONFIG_FILE / TEMPORAL_*',
      `could not be read: ${(err as Error).message}`,
    );
  }
  const address = config.connectionOptions.address ?? LOCAL_TEMPORAL_ADDRESS;
  if (!/^[^\s:/]+(:\d{1,5})?$/.test(address) && !/^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(address)) {
    throw new ConfigError('TEMPORAL_ADDRESS', `must be host:port (got "${address}")`);
  }
  return {
    address,
    namespace: config.namespace ?? 'default',
    connectionOptions: { ...config.connectionOptions, address },
  };
}

/** Turns a failure to reach Temporal into one line an operator can act on. */
export class TemporalUnreachableError extends CodedError<'TEMPORAL_UNREACHABLE'> {
  constructor(address: string, cause: unknown) {
    super(
      'TEMPORAL_UNREACHABLE',
      `cannot reach Temporal at ${address} (${(cause as Error).message?.split('\n')[0] ?? String(cause)}): ` +
        'start the local stack with "npm run stack" or set TEMPORAL_ADDRESS',
      { cause },
    );
  }
}

export async function connectClient(
  settings: TemporalSettings,
  dataConverter?: DataConverter,
): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ connectTimeout: 5_000, ...settings.connectionOptions });
    await connection.workflowService.getSystemInfo({});
  } catch (err) {
    throw new TemporalUnreachableError(settings.address, err);
  }
  return new Client({ connection, namespace: settings.namespace, dataConverter });
}
