// Each activity's retry schedule, observed on Temporal's time-skipping test server against the
// real OpenBao and the Graph sandbox: attempt counts and the spacing between attempts, in the
// server's (skipped) time, as each activity saw its own attempt being scheduled.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps, type GraphApi, type PinVault } from '../src/activities';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { startOpenBaoPersistent, type PersistentOpenBaoServer } from '../src/local-stack/openbao-persistent';
import { freePort } from '../src/local-stack/processes';
import type { RegisterNumberResult } from '../src/workflows/messages';
import {
  localActivityDeps,
  phoneNumberIds,
  TEST_GRAPH_TOKEN,
  testKeyring,
} from './support/onboarding-harness';
import {
  executeRegisterNumber,
  runWorkersWhile,
  startTimeSkippingEnvironment,
} from './support/time-skipping';

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
    startTimeSkippingEnvironment(),
    startGraphSandbox({ accessToken: TEST_GRAPH_TOKEN }),
    freePort().then((port) => startOpenBaoPersistent({ port, dataDir: baoDir })),
  ]);
  ({
    deps: { vault, graph },
  } = localActivityDeps({
    graphUrl: sandbox.url,
    vaultPrefix: `schedules/${randomBytes(3).toString('hex')}`,
    vault: { address: bao.address, token: bao.rootToken },
  }));
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([env?.teardown(), sandbox?.close(), bao?.stop()]);
  rmSync(baoDir, { recursive: true, force: true });
});

async function runOne(phoneNumberId: string, deps: ActivityDeps): Promise<RegisterNumberResult> {
  return runWorkersWhile(env, createActivities(deps), () => executeRegisterNumber(env, { phoneNumberId }));
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
      graph: {
        ...graph,
        setTwoStepPin: async (input) => (await recorded('throttled'), graph.setTwoStepPin(input)),
      },
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
      graph: {
        ...graph,
        setTwoStepPin: async (input) => (await recorded('server-error'), graph.setTwoStepPin(input)),
      },
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
    const result = await runWorkersWhile(
      env,
      {
        ...activities,
        generatePin: async (input) => {
          await recorded('generate');
          return activities.generatePin(input);
        },
      },
      () => executeRegisterNumber(env, { phoneNumberId, manualResetDeadline: '1 day' }),
    );
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
