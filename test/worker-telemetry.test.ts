// What a platform team sees of a real worker process: its Prometheus endpoint (the SDK's exporter,
// with the product's counters and histograms next to the SDK's own) and its log lines, one JSON
// object each. The worker runs as `npm run worker` does, against the dev server, OpenBao and the
// Graph sandbox; the batch has happy numbers first, then a Graph 190 and two kinds of throttle.
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateKeyringValue } from '../src/crypto/keyring';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { freePort } from '../src/local-stack/processes';
import { counterSeries, PRODUCT_METRICS } from '../src/metrics/metric-names';
import {
  ONBOARDING_TASK_QUEUE,
  WORKFLOW_TYPE,
  workflowIdFor,
  type RegisterNumberResult,
} from '../src/workflows/messages';
import type { TestNamespace } from './support/namespaces';
import { phoneNumberIds } from './support/onboarding-harness';
import type { CapturedProcess } from './support/process-runner';
import { parseExposition, seriesValue, type Sample } from './support/prometheus-text';
import { waitForStage } from './support/workflow-polling';
import { connectCodecClient, startWorkerProcess } from './support/worker-process';

const NAMESPACE: TestNamespace = 'telemetry';
const graphToken = `graph-token-${randomBytes(8).toString('hex')}`;
const codecKeys = generateKeyringValue('codec-telemetry');
const happy = phoneNumberIds(4);
const [expired, throttled, announced] = phoneNumberIds(3);

let sandbox: GraphSandbox;
let worker: CapturedProcess;
let connection: Connection;
let client: Client;
let metricsUrl: string;
/** Log output after the happy batch alone, and the scrape then. */
let happyLog = '';
let happyScrape: Sample[] = [];
let finalScrape: Sample[] = [];
let finalText = '';
const pins: string[] = [];

async function scrape(): Promise<string> {
  const res = await request(metricsUrl);
  expect(res.statusCode).toBe(200);
  return res.body.text();
}

