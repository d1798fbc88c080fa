// The alert rules on a real Prometheus scraping a real worker: the worker runs as `npm run worker`
// does (dev server, OpenBao, the Graph sandbox), Prometheus scrapes it every second with
// deploy/prometheus-rules.yml loaded, and a number whose token Meta rejects (Graph code 190) turns
// the parked-numbers alert from inactive to firing. The dashboard's queries run there too.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateKeyringValue } from '../src/crypto/keyring';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { freePort } from '../src/local-stack/processes';
import { ONBOARDING_TASK_QUEUE, WORKFLOW_TYPE, workflowIdFor } from '../src/workflows/messages';
import type { TestNamespace } from './support/namespaces';
import { phoneNumberIds } from './support/onboarding-harness';
import { PROJECT_ROOT, type CapturedProcess } from './support/process-runner';
import {
  startPrometheus,
  type PrometheusAlertRule,
  type PrometheusServer,
} from './support/prometheus-server';
import { waitForStage } from './support/workflow-polling';
import { connectCodecClient, startWorkerProcess } from './support/worker-process';

const NAMESPACE: TestNamespace = 'prometheus';
const graphToken = `graph-token-${randomBytes(8).toString('hex')}`;
const codecKeys = generateKeyringValue('codec-prometheus');
const [happy, expired] = phoneNumberIds(2);

let sandbox: GraphSandbox;
let worker: CapturedProcess;
let prometheus: PrometheusServer;
let connection: Connection;
let client: Client;

async function rule(name: string): Promise<PrometheusAlertRule> {
  const found = (await prometheus.alertRules()).find((r) => r.name === name);
  if (!found) throw new Error(`Prometheus has no alert rule ${name}`);
  return found;
}

async function waitForRuleState(name: string, state: PrometheusAlertRule['state'], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await rule(name);
    if (current.state === state) return current;
    if (Date.now() > deadline) throw new Error(`${name} stayed ${current.state}, expected ${state}`);
    await sleep(250);
  }
}

function onboard(phoneNumberId: string) {
  return client.workflow.start(WORKFLOW_TYPE, {
    taskQueue: ONBOARDING_TASK_QUEUE,
    workflowId: workflowIdFor(phoneNumberId),
    args: [{ phoneNumberId }],
  });
}

beforeAll(async () => {
  sandbox = await startGraphSandbox({
    accessToken: graphToken,
    scenarios: { [expired!]: { kind: 'expiredToken' } },
  });
  const metricsPort = await freePort();
  worker = startWorkerProcess({
    namespace: NAMESPACE,
    graphBaseUrl: sandbox.url,
    graphToken,
    codecKeys,
    env: { METRICS_BIND_ADDRESS: `127.0.0.1:${metricsPort}`, LOG_LEVEL: 'WARN' },
  });
  prometheus = await startPrometheus({
    rulesFile: join(PROJECT_ROOT, 'deploy', 'prometheus-rules.yml'),
    targets: [`127.0.0.1:${metricsPort}`],
    logFile: join(inject('logDir'), 'prometheus-alerts.log'),
  });
  await worker.waitForLine(/worker: ready/, 90_000);
  ({ connection, client } = await connectCodecClient(NAMESPACE, codecKeys));
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await worker?.stop();
  await connection?.close();
  await sandbox?.close();
});

describe('deploy/prometheus-rules.yml on a real Prometheus', () => {
  it('scrapes the worker and loads every rule', async () => {
    const deadline = Date.now() + 20_000;
    while (!(await prometheus.targetsHealth()).includes('up') && Date.now() < deadline) await sleep(250);
    expect(await prometheus.targetsHealth()).toEqual(['up']);
    const rules = await prometheus.alertRules();
    expect(rules.map((r) => r.name)).toContain('OnboardingNumbersParked');
    expect(rules.every((r) => (r as { health?: string }).health !== 'err')).toBe(true);
  });

  it('sees the parked-numbers alert go from inactive to firing after a Graph 190', async () => {
    // A completed number first: the worker's metrics are live, and nothing parked yet.
    await (await onboard(happy!)).result();
    const seen = async () =>
      Number((await prometheus.query('sum(whatsapp_onboarding_finished_total)'))[0]?.value[1] ?? 0);
    const deadline = Date.now() + 20_000;
    while ((await seen()) < 1 && Date.now() < deadline) await sleep(250);
    expect(await seen()).toBe(1);
    await sleep(2_000); // two evaluations with the completed number scraped
    expect((await rule('OnboardingNumbersParked')).state).toBe('inactive');

    await onboard(expired!);
    await waitForStage(client, expired!, 'AwaitingManualReset');
    const firing = await waitForRuleState('OnboardingNumbersParked', 'firing', 30_000);
    expect(firing.alerts).toHaveLength(1);
    expect(firing.alerts[0]?.state).toBe('firing');
    expect(firing.alerts[0]?.labels).toMatchObject({ failure_type: 'GraphAuthError', namespace: NAMESPACE });
    // The same 190 is a Graph auth failure, and it fires on its own.
    expect((await waitForRuleState('GraphAuthFailures', 'firing', 10_000)).alerts[0]?.labels).toMatchObject({
      outcome: 'GraphAuthError',
    });
    expect((await rule('VaultSealed')).state).toBe('inactive');
  });

  it('answers every query of the Grafana dashboard (deploy/grafana-dashboard.json)', async () => {
    const dashboard = JSON.parse(
      readFileSync(join(PROJECT_ROOT, 'deploy', 'grafana-dashboard.json'), 'utf8'),
    ) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
    );
    expect(exprs.length).toBeGreaterThan(15);
    // rate() and increase() need a few samples of the parked counter, which only just appeared.
    const samples = async () =>
      Number(
        (await prometheus.query('count_over_time(whatsapp_onboarding_parked_total[1m])'))[0]?.value[1] ?? 0,
      );
    const deadline = Date.now() + 10_000;
    while ((await samples()) < 3 && Date.now() < deadline) await sleep(250);
    const withData: string[] = [];
    for (const { panel, expr } of exprs) {
      // Grafana's variables, as Grafana would substitute them.
      const concrete = expr.replaceAll('$namespace', NAMESPACE).replaceAll('$__range', '5m');
      const result = await prometheus.query(concrete).catch((err: Error) => {
        throw new Error(`panel "${panel}": ${err.message}`);
      });
      if (result.length > 0) withData.push(panel);
    }
    // The product's own panels have data after this run (a completed and a parked number).
    expect(withData).toEqual(
      expect.arrayContaining([
        'Started (range)',
        'Completed (range)',
        'Parked (range)',
        'Entering AwaitingManualReset per hour, by failure type',
        'End-to-end onboarding time',
        'Graph calls per second, by outcome and HTTP status',
        'Activity schedule-to-start p95, by task queue',
        'Workers up',
      ]),
    );
  });
});
