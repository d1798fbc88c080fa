// startOnboarding on the real dev server, against the stand-in workflow: a number is started once,
// reported (never restarted) while running or after it closed, restarted only with reonboard, and
// never has two runs, even when many callers race.
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOnboardingOptions } from '../src/onboarding/onboarding-config';
import { OnboardingInputError, startOnboarding } from '../src/onboarding/start-onboarding';
import { ConfigError } from '../src/config/env-reader';
import { onboardingStatusKey, retrySignal, workflowIdFor } from '../src/workflows/messages';
import { fixtureInputQuery } from './fixtures/starter-workflows';
import { runsOf, startFixtureWorker, type FixtureWorker } from './fixtures/fixture-worker';

// Its own task queue: starter.test.ts runs a worker in the same namespace on the contract queue.
const TASK_QUEUE = 'start-onboarding-test';
let fx: FixtureWorker;

/** A fresh id whose first digit picks the fixture's behaviour. */
function id(kind: string): string {
  return `${kind}${Date.now()}${randomInt(1_000_000).toString().padStart(6, '0')}`;
}

async function eventuallyRuns(workflowId: string, atLeast: number): Promise<string[]> {
  for (;;) {
    const runs = await runsOf(fx.client, workflowId);
    if (runs.length >= atLeast) return runs;
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  fx = await startFixtureWorker({ namespace: 'starter', taskQueue: TASK_QUEUE });
});

afterAll(async () => {
  await fx?.stop();
});

describe('startOnboarding', () => {
  it('starts a new number with its id, queue, GeneratingPin status, summary and details', async () => {
    const phoneNumberId = id('3');
    const input = {
      phoneNumberId,
      wabaId: '102290129340398',
      displayPhoneNumber: '+1 555-010-0001',
      tenant: 'acme',
    };
    const result = await startOnboarding(fx.client, input, { taskQueue: TASK_QUEUE });
    expect(result).toMatchObject({ outcome: 'started', workflowId: workflowIdFor(phoneNumberId) });
    expect(result.runId).toMatch(/^[0-9a-f-]{36}$/);

    const handle = fx.client.workflow.getHandle(result.workflowId);
    const description = await handle.describe();
    expect(description.type).toBe('registerNumber');
    expect(description.taskQueue).toBe(TASK_QUEUE);
    expect(description.runId).toBe(result.runId);
    expect(description.typedSearchAttributes.get(onboardingStatusKey)).toBe('StoringPin');
    expect(await description.staticSummary()).toBe('+1 555-010-0001 · tenant acme · WABA 102290129340398');
    expect(await description.staticDetails()).toContain(`\`${phoneNumberId}\``);
    expect(await handle.query(fixtureInputQuery)).toEqual(input);
    await handle.signal(retrySignal, {});
    await handle.result();
  });

  it('reports a running number as already-running, with the same run', async () => {
    const phoneNumberId = id('2');
    const first = await startOnboarding(fx.client, { phoneNumberId }, { taskQueue: TASK_QUEUE });
    expect(first.outcome).toBe('started');
    const second = await startOnboarding(fx.client, { phoneNumberId }, { taskQueue: TASK_QUEUE });
    expect(second).toMatchObject({
      outcome: 'already-running',
      workflowId: first.workflowId,
      runId: first.runId,
      executionStatus: 'RUNNING',
    });
    // reonboard never replaces a live run either.
    const third = await startOnboarding(
      fx.client,
      { phoneNumberId },
      { taskQueue: TASK_QUEUE, reonboard: true },
    );
    expect(third).toMatchObject({ outcome: 'already-running', runId: first.runId });
    await fx.client.workflow.getHandle(first.workflowId).terminate('test cleanup');
  });

  it('reports a completed number as already-completed, and restarts it only with reonboard', async () => {
    const phoneNumberId = id('1');
    const first = await startOnboarding(fx.client, { phoneNumberId }, { taskQueue: TASK_QUEUE });
    await fx.client.workflow.getHandle(first.workflowId).result();

    const again = await startOnboarding(fx.client, { phoneNumberId }, { taskQueue: TASK_QUEUE });
    expect(again).toMatchObject({
      outcome: 'already-completed',
      runId: first.runId,
      executionStatus: 'COMPLETED',
      onboardingStatus: 'Completed',
    });
    expect(await eventuallyRuns(first.workflowId, 1)).toEqual([first.runId]);

    const restarted = await startOnboarding(
      fx.client,
      { phoneNumberId },
      { taskQueue: TASK_QUEUE, reonboard: true },
    );
    expect(restarted.outcome).toBe('restarted');
    expect(restarted.runId).not.toBe(first.runId);
    expect((await eventuallyRuns(first.workflowId, 2)).sort()).toEqual([first.runId, restarted.runId].sort());
  });

  it('counts a failed or terminated run as already-completed and shows its status', async () => {
    const failing = id('5');
    const first = await startOnboarding(fx.client, { phoneNumberId: failing }, { taskQueue: TASK_QUEUE });
    await expect(fx.client.workflow.getHandle(first.workflowId).result()).rejects.toThrow();
    expect(
      await startOnboarding(fx.client, { phoneNumberId: failing }, { taskQueue: TASK_QUEUE }),
    ).toMatchObject({
      outcome: 'already-completed',
      executionStatus: 'FAILED',
    });

    const terminated = id('3');
    const run = await startOnboarding(fx.client, { phoneNumberId: terminated }, { taskQueue: TASK_QUEUE });
    await fx.client.workflow.getHandle(run.workflowId).terminate('operator stopped it');
    expect(
      await startOnboarding(fx.client, { phoneNumberId: terminated }, { taskQueue: TASK_QUEUE }),
    ).toMatchObject({
      outcome: 'already-completed',
      executionStatus: 'TERMINATED',
    });
  });

  it('starts a never-seen number with reonboard as a plain start', async () => {
    const phoneNumberId = id('1');
    const result = await startOnboarding(
      fx.client,
      { phoneNumberId },
      { taskQueue: TASK_QUEUE, reonboard: true },
    );
    expect(result.outcome).toBe('started');
  });

  it('never creates two runs when many callers start the same number at once', async () => {
    const phoneNumberId = id('3');
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        startOnboarding(fx.client, { phoneNumberId }, { taskQueue: TASK_QUEUE, reonboard: i % 2 === 0 }),
      ),
    );
    expect(results.filter((r) => r.outcome === 'started')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'already-running')).toHaveLength(7);
    expect(new Set(results.map((r) => r.runId)).size).toBe(1);
    const workflowId = workflowIdFor(phoneNumberId);
    expect(await eventuallyRuns(workflowId, 1)).toHaveLength(1);
    await fx.client.workflow.getHandle(workflowId).terminate('test cleanup');
  });

  it('refuses an invalid input with a clear error and starts nothing', async () => {
    const bad = [
      { phoneNumberId: '12ab' },
      { phoneNumberId: '' },
      { phoneNumberId: '123', wabaId: 'waba' },
      { phoneNumberId: '123', displayPhoneNumber: 'call me' },
      { phoneNumberId: '123', tenant: 'line\nbreak' },
    ];
    for (const input of bad) {
      await expect(startOnboarding(fx.client, input, { taskQueue: TASK_QUEUE })).rejects.toBeInstanceOf(
        OnboardingInputError,
      );
    }
    await expect(startOnboarding(fx.client, { phoneNumberId: '12ab' })).rejects.toThrow(
      /phoneNumberId "12ab" is not a phone-number id/,
    );
    await expect(fx.client.workflow.getHandle(workflowIdFor('12ab')).describe()).rejects.toThrow();
  });
});

