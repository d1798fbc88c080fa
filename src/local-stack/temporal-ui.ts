// The Temporal Web UI as its own server, pointed at a Temporal frontend that is not its own: the
// UI server built from github.com/temporalio/ui-server (the version the CLI's dev server embeds),
// run as the temporalio/ui image runs it (`ui-server --env docker start` over the image's
// config/docker.yaml template), with the compose file's `temporal-ui` environment.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { assertPortFree, spawnManaged, waitUntil, type ManagedProcess } from './processes';
import { productionBinary, uiConfigTemplate } from './production-binaries';

export interface TemporalUiOptions {
  port: number;
  temporalAddress: string;
  namespace: string;
  /** The codec server the browser calls to decode payloads. */
  codecEndpoint?: string;
  /** Where its config folder is written. */
  dataDir: string;
  logFile?: string;
}

export interface TemporalUiServer extends ManagedProcess {
  readonly url: string;
}

/** The compose file's `temporal-ui` environment, for this host. */
export function temporalUiEnvironment(opts: TemporalUiOptions): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: opts.temporalAddress,
    TEMPORAL_DEFAULT_NAMESPACE: opts.namespace,
    ...(opts.codecEndpoint
      ? { TEMPORAL_CODEC_ENDPOINT: opts.codecEndpoint, TEMPORAL_CODEC_INCLUDE_CREDENTIALS: 'true' }
      : {}),
    TEMPORAL_UI_PORT: String(opts.port),
    // No internet here: the browser would only fail to fetch the news feed.
    TEMPORAL_DISABLE_NEWS_FETCH: 'true',
  };
}

export async function startTemporalUi(opts: TemporalUiOptions): Promise<TemporalUiServer> {
  await assertPortFree(opts.port, 'Temporal Web UI');
  const configDir = join(opts.dataDir, 'config');
  mkdirSync(configDir, { recursive: true });
  copyFileSync(uiConfigTemplate(), join(configDir, 'docker.yaml'));
  // base.yaml is read before docker.yaml, which sets no host: the image listens on every
  // interface of its container, this one on loopback only.
  writeFileSync(join(configDir, 'base.yaml'), 'host: 127.0.0.1\n');
  const proc = spawnManaged({
    name: 'temporal-ui',
    command: productionBinary('temporal-ui-server'),
    args: ['--root', opts.dataDir, '--config', 'config', '--env', 'docker', 'start'],
    env: { ...process.env, ...temporalUiEnvironment(opts) },
    logFile: opts.logFile,
  });
  const url = `http://127.0.0.1:${opts.port}`;
  await waitUntil(
    'the Temporal Web UI',
    proc,
    async () => {
      // The namespaces call goes through to the frontend: the UI is up and pointed right.
      const res = await request(`${url}/api/v1/namespaces`, { headersTimeout: 2_000, bodyTimeout: 2_000 });
      const body = await res.body.text();
      return res.statusCode === 200 && body.includes(`"${opts.namespace}"`);
    },
    30_000,
  );
  return Object.assign(proc, { url });
}
