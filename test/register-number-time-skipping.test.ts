// The workflow's own decisions, fast: registerNumber on Temporal's time-skipping test server with
// the test's own activity functions (the server is real; only what the activities answer is made
// up), so deadlines of days take milliseconds. The sealing-key case is proven again with the real
// activities, the run's OpenBao and the Graph sandbox.
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type ActivityName, type OnboardingActivities } from '../src/activities';
import { createKeyring } from '../src/crypto/keyring';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { registrationBudget } from '../src/registration/registration-budget';
import type { FailureType } from '../src/workflows/failure-types';
import {
  manualResetSignal,
  manualResetUpdate,
  retrySignal,
  statusQuery,
  workflowIdFor,
  type RegisterNumberResult,
  type RegisterNumberStatus,
} from '../src/workflows/messages';
import { localActivityDeps, phoneNumberIds, TEST_GRAPH_TOKEN } from './support/onboarding-harness';
import { runWorkersWhile, startRegisterNumber, startTimeSkippingEnvironment } from './support/time-skipping';
import { waitForStage } from './support/workflow-polling';

let env: TestWorkflowEnvironment;
let sandbox: GraphSandbox;

beforeAll(async () => {
  [env, sandbox] = await Promise.all([
    startTimeSkippingEnvironment(),
    startGraphSandbox({ accessToken: TEST_GRAPH_TOKEN }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([env?.teardown(), sandbox?.close()]);
});

/** A failure as the activities throw it: a vocabulary type, the attempt in the details. */
function failure(type: FailureType, message: string, opts: { nonRetryable?: boolean } = {}) {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: opts.nonRetryable ?? true,
    details: [{ attempt: Context.current().info.attempt }],
  });
}

type Calls = Record<ActivityName, unknown[]>;

/** Activities that succeed unless the test says otherwise, each call's input kept. */
function fakeActivities(overrides: Partial<OnboardingActivities> = {}): {
  activities: OnboardingActivities;
  calls: Calls;
} {
  const calls: Calls = {
    generatePin: [],
    storePinInVault: [],
    setTwoStepPin: [],
    markPinActive: [],
    lookUpRegistration: [],
    registerPhoneNumber: [],
    recordSecurityEvent: [],
  };
  const base: OnboardingActivities = {
    generatePin: async () => ({ kid: 'fake', sealed: 'sealed-elsewhere' }),
    storePinInVault: async ({ phoneNumberId }) => ({ path: `secret/fake/${phoneNumberId}`, version: 1 }),
    setTwoStepPin: async () => ({ fbtraceId: 'fake-trace' }),
    markPinActive: async () => undefined,
    // A number already on Cloud API, as the default `register: auto` finds it.
    lookUpRegistration: async () => ({
      registered: true,
      onPremises: false,
      budget: registrationBudget({ calls: [] }, Date.now()),
    }),
    registerPhoneNumber: async () => ({ budget: registrationBudget({ calls: [] }, Date.now()) }),
    recordSecurityEvent: async () => ({ recorded: true, duplicate: false, count: 1 }),
    ...overrides,
  };
  const record = <K extends ActivityName>(name: K): OnboardingActivities[K] => {
    const fn = base[name] as (input: unknown) => Promise<unknown>;
    return (async (input: unknown) => {
      calls[name].push(input);
      return fn(input);
    }) as OnboardingActivities[K];
  };
  return {
    calls,
    activities: {
      generatePin: record('generatePin'),
      storePinInVault: record('storePinInVault'),
      setTwoStepPin: record('setTwoStepPin'),
      markPinActive: record('markPinActive'),
      lookUpRegistration: record('lookUpRegistration'),
      registerPhoneNumber: record('registerPhoneNumber'),
      recordSecurityEvent: record('recordSecurityEvent'),
    },
  };
}

const tokenExpired = async (): Promise<never> => {
  throw failure('GraphAuthError', 'Graph code 190 (HTTP 401): the session has expired');
};

async function statusOf(phoneNumberId: string): Promise<RegisterNumberStatus> {
  return env.client.workflow.getHandle(workflowIdFor(phoneNumberId)).query(statusQuery);
}

/** Waits until the workflow has recorded a refusal whose reason matches. */
async function refusedWith(phoneNumberId: string, reason: RegExp): Promise<void> {
  await expect
    .poll(async () => (await statusOf(phoneNumberId)).lastRefusal?.reason ?? '', { timeout: 10_000 })
    .toMatch(reason);
}

describe('operator input that is refused', { timeout: 60_000 }, () => {
  it('refuses malformed signals and updates, keeps waiting, then completes on a well-formed manualReset', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    const { activities, calls } = fakeActivities({ setTwoStepPin: tokenExpired });
    await runWorkersWhile(env, activities, async () => {
      const handle = await startRegisterNumber(env, { phoneNumberId });
      await waitForStage(env.client, phoneNumberId, 'AwaitingManualReset');

      await handle.signal(manualResetSignal, 'done' as never);
      await refusedWith(phoneNumberId, /^expected a JSON object like \{"operator"/);
      await handle.signal(manualResetSignal, { note: 'forgot my name' } as never);
      await refusedWith(phoneNumberId, /^"operator" is required/);
      await handle.signal(retrySignal, 'now' as never);
      await refusedWith(phoneNumberId, /^expected a JSON object like .* \(or nothing\)/);
      await handle.signal(retrySignal, { operator: 7 } as never);
      await refusedWith(phoneNumberId, /^"operator" must be a string/);
      const rejected = await handle.executeUpdate(manualResetUpdate, { args: [{ operator: ' ' }] }).then(
        () => undefined,
        (err: unknown) => err as { cause?: Error },
      );
      expect(rejected?.cause?.message).toMatch(/"operator" is required/);

      const waiting = await statusOf(phoneNumberId);
      expect(waiting.stage).toBe('AwaitingManualReset');
      expect(waiting.history).toEqual([]);
      expect(waiting.lastError).toMatchObject({ step: 'setTwoStepPin', type: 'GraphAuthError', attempts: 1 });
      expect(calls.setTwoStepPin).toHaveLength(1);
      expect(calls.markPinActive).toHaveLength(0);

      await handle.signal(manualResetSignal, { operator: 'jane.doe', note: 'changed in WhatsApp Manager' });
      const result = (await handle.result()) as RegisterNumberResult;
      expect(result).toMatchObject({ outcome: 'CompletedManually', operator: 'jane.doe' });
      expect(calls.markPinActive).toEqual([{ phoneNumberId, version: 1 }]);
    });
  });

  it('refuses a manualReset while a step is still running, naming the stage', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { activities } = fakeActivities({
      setTwoStepPin: async () => {
        await released;
        return {};
      },
    });
    await runWorkersWhile(env, activities, async () => {
      const handle = await startRegisterNumber(env, { phoneNumberId });
      await waitForStage(env.client, phoneNumberId, 'SettingPin');
      await handle.signal(manualResetSignal, { operator: 'too.early' });
      await refusedWith(phoneNumberId, /^the workflow is SettingPin, not waiting for an operator/);
      release();
      const result = (await handle.result()) as RegisterNumberResult;
      expect(result.outcome).toBe('Completed');
      expect((await statusOf(phoneNumberId)).history).toEqual([]);
    });
  });

  it('refuses a manualReset when no PIN was stored yet, and points at retry', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    let vaultDenies = true;
    const { activities, calls } = fakeActivities({
      storePinInVault: async ({ phoneNumberId: id }) => {
        if (vaultDenies) throw failure('VaultPermissionDenied', 'permission denied for PUT secret/data/...');
        return { path: `secret/fake/${id}`, version: 4 };
      },
    });
    await runWorkersWhile(env, activities, async () => {
      const handle = await startRegisterNumber(env, { phoneNumberId });
      const parked = await waitForStage(env.client, phoneNumberId, 'AwaitingManualReset');
      expect(parked.vault).toBeUndefined();
      expect(parked.lastError).toMatchObject({ step: 'storePinInVault', type: 'VaultPermissionDenied' });

      await handle.signal(manualResetSignal, { operator: 'jane.doe' });
      await refusedWith(phoneNumberId, /no PIN was stored for this number yet.*send retry/);

      vaultDenies = false;
      await handle.signal(retrySignal, { operator: 'sam', note: 'policy fixed' });
      const result = (await handle.result()) as RegisterNumberResult;
      expect(result).toMatchObject({ outcome: 'Completed', vault: { version: 4 } });
      expect(calls.generatePin).toHaveLength(1);
      expect(calls.storePinInVault).toHaveLength(2);
    });
  });
});

