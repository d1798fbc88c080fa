// A real Prometheus for tests (Debian's package, installed by scripts/install-prometheus.mjs):
// its own port and data directory, short scrape and evaluation intervals, the project's rules.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort, spawnManaged, waitUntil } from '../../src/local-stack/processes';

export interface PrometheusAlertRule {
  name: string;
  state: 'inactive' | 'pending' | 'firing';
  alerts: { labels: Record<string, string>; state: string; value: string }[];
}

export interface PrometheusServer {
  readonly url: string;
  /** An instant query; throws on a PromQL error. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  alertRules(): Promise<PrometheusAlertRule[]>;
  targetsHealth(): Promise<string[]>;
  stop(): Promise<void>;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await request(url);
  const body = (await res.body.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success')
    throw new Error(`Prometheus refused ${url}: ${body.error ?? res.statusCode}`);
  return body.data;
}

export async function startPrometheus(opts: {
  rulesFile: string;
  /** host:port of each /metrics endpoint, scraped as job whatsapp-onboarding-worker. */
  targets: string[];
  intervalSeconds?: number;
  logFile?: string;
}): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-test-'));
  const interval = `${opts.intervalSeconds ?? 1}s`;
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
      rule_files: [opts.rulesFile],
      scrape_configs: [
        { job_name: 'whatsapp-onboarding-worker', static_configs: [{ targets: opts.targets }] },
      ],
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawnManaged({
    name: 'prometheus',
    command: 'prometheus',
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    logFile: opts.logFile,
  });
  const stop = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      'prometheus',
      proc,
      async () => {
        const res = await request(`${url}/-/ready`);
        await res.body.dump();
        return res.statusCode === 200;
      },
      30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    async query(expr) {
      const data = await getJson<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
        `${url}/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      return data.result;
    },
    async alertRules() {
      const data = await getJson<{ groups: { rules: (PrometheusAlertRule & { type: string })[] }[] }>(
        `${url}/api/v1/rules?type=alert`,
      );
      return data.groups.flatMap((g) => g.rules);
    },
    async targetsHealth() {
      const data = await getJson<{ activeTargets: { health: string }[] }>(`${url}/api/v1/targets`);
      return data.activeTargets.map((t) => t.health);
    },
    stop,
  };
}
