// Each activity's retry schedule, observed on Temporal's time-skipping test server against the
// real OpenBao and the Graph sandbox: attempt counts and the spacing between attempts, in the
// server's (skipped) time, as each activity saw its own attempt being scheduled.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  activitiesByTaskQueue,
  createActivities,
  type ActivityDeps,
  type GraphApi,
  type PinVault,
} from '../src/activities';
import { createGraphClient } from '../src/graph/graph-client';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { startOpenBaoPersistent, type PersistentOpenBaoServer } from '../src/local-stack/openbao-persistent';
import { freePort } from '../src/local-stack/processes';
import { createPinStore } from '../src/vault/pin-store';
import { createVaultClient } from '../src/vault/vault-client';
import {
  GRAPH_TASK_QUEUE,
  ONBOARDING_TASK_QUEUE,
  WORKFLOW_TYPE,
  workflowIdFor,
  type RegisterNumberResult,
} from '../src/workflows/messages';
import { phoneNumberIds, TEST_GRAPH_TOKEN, testKeyring, workflowBundle } from './support/onboarding-harness';

interface Attempt {
  attempt: number;
  scheduledAtMs: number;
}

let env: TestWorkflowEnvironment;
let sandbox: GraphSandbox;
let bao: PersistentOpenBaoServer;
let baoDir: string;
let vault: PinVault;
let graph: GraphApi;
const attempts = new Map<string, Attempt[]>();

/**
 * Notes each attempt with the test server's (skipped) clock, then lets the real call through.
 * (The test server stamps currentAttemptScheduledTime when a retry is scheduled, not when it
 * is due, so the server's own clock is the honest measure of the spacing.)
 */
async function recorded(key: string): Promise<void> {
  const info = Context.current().info;
  const list = attempts.get(key) ?? [];
  list.push({ attempt: info.attempt, scheduledAtMs: await env.currentTimeMs() });
  attempts.set(key, list);
}

const gapsSeconds = (list: Attempt[]) =>
  list.slice(1).map((a, i) => (a.scheduledAtMs - (list[i]?.scheduledAtMs ?? 0)) / 1000);

beforeAll(async () => {
  baoDir = mkdtempSync(join(tmpdir(), 'bao-schedules-'));
  [env, sandbox, bao] = await Promise.all([
    TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: inject('timeSkippingServerPath') } },
    }),
    startGraphSandbox({ accessToken: TEST_GRAPH_TOKEN }),
    freePort().then((port) => startOpenBaoPersistent({ port, dataDir: baoDir })),
  ]);
  // The time-skipping server starts with no custom search attributes; the product needs its one.
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: { OnboardingStatus: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
  });
  const vaultClient = createVaultClient({
    address: bao.address,
    auth: { kind: 'token', token: bao.rootToken },
    timeoutMs: 5_000,
  });
  vault = createPinStore({
    vault: vaultClient,
    mount: 'secret',
    prefix: `schedules/${randomBytes(3).toString('hex')}`,
  });
  graph = createGraphClient({
    baseUrl: sandbox.url,
    apiVersion: 'v25.0',
    accessToken: TEST_GRAPH_TOKEN,
    headersTimeoutMs: 2_000,
    bodyTimeoutMs: 2_000,
  });
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([env?.teardown(), sandbox?.close(), bao?.stop()]);
  rmSync(baoDir, { recursive: true, force: true });
});

async function runOne(phoneNumberId: string, deps: ActivityDeps): Promise<RegisterNumberResult> {
  const byQueue = activitiesByTaskQueue(createActivities(deps));
  const bundle = await workflowBundle();
  const [onboarding, graphWorker] = await Promise.all([
    Worker.create({
      connection: env.nativeConnection,
      taskQueue: ONBOARDING_TASK_QUEUE,
      workflowBundle: bundle,
      activities: byQueue[ONBOARDING_TASK_QUEUE],
    }),
    Worker.create({
      connection: env.nativeConnection,
      taskQueue: GRAPH_TASK_QUEUE,
      activities: byQueue[GRAPH_TASK_QUEUE],
    }),
  ]);
  return graphWorker.runUntil(
    onboarding.runUntil(
      env.client.workflow.execute(WORKFLOW_TYPE, {
        taskQueue: ONBOARDING_TASK_QUEUE,
        workflowId: workflowIdFor(phoneNumberId),
        args: [{ phoneNumberId }],
      }) as Promise<RegisterNumberResult>,
    ),
  );
}