describe('the manual-reset deadline', { timeout: 60_000 }, () => {
  it('a parked number nobody acts on ends Abandoned when its deadline passes, with the reason', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    const { activities } = fakeActivities({ setTwoStepPin: tokenExpired });
    const { result, startedAt } = await runWorkersWhile(env, activities, async () => {
      const handle = await startRegisterNumber(env, { phoneNumberId, manualResetDeadline: '3 days' });
      const { startTime } = await handle.describe();
      return { result: (await handle.result()) as RegisterNumberResult, startedAt: startTime.getTime() };
    });
    expect(result).toMatchObject({ outcome: 'Abandoned', vault: { version: 1 } });
    expect(result.reason).toMatch(/session has expired/);
    // Skipped time, not real time: by the workflow's own clock three days passed, and not much more.
    const waitedMs = Date.parse(result.completedAt) - startedAt;
    expect(waitedMs).toBeGreaterThanOrEqual(3 * 86_400_000);
    expect(waitedMs).toBeLessThan(3 * 86_400_000 + 3_600_000);
  });
});

describe('a retry that fails again', { timeout: 60_000 }, () => {
  it('parks again with the new reason; the next retry sets the same stored PIN and completes', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    const answers: Array<() => never> = [
      () => {
        throw failure('GraphAuthError', 'Graph code 190 (HTTP 401): the session has expired');
      },
      () => {
        throw failure('GraphPermissionError', 'Graph code 200 (HTTP 403): Permissions error');
      },
    ];
    const { activities, calls } = fakeActivities({
      setTwoStepPin: async () => {
        answers.shift()?.();
        return { fbtraceId: 'third-time' };
      },
    });
    await runWorkersWhile(env, activities, async () => {
      const handle = await startRegisterNumber(env, { phoneNumberId });
      await waitForStage(env.client, phoneNumberId, 'AwaitingManualReset');

      await handle.signal(retrySignal, { operator: 'sam', note: 'token rotated' });
      await expect
        .poll(async () => {
          const s = await statusOf(phoneNumberId);
          return { stage: s.stage, retries: s.history.length, type: s.lastError?.type };
        })
        .toEqual({ stage: 'AwaitingManualReset', retries: 1, type: 'GraphPermissionError' });

      await handle.signal(retrySignal, { operator: 'sam', note: 'permission granted' });
      const result = (await handle.result()) as RegisterNumberResult;
      expect(result).toMatchObject({ outcome: 'Completed', vault: { version: 1 } });
      expect(calls.generatePin).toHaveLength(1);
      expect(calls.storePinInVault).toHaveLength(1);
      // Every attempt sent the one stored version; no new PIN was made for the retries.
      expect(calls.setTwoStepPin).toEqual([
        { phoneNumberId, version: 1 },
        { phoneNumberId, version: 1 },
        { phoneNumberId, version: 1 },
      ]);
      expect((await statusOf(phoneNumberId)).history.map((a) => a.kind)).toEqual(['retry', 'retry']);
    });
  });
});