describe('loadOnboardingOptions', () => {
  it('defaults the manual-reset deadline to 14d and passes valid retry schedules through', () => {
    expect(loadOnboardingOptions({})).toEqual({ manualResetDeadline: '14d' });
    const schedules = {
      graph: { initialInterval: '30s', backoffCoefficient: 2, maximumInterval: '10m', maximumAttempts: 8 },
      vault: { giveUpAfter: '1d' },
    };
    expect(
      loadOnboardingOptions({
        ONBOARDING_RETRY_SCHEDULES: JSON.stringify(schedules),
        MANUAL_RESET_DEADLINE: '36h',
      }),
    ).toEqual({ retrySchedules: schedules, manualResetDeadline: '36h' });
  });

  it.each([
    ['ONBOARDING_RETRY_SCHEDULES', '{not json', /not valid JSON/],
    ['ONBOARDING_RETRY_SCHEDULES', '[]', /must be a JSON object/],
    ['ONBOARDING_RETRY_SCHEDULES', '{"sms":{}}', /"sms" is not a step/],
    [
      'ONBOARDING_RETRY_SCHEDULES',
      '{"graph":{"initialInterval":"soon"}}',
      /graph.initialInterval" must be a positive duration/,
    ],
    ['ONBOARDING_RETRY_SCHEDULES', '{"graph":{"initialInterval":"0s"}}', /positive duration/],
    [
      'ONBOARDING_RETRY_SCHEDULES',
      '{"graph":{"maximumAttempts":-1}}',
      /maximumAttempts" must be a positive integer/,
    ],
    [
      'ONBOARDING_RETRY_SCHEDULES',
      '{"graph":{"backoffCoefficient":0.5}}',
      /backoffCoefficient" must be a number >= 1/,
    ],
    ['ONBOARDING_RETRY_SCHEDULES', '{"graph":{"jitter":1}}', /"graph.jitter" is not a retry setting/],
    [
      'ONBOARDING_RETRY_SCHEDULES',
      '{"graph":{"initialInterval":"5m","maximumInterval":"1m"}}',
      /shorter than/,
    ],
    ['MANUAL_RESET_DEADLINE', 'two weeks', /must be a positive duration/],
  ])('%s=%s is a ConfigError naming the variable', (variable, value, message) => {
    let caught: unknown;
    try {
      loadOnboardingOptions({ [variable]: value });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(variable);
    expect((caught as ConfigError).message).toMatch(message);
  });
});