/** Counters show up on the endpoint a moment after the activity or workflow task that made them. */
async function scrapeUntil(done: (samples: Sample[]) => boolean, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await scrape();
    if (done(parseExposition(text)) || Date.now() > deadline) return text;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function onboard(phoneNumberId: string) {
  return client.workflow.start(WORKFLOW_TYPE, {
    taskQueue: ONBOARDING_TASK_QUEUE,
    workflowId: workflowIdFor(phoneNumberId),
    args: [
      {
        phoneNumberId,
        tenant: 'acme',
        retrySchedules: {
          graph: { initialInterval: '200ms', backoffCoefficient: 1, maximumInterval: '200ms' },
        },
      },
    ],
  });
}

beforeAll(async () => {
  sandbox = await startGraphSandbox({
    accessToken: graphToken,
    scenarios: {
      [expired!]: { kind: 'expiredToken' },
      [throttled!]: { kind: 'throttled', code: 80007, times: 2, regainAccessMinutes: 0 },
      // Meta says "one minute": the test reads the metrics, it does not wait that minute out.
      [announced!]: { kind: 'throttled', code: 80007, times: 1, regainAccessMinutes: 1 },
    },
  });
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  worker = startWorkerProcess({
    namespace: NAMESPACE,
    graphBaseUrl: sandbox.url,
    graphToken,
    codecKeys,
    env: { METRICS_BIND_ADDRESS: `127.0.0.1:${port}`, LOG_FORMAT: 'json', LOG_LEVEL: 'INFO' },
  });
  await worker.waitForLine(/worker: ready/, 90_000);
  ({ connection, client } = await connectCodecClient(NAMESPACE, codecKeys));

  const happyRuns = await Promise.all(happy.map(onboard));
  for (const run of happyRuns)
    expect(((await run.result()) as RegisterNumberResult).outcome).toBe('Completed');
  const happyText = await scrapeUntil(
    (s) => seriesValue(s, counterSeries(PRODUCT_METRICS.finished.name), { outcome: 'Completed' }) >= 4,
  );
  happyScrape = parseExposition(happyText);
  happyLog = worker.stderr() + worker.stdout();

  const failing = await Promise.all([expired!, throttled!, announced!].map(onboard));
  expect(((await failing[1]!.result()) as RegisterNumberResult).outcome).toBe('Completed');
  await waitForStage(client, expired!, 'AwaitingManualReset');
  finalText = await scrapeUntil(
    (s) =>
      seriesValue(s, counterSeries(PRODUCT_METRICS.parked.name), { failure_type: 'GraphAuthError' }) >= 1 &&
      seriesValue(s, `${PRODUCT_METRICS.graphAnnouncedWait.name}_count`) >= 1,
  );
  finalScrape = parseExposition(finalText);
  for (const id of [...happy, throttled!]) pins.push(sandbox.pinOf(id) ?? '');
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  await connection?.close();
  await sandbox?.close();
});

describe('the worker metrics endpoint', () => {
  it('lists the product metrics with non-zero values after a happy batch', () => {
    const v = (name: string, labels: Record<string, string> = {}) => seriesValue(happyScrape, name, labels);
    expect(v(counterSeries(PRODUCT_METRICS.started.name))).toBe(4);
    expect(v(counterSeries(PRODUCT_METRICS.finished.name), { outcome: 'Completed' })).toBe(4);
    expect(v(`${PRODUCT_METRICS.duration.name}_count`, { outcome: 'Completed' })).toBe(4);
    expect(v(`${PRODUCT_METRICS.duration.name}_sum`, { outcome: 'Completed' })).toBeGreaterThan(0);
    const graphOk = (activity_type: string) =>
      v(counterSeries(PRODUCT_METRICS.graphRequests.name), {
        activity_type,
        outcome: 'success',
        status: '2xx',
      });
    expect(graphOk('setTwoStepPin')).toBe(4);
    // register: auto (the default) reads each number once; all four are on Cloud API already.
    expect(graphOk('lookUpRegistration')).toBe(4);
    expect(graphOk('registerPhoneNumber')).toBe(0);
    // The SDK's own worker metrics are on the same endpoint (task-queue latencies feed the alerts).
    expect(happyScrape.some((s) => s.name === 'temporal_activity_schedule_to_start_latency_bucket')).toBe(
      true,
    );
  });

  it('counts a Graph 190 as an auth failure with its HTTP status, and the number entering AwaitingManualReset', () => {
    const v = (name: string, labels: Record<string, string>) => seriesValue(finalScrape, name, labels);
    expect(
      v(counterSeries(PRODUCT_METRICS.graphRequests.name), { outcome: 'GraphAuthError', status: '401' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      v(counterSeries(PRODUCT_METRICS.parked.name), {
        failure_type: 'GraphAuthError',
        step: 'setTwoStepPin',
      }),
    ).toBe(1);
  });

  it("counts Meta's throttling, with the wait Meta announced", () => {
    const v = (name: string, labels: Record<string, string>) => seriesValue(finalScrape, name, labels);
    expect(v(counterSeries(PRODUCT_METRICS.graphRequests.name), { outcome: 'GraphThrottled' })).toBe(3);
    expect(v(counterSeries(PRODUCT_METRICS.graphThrottled.name), { announced: 'false' })).toBe(2);
    expect(v(counterSeries(PRODUCT_METRICS.graphThrottled.name), { announced: 'true' })).toBe(1);
    expect(v(`${PRODUCT_METRICS.graphAnnouncedWait.name}_sum`, {})).toBe(60);
    expect(v(`${PRODUCT_METRICS.graphAnnouncedWait.name}_bucket`, { le: '60' })).toBe(1);
    expect(v(`${PRODUCT_METRICS.graphAnnouncedWait.name}_bucket`, { le: '0' })).toBe(0);
    expect(v(counterSeries(PRODUCT_METRICS.finished.name), { outcome: 'Completed' })).toBe(5);
  });

  it('carries no phone number id, PIN or token, in any series or label', () => {
    for (const id of [...happy, expired!, throttled!, announced!]) expect(finalText).not.toContain(id);
    expect(pins.every((p) => /^\d{6}$/.test(p))).toBe(true);
    for (const pin of pins) expect(finalText).not.toMatch(new RegExp(`(?<![0-9.])${pin}(?![0-9])`));
    expect(finalText).not.toContain(graphToken);
    expect(finalText).not.toContain(inject('vaultRootToken'));
  });
});

describe('the worker log with LOG_FORMAT=json', () => {
  it('prints only JSON objects with time, level and message during the happy path', () => {
    const lines = happyLog.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(4);
    for (const line of lines) {
      let parsed: unknown;
      expect(() => {
        parsed = JSON.parse(line) as unknown;
      }, line).not.toThrow();
      const entry = parsed as Record<string, unknown>;
      expect(typeof entry.time === 'string' && !Number.isNaN(Date.parse(entry.time)), line).toBe(true);
      expect(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).toContain(entry.level);
      expect(typeof entry.message, line).toBe('string');
    }
    // The activities' structured fields stay fields.
    const stored = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.message === 'PIN stored as pending');
    expect(stored).toMatchObject({ level: 'INFO', activityType: 'storePinInVault' });
    expect(typeof stored?.version).toBe('number');
  });
});
