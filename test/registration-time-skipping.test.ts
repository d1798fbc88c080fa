// Registration's waits, observed on Temporal's time-skipping test server with the real activities,
// the run's OpenBao and the Graph sandbox: Meta's 133016 waited out with a durable timer, 133015's
// five minutes, the product's own budget refusing an 11th call, and a PIN mismatch parking after
// exactly one /register call. Times are the server's (skipped) clock, noted as each call went out.
import { randomBytes } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { activitiesByTaskQueue, createActivities, type GraphApi } from '../src/activities';
import { createGraphClient } from '../src/graph/graph-client';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { formatCalls, REGISTRATION_WINDOW_MS } from '../src/registration/registration-budget';
import { createPinStore, type PinStore } from '../src/vault/pin-store';
import { createVaultClient, type VaultClient } from '../src/vault/vault-client';
import {
  GRAPH_TASK_QUEUE,
  ONBOARDING_TASK_QUEUE,
  statusQuery,
  WORKFLOW_TYPE,
  workflowIdFor,
  type RegisterNumberInput,
  type RegisterNumberResult,
  type RegisterNumberStatus,
} from '../src/workflows/messages';
import { phoneNumberIds, TEST_GRAPH_TOKEN, testKeyring, workflowBundle } from './support/onboarding-harness';

const HOUR = 3_600_000;

let env: TestWorkflowEnvironment;
let sandbox: GraphSandbox;
let vaultClient: VaultClient;
let pinStore: PinStore;
let workers: Worker[] = [];
let running: Promise<unknown>;
const prefix = `registration-ts/${randomBytes(4).toString('hex')}`;
/** Server time of every /register request, per number. */
const registerCalls = new Map<string, number[]>();

beforeAll(async () => {
  [env, sandbox] = await Promise.all([
    TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: inject('timeSkippingServerPath') } },
    }),
    startGraphSandbox({ accessToken: TEST_GRAPH_TOKEN }),
  ]);
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: { OnboardingStatus: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
  });
  vaultClient = createVaultClient({
    address: inject('vaultAddress'),
    auth: { kind: 'token', token: inject('vaultRootToken') },
    timeoutMs: 5_000,
  });
  pinStore = createPinStore({ vault: vaultClient, mount: 'secret', prefix });
  const client = createGraphClient({
    baseUrl: sandbox.url,
    apiVersion: 'v25.0',
    accessToken: TEST_GRAPH_TOKEN,
    headersTimeoutMs: 2_000,
    bodyTimeoutMs: 2_000,
  });
  const graph: GraphApi = {
    ...client,
    registerPhoneNumber: async (input) => {
      const list = registerCalls.get(input.phoneNumberId) ?? [];
      list.push(await env.currentTimeMs());
      registerCalls.set(input.phoneNumberId, list);
      return client.registerPhoneNumber(input);
    },
  };
  const byQueue = activitiesByTaskQueue(
    createActivities({ sealingKeyring: testKeyring('sealing-ts'), vault: pinStore, graph }),
  );
  const bundle = await workflowBundle();
  workers = await Promise.all([
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
  running = Promise.all(workers.map((w) => w.run()));
}, 120_000);

afterAll(async () => {
  for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  await running?.catch(() => undefined);
  await Promise.allSettled([env?.teardown(), sandbox?.close(), vaultClient?.close()]);
});

function start(input: RegisterNumberInput) {
  return env.client.workflow.start(WORKFLOW_TYPE, {
    taskQueue: ONBOARDING_TASK_QUEUE,
    workflowId: workflowIdFor(input.phoneNumberId),
    args: [input],
  });
}