describe('a sealing key the worker lacks', { timeout: 60_000 }, () => {
  it('PinSealError is never retried, even when thrown as retryable: parked after one attempt, within seconds', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    // Thrown as retryable on purpose: the retry policy's own nonRetryableErrorTypes must stop it.
    const { activities, calls } = fakeActivities({
      storePinInVault: async () => {
        throw failure('PinSealError', 'the PIN was sealed under key id "gone"', { nonRetryable: false });
      },
    });
    await runWorkersWhile(env, activities, async () => {
      const startedAt = await env.currentTimeMs();
      await startRegisterNumber(env, { phoneNumberId });
      const parked = await waitForStage(env.client, phoneNumberId, 'AwaitingManualReset');
      // The vault profile's first retry would come 5 s after the first attempt.
      expect((await env.currentTimeMs()) - startedAt).toBeLessThan(5_000);
      expect(calls.storePinInVault).toHaveLength(1);
      expect(parked.lastError).toMatchObject({ step: 'storePinInVault', type: 'PinSealError', attempts: 1 });
    });
  });

  it('with the real activities: a PIN sealed under a key id this worker lacks parks as PinSealError naming it; restored, retry completes', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    const retired = { kid: 'seal-retired', key: randomBytes(32) };
    const current = { kid: 'seal-current', key: randomBytes(32) };
    const { pinStore, deps } = localActivityDeps({
      graphUrl: sandbox.url,
      vaultPrefix: `time-skipping/${randomBytes(4).toString('hex')}`,
      sealingKeyring: createKeyring([current]),
    });
    // The PIN was sealed by a worker that still had the retired key; this worker no longer has it.
    const sealedEarlier = createActivities({ ...deps, sealingKeyring: createKeyring([retired]) });
    const lacksRetired = createActivities(deps);
    let storeAttempts = 0;
    const handle = await runWorkersWhile(
      env,
      {
        ...lacksRetired,
        generatePin: sealedEarlier.generatePin,
        storePinInVault: async (input) => {
          storeAttempts += 1;
          return lacksRetired.storePinInVault(input);
        },
      },
      async () => {
        const started = await startRegisterNumber(env, { phoneNumberId });
        const parked = await waitForStage(env.client, phoneNumberId, 'AwaitingManualReset');
        expect(parked.lastError).toMatchObject({
          step: 'storePinInVault',
          type: 'PinSealError',
          attempts: 1,
        });
        expect(parked.lastError?.message).toContain('"seal-retired"');
        expect(parked.lastError?.message).toContain('PIN_SEALING_KEYS');
        for (const { key } of [retired, current]) {
          expect(parked.lastError?.message).not.toContain(key.toString('base64'));
        }
        return started;
      },
    );
    expect(storeAttempts).toBe(1);
    expect(await pinStore.describe(phoneNumberId)).toBeUndefined();
    expect(sandbox.requests().filter((r) => r.phoneNumberId === phoneNumberId)).toHaveLength(0);

    // The operator puts the retired key back beside the current one, restarts, and sends retry.
    const restored = createActivities({ ...deps, sealingKeyring: createKeyring([current, retired]) });
    const result = await runWorkersWhile(env, restored, async () => {
      await handle.signal(retrySignal, { operator: 'ops', note: 'seal-retired restored' });
      return (await handle.result()) as RegisterNumberResult;
    });
    expect(result.outcome).toBe('Completed');
    const active = await pinStore.readActivePin(phoneNumberId);
    expect(active?.version).toBe(result.vault?.version);
    expect(sandbox.pinOf(phoneNumberId)).toBe(active?.pin);
  });
});