describe('retry schedules on the time-skipping server', { timeout: 120_000 }, () => {
  it('storePinInVault waits out a sealed vault: 5 s, 10 s, 20 s apart, then stores', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    await bao.seal();
    let calls = 0;
    const sealedForAWhile: PinVault = {
      ...vault,
      storePin: async (record) => {
        await recorded('vault');
        calls += 1;
        // Three attempts meet the sealed vault; an operator unseals it before the fourth.
        if (calls === 4) await bao.unseal();
        return vault.storePin(record);
      },
      readPin: (r) => vault.readPin(r),
      markActive: (r) => vault.markActive(r),
    };
    const result = await runOne(phoneNumberId, {
      sealingKeyring: testKeyring('s'),
      vault: sealedForAWhile,
      graph,
    });
    expect(result.outcome).toBe('Completed');
    const list = attempts.get('vault')!;
    expect(list.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);
    const gaps = gapsSeconds(list);
    expect(gaps[0]).toBeGreaterThanOrEqual(5);
    expect(gaps[0]).toBeLessThan(10);
    expect(gaps[1]).toBeGreaterThanOrEqual(10);
    expect(gaps[2]).toBeGreaterThanOrEqual(20);
    expect(sandbox.pinOf(phoneNumberId)).toBe(
      await vault.readPin({ phoneNumberId, version: result.vault!.version }),
    );
  });

  it('setTwoStepPin honours Meta throttling: code 4 with a one-minute wait is retried no sooner than 60 s later', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    sandbox.setScenario(phoneNumberId, { kind: 'throttled', code: 4, regainAccessMinutes: 1, times: 1 });
    const result = await runOne(phoneNumberId, {
      sealingKeyring: testKeyring('s'),
      vault,
      graph: { setTwoStepPin: async (input) => (await recorded('throttled'), graph.setTwoStepPin(input)) },
    });
    expect(result.outcome).toBe('Completed');
    const list = attempts.get('throttled')!;
    expect(list.map((a) => a.attempt)).toEqual([1, 2]);
    expect(gapsSeconds(list)[0]).toBeGreaterThanOrEqual(60);
    // Meta's wait replaced the 30 s backoff, it was not added to it.
    expect(gapsSeconds(list)[0]).toBeLessThan(90);
  });

  it('setTwoStepPin retries a Graph 500 after the 30 s initial interval, then succeeds', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    sandbox.setScenario(phoneNumberId, { kind: 'serverError', code: 131000, times: 2 });
    const result = await runOne(phoneNumberId, {
      sealingKeyring: testKeyring('s'),
      vault,
      graph: { setTwoStepPin: async (input) => (await recorded('server-error'), graph.setTwoStepPin(input)) },
    });
    expect(result.outcome).toBe('Completed');
    const list = attempts.get('server-error')!;
    expect(list.map((a) => a.attempt)).toEqual([1, 2, 3]);
    const [first, second] = gapsSeconds(list);
    expect(first).toBeGreaterThanOrEqual(30);
    expect(first).toBeLessThan(60);
    expect(second).toBeGreaterThanOrEqual(60);
    expect(sandbox.numberState(phoneNumberId).posts).toBe(3);
  });

  it('generatePin gives up after 5 attempts 1, 2, 4, 8 s apart, and the parked number is abandoned at the deadline', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    // A sealing key that cannot be used: what a broken worker key looks like.
    const brokenKeyring = {
      ...testKeyring('s'),
      encrypt: () => {
        throw new Error('sealing key unavailable');
      },
    };
    const activities = createActivities({ sealingKeyring: brokenKeyring, vault, graph });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: ONBOARDING_TASK_QUEUE,
      workflowBundle: await workflowBundle(),
      activities: {
        ...activitiesByTaskQueue(activities)[ONBOARDING_TASK_QUEUE],
        generatePin: async (input: Parameters<typeof activities.generatePin>[0]) => {
          await recorded('generate');
          return activities.generatePin(input);
        },
      },
    });
    const handle = await env.client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: ONBOARDING_TASK_QUEUE,
      workflowId: workflowIdFor(phoneNumberId),
      args: [{ phoneNumberId, manualResetDeadline: '1 day' }],
    });
    const result = (await worker.runUntil(handle.result())) as RegisterNumberResult;
    // Nobody acted within the (skipped) day: the workflow ends Abandoned, with the reason.
    expect(result.outcome).toBe('Abandoned');
    expect(result.reason).toMatch(/sealing key unavailable/);
    const list = attempts.get('generate')!;
    expect(list.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5]);
    const gaps = gapsSeconds(list);
    [1, 2, 4, 8].forEach((expected, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(expected);
      expect(gaps[i]).toBeLessThan(expected * 2);
    });
  });
});
