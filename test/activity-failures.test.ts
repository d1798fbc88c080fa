// Each activity alone (Temporal's MockActivityEnvironment), against the run's OpenBao and the Graph
// sandbox: what it throws when something fails is the failure Temporal acts on, so its type, its
// retry verdict, Meta's wait and the attempt number are checked here, one activity at a time.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, ApplicationFailureCategory, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { toActivityFailure } from '../src/activities/activity-failure';
import { createActivities, type ActivityDeps } from '../src/activities';
import { ConfigError } from '../src/config/env-reader';
import { createKeyring } from '../src/crypto/keyring';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { freePort } from '../src/local-stack/processes';
import { openPin } from '../src/pin/pin-sealer';
import type { PinStore } from '../src/vault/pin-store';
import type { FailureType } from '../src/workflows/failure-types';
import type { SealedPin } from '../src/workflows/messages';
import { localActivityDeps, phoneNumberIds, TEST_GRAPH_TOKEN } from './support/onboarding-harness';

let sandbox: GraphSandbox;
let deps: ActivityDeps;
let pinStore: PinStore;
const key = { kid: 'activity-test', key: randomBytes(32) };

beforeAll(async () => {
  sandbox = await startGraphSandbox({ accessToken: TEST_GRAPH_TOKEN });
  ({ deps, pinStore } = localActivityDeps({
    graphUrl: sandbox.url,
    vaultPrefix: `activities/${randomBytes(4).toString('hex')}`,
    sealingKeyring: createKeyring([key]),
  }));
});

afterAll(async () => {
  await sandbox?.close();
});

/** Runs one activity as attempt `attempt`, outside any worker. */
function run<I, R>(activity: (input: I) => Promise<R>, input: I, attempt = 1): Promise<R> {
  return new MockActivityEnvironment({ attempt }).run<[I], R, typeof activity>(activity, input);
}

/** What the activity threw, run as attempt `attempt`. */
async function failureOf<I>(
  activity: (input: I) => Promise<unknown>,
  input: I,
  attempt = 1,
): Promise<ApplicationFailure> {
  const thrown: unknown = await run(activity, input, attempt).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(thrown).toBeInstanceOf(ApplicationFailure);
  return thrown as ApplicationFailure;
}

function expectFailure(
  failure: ApplicationFailure,
  expected: { type: FailureType; nonRetryable: boolean; attempt: number },
) {
  expect({ type: failure.type, nonRetryable: failure.nonRetryable }).toEqual({
    type: expected.type,
    nonRetryable: expected.nonRetryable,
  });
  expect(failure.details?.[0]).toMatchObject({ attempt: expected.attempt });
}

/** A PIN stored for a fresh number, as storePinInVault leaves it. */
async function storedNumber(): Promise<{ phoneNumberId: string; version: number }> {
  const [phoneNumberId] = phoneNumberIds(1) as [string];
  const { version } = await pinStore.storePin({
    phoneNumberId,
    workflowId: `register-number-${phoneNumberId}`,
    pin: '482915',
    createdAt: new Date().toISOString(),
  });
  return { phoneNumberId, version };
}

describe('generatePin', () => {
  it('returns the PIN sealed under the current key, six digits once opened', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    const sealed = await run(createActivities(deps).generatePin, { phoneNumberId });
    expect(sealed.kid).toBe(key.kid);
    expect(openPin(deps.sealingKeyring, phoneNumberId, sealed)).toMatch(/^[0-9]{6}$/);
  });

  it('a keyring that cannot seal is an unexpected, retried failure, with the attempt', async () => {
    const broken = {
      ...deps.sealingKeyring,
      encrypt: () => {
        throw new Error('sealing key unavailable');
      },
    };
    const { generatePin } = createActivities({ ...deps, sealingKeyring: broken });
    const failure = await failureOf(generatePin, { phoneNumberId: '1234567' }, 3);
    expectFailure(failure, { type: 'UnexpectedError', nonRetryable: false, attempt: 3 });
    expect(failure.message).toBe('sealing key unavailable');
  });
});