/** Polls the status query in real time (the server's clock stands still meanwhile). */
async function waitForStatus(
  phoneNumberId: string,
  done: (s: RegisterNumberStatus) => boolean,
): Promise<RegisterNumberStatus> {
  const handle = env.client.workflow.getHandle(workflowIdFor(phoneNumberId));
  for (let i = 0; i < 300; i++) {
    const status = await handle.query(statusQuery).catch(() => undefined);
    if (status && done(status)) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${phoneNumberId} never reached the expected status`);
}

const registerPaths = (id: string) =>
  sandbox.requests().filter((r) => r.method === 'POST' && r.path === `/v25.0/${id}/register`);

async function expectRegisteredWithVaultPin(id: string) {
  const active = await pinStore.readActivePin(id);
  expect(sandbox.numberState(id)).toMatchObject({ registered: true, pin: active?.pin });
}

describe('registration waits on the time-skipping server', { timeout: 120_000 }, () => {
  it('133016: waits out the 72-hour block with a durable timer, then registers without an operator', async () => {
    const [id] = phoneNumberIds(1) as [string];
    sandbox.setupNumber(id, { registered: false });
    sandbox.setScenario(id, { kind: 'registration', code: 133016, times: 1 });
    const result = (await (
      await start({ phoneNumberId: id, register: 'always' })
    ).result()) as RegisterNumberResult;
    expect(result, JSON.stringify(result)).toMatchObject({
      outcome: 'Completed',
      registration: 'registered',
    });
    const [first, second, ...more] = registerCalls.get(id) ?? [];
    expect(more).toEqual([]);
    expect(second! - first!).toBeGreaterThanOrEqual(REGISTRATION_WINDOW_MS);
    expect(second! - first!).toBeLessThan(REGISTRATION_WINDOW_MS + HOUR);
    expect(registerPaths(id).map((r) => r.graphCode ?? 200)).toEqual([133016, 200]);
    await expectRegisteredWithVaultPin(id);
  });

  it('133016 again after the wait: parks with the budget runbook, naming when the next call is allowed', async () => {
    const [id] = phoneNumberIds(1) as [string];
    sandbox.setupNumber(id, { registered: false });
    sandbox.setScenario(id, { kind: 'registration', code: 133016, times: 2 });
    await start({ phoneNumberId: id, register: 'always' });
    await env.sleep('4d');
    const parked = await waitForStatus(id, (s) => s.stage === 'AwaitingManualReset');
    expect(parked.lastError).toMatchObject({ step: 'registerPhoneNumber', type: 'GraphRegisterLimit' });
    expect(parked.runbook).toBe('registration-budget');
    expect(parked.procedure).toContain(parked.registration!.budget!.nextCallAllowedAt);
    // The first call has left the 72-hour window by now; the weekly reading still counts both.
    expect(parked.registration?.budget).toMatchObject({
      usedInWindow: 1,
      registersThisWeek: 2,
      canRegisterNow: false,
    });
    expect(registerCalls.get(id)).toHaveLength(2);
  });

  it('133015: waits five minutes, then registers', async () => {
    const [id] = phoneNumberIds(1) as [string];
    sandbox.setupNumber(id, { registered: false });
    sandbox.setScenario(id, { kind: 'registration', code: 133015, times: 1 });
    const result = (await (
      await start({ phoneNumberId: id, register: 'always' })
    ).result()) as RegisterNumberResult;
    expect(result.outcome).toBe('Completed');
    const [first, second] = registerCalls.get(id) ?? [];
    expect((second! - first!) / 1000).toBeGreaterThanOrEqual(300);
    expect((second! - first!) / 1000).toBeLessThan(360);
    await expectRegisteredWithVaultPin(id);
  });

  it('133008: waits the 12 hours Meta names, then sends the same stored PIN once more', async () => {
    const [id] = phoneNumberIds(1) as [string];
    sandbox.setupNumber(id, { registered: false });
    sandbox.setScenario(id, { kind: 'registration', code: 133008, times: 1 });
    const result = (await (
      await start({ phoneNumberId: id, register: 'always' })
    ).result()) as RegisterNumberResult;
    expect(result.outcome).toBe('Completed');
    const [first, second] = registerCalls.get(id) ?? [];
    expect(second! - first!).toBeGreaterThanOrEqual(12 * HOUR);
    expect(second! - first!).toBeLessThan(13 * HOUR);
  });

  it('a number at 10 calls in the window makes no 11th call: it waits, then makes one', async () => {
    const [id] = phoneNumberIds(1) as [string];
    sandbox.setupNumber(id, { registered: false });
    // Ten calls the product made an hour ago (five registers, five deregisters), on the vault record.
    const hourAgo = (await env.currentTimeMs()) - HOUR;
    const calls = Array.from({ length: 10 }, (_, i) => ({
      kind: i % 2 === 0 ? ('register' as const) : ('deregister' as const),
      at: hourAgo + i * 1000,
    }));
    await vaultClient.request({
      method: 'POST',
      path: `secret/metadata/${prefix}/${id}`,
      body: { custom_metadata: { register_calls: formatCalls(calls) } },
    });
    const handle = await start({ phoneNumberId: id, register: 'always' });
    const waiting = await waitForStatus(id, (s) => s.registration?.waitingUntil !== undefined);
    expect(waiting.stage).toBe('Registering');
    expect(waiting.registration?.budget).toMatchObject({
      usedInWindow: 10,
      limit: 10,
      canRegisterNow: false,
    });
    expect(Date.parse(waiting.registration!.waitingUntil!)).toBeGreaterThanOrEqual(
      hourAgo + REGISTRATION_WINDOW_MS,
    );
    // Meta has not seen an 11th call; it gets its first only after the window moved on.
    expect(registerPaths(id)).toHaveLength(0);
    const result = (await handle.result()) as RegisterNumberResult;
    expect(result).toMatchObject({ outcome: 'Completed', registration: 'registered' });
    expect(registerPaths(id)).toHaveLength(1);
    expect(registerCalls.get(id)![0]).toBeGreaterThanOrEqual(hourAgo + REGISTRATION_WINDOW_MS);
    await expectRegisteredWithVaultPin(id);
  });

  it('133005: parks at once after exactly one /register call, and never sends another PIN', async () => {
    const [id] = phoneNumberIds(1) as [string];
    sandbox.setupNumber(id, { registered: false, twoStepPin: '135024' });
    await start({ phoneNumberId: id, register: 'always' });
    const parked = await waitForStatus(id, (s) => s.stage === 'AwaitingManualReset');
    expect(parked.lastError).toMatchObject({
      step: 'registerPhoneNumber',
      type: 'GraphPinMismatch',
      graphCode: 133005,
    });
    expect(parked.runbook).toBe('pin-mismatch');
    expect(parked.procedure).toContain('Change PIN');
    expect(parked.registration?.budget?.usedInWindow).toBe(1);
    await env.sleep('3d');
    expect(registerPaths(id)).toHaveLength(1);
    expect(sandbox.numberState(id)).toMatchObject({ registered: false, pin: '135024', registerCalls: 1 });
    expect((await waitForStatus(id, () => true)).stage).toBe('AwaitingManualReset');
  });

  it('a 2xx without {"success":true} is retried to the third attempt, then parks', async () => {
    const [id] = phoneNumberIds(1) as [string];
    sandbox.setupNumber(id, { registered: false });
    sandbox.setScenario(id, { kind: 'unconfirmedSuccess', body: 'ok', endpoint: 'register' });
    await start({ phoneNumberId: id, register: 'always' });
    await env.sleep('2h');
    const parked = await waitForStatus(id, (s) => s.stage === 'AwaitingManualReset');
    expect(parked.lastError).toMatchObject({ type: 'GraphUnconfirmedSuccess', attempts: 3 });
    expect(parked.runbook).toBe('unconfirmed-answer');
    expect(registerPaths(id)).toHaveLength(3);
  });
});