describe('storePinInVault', () => {
  const sealedUnder = async (kid: string, phoneNumberId: string): Promise<SealedPin> => {
    const keyring = createKeyring([{ kid, key: randomBytes(32) }]);
    const { generatePin } = createActivities({ ...deps, sealingKeyring: keyring });
    return run(generatePin, { phoneNumberId });
  };
  const input = (phoneNumberId: string, sealedPin: SealedPin) => ({
    phoneNumberId,
    workflowId: `register-number-${phoneNumberId}`,
    sealedPin,
    createdAt: new Date().toISOString(),
  });

  it('a PIN sealed under a key id this worker lacks is a non-retryable PinSealError naming that id', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    const sealedPin = await sealedUnder('retired-2025', phoneNumberId);
    const failure = await failureOf(createActivities(deps).storePinInVault, input(phoneNumberId, sealedPin));
    expectFailure(failure, { type: 'PinSealError', nonRetryable: true, attempt: 1 });
    expect(failure.message).toContain('key id "retired-2025"');
    expect(failure.message).toContain(`it holds "${key.kid}"`);
    expect(failure.message).not.toContain(key.key.toString('base64'));
    expect(await pinStore.describe(phoneNumberId)).toBeUndefined();
  });

  it('a different key under the same id is a PinSealError too, saying the keys differ', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    const sealedPin = await sealedUnder(key.kid, phoneNumberId);
    const failure = await failureOf(createActivities(deps).storePinInVault, input(phoneNumberId, sealedPin));
    expectFailure(failure, { type: 'PinSealError', nonRetryable: true, attempt: 1 });
    expect(failure.message).toMatch(/does not open with this worker's key of that id/);
  });

  /** What storePinInVault throws, on attempt `attempt`, against the vault at `vault`. */
  const storeFailureAgainst = async (vault: { address: string; token: string }, attempt: number) => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    const sealedPin = await run(createActivities(deps).generatePin, { phoneNumberId });
    const other = localActivityDeps({
      graphUrl: sandbox.url,
      vaultPrefix: 'activities/elsewhere',
      vault,
      sealingKeyring: deps.sealingKeyring,
    });
    return failureOf(createActivities(other.deps).storePinInVault, input(phoneNumberId, sealedPin), attempt);
  };

  it('a vault that refuses the credentials is VaultPermissionDenied, not retried', async () => {
    const failure = await storeFailureAgainst({ address: inject('vaultAddress'), token: 'not-a-token' }, 2);
    expectFailure(failure, { type: 'VaultPermissionDenied', nonRetryable: true, attempt: 2 });
  });

  it('a vault nobody answers at is VaultConnectionError, retried', async () => {
    const address = `http://127.0.0.1:${await freePort()}`;
    const failure = await storeFailureAgainst({ address, token: 'unused' }, 1);
    expectFailure(failure, { type: 'VaultConnectionError', nonRetryable: false, attempt: 1 });
  });
});

describe('setTwoStepPin', () => {
  it("an expired token is GraphAuthError, not retried, with Meta's code and trace id", async () => {
    const ref = await storedNumber();
    sandbox.setScenario(ref.phoneNumberId, { kind: 'expiredToken' });
    const failure = await failureOf(createActivities(deps).setTwoStepPin, ref, 4);
    expectFailure(failure, { type: 'GraphAuthError', nonRetryable: true, attempt: 4 });
    expect(failure.details?.[0]).toMatchObject({ graphCode: 190, httpStatus: 401 });
    expect((failure.details?.[0] as { fbtraceId?: string }).fbtraceId).toBeTruthy();
    expect((await pinStore.describe(ref.phoneNumberId))?.activeVersion).toBeUndefined();
  });

  it("throttling is GraphThrottled, retried after Meta's own wait, and kept out of error metrics", async () => {
    const ref = await storedNumber();
    sandbox.setScenario(ref.phoneNumberId, { kind: 'throttled', code: 80007, regainAccessMinutes: 2 });
    const failure = await failureOf(createActivities(deps).setTwoStepPin, ref);
    expectFailure(failure, { type: 'GraphThrottled', nonRetryable: false, attempt: 1 });
    expect(failure.nextRetryDelay).toBe(120_000);
    expect(failure.category).toBe(ApplicationFailureCategory.BENIGN);
  });

  it('a version missing from the vault is VaultNotFound, and nothing is sent to Meta', async () => {
    const ref = await storedNumber();
    const failure = await failureOf(createActivities(deps).setTwoStepPin, {
      ...ref,
      version: ref.version + 5,
    });
    expectFailure(failure, { type: 'VaultNotFound', nonRetryable: true, attempt: 1 });
    expect(sandbox.requests().filter((r) => r.phoneNumberId === ref.phoneNumberId)).toHaveLength(0);
  });

  it('a cancelled activity drops its Graph request and fails as cancelled, not as a Graph error', async () => {
    const ref = await storedNumber();
    sandbox.setScenario(ref.phoneNumberId, { kind: 'slow', delayMs: 1_500 });
    const env = new MockActivityEnvironment();
    const startedAt = Date.now();
    const running = env.run(createActivities(deps).setTwoStepPin, ref).then(
      () => undefined,
      (err: unknown) => err,
    );
    // Cancelled while Meta (the sandbox) is still answering: the vault read is long done by then.
    await sleep(400);
    env.cancel();
    const thrown = await running;
    expect(thrown).toBeInstanceOf(CancelledFailure);
    expect(Date.now() - startedAt).toBeLessThan(1_500);
    expect((await pinStore.describe(ref.phoneNumberId))?.activeVersion).toBeUndefined();
  });
});

describe('markPinActive', () => {
  it('marks the stored version active', async () => {
    const ref = await storedNumber();
    await run(createActivities(deps).markPinActive, ref);
    expect(await pinStore.describe(ref.phoneNumberId)).toMatchObject({ activeVersion: ref.version });
  });

  it('a number with nothing stored is VaultNotFound, not retried', async () => {
    const [phoneNumberId] = phoneNumberIds(1) as [string];
    const failure = await failureOf(createActivities(deps).markPinActive, { phoneNumberId, version: 1 }, 2);
    expectFailure(failure, { type: 'VaultNotFound', nonRetryable: true, attempt: 2 });
  });
});

describe('toActivityFailure', () => {
  it('configuration found wrong while working is ConfigError, not retried', () => {
    const failure = toActivityFailure(
      new ConfigError('GRAPH_API_VERSION', 'names no version Meta serves'),
      1,
    );
    expectFailure(failure, { type: 'ConfigError', nonRetryable: true, attempt: 1 });
    expect(failure.message).toBe('GRAPH_API_VERSION names no version Meta serves');
  });
});
