// Registration on the real Temporal dev server, OpenBao and the Graph sandbox: `register: auto` on an
// unregistered and on a registered number, Meta's "not registered" answer to the two-step call, and
// for every cause a number can park on, the runbook its status and its UI details name.
import { workflowMetadataQuery } from '@temporalio/workflow';
import { describe, expect, it } from 'vitest';
import type { Scenario } from '../src/graph-sandbox/scenarios';
import type { SandboxNumberSetup } from '../src/graph-sandbox/server';
import { startOnboarding } from '../src/onboarding/start-onboarding';
import {
  workflowIdFor,
  type RegisterChoice,
  type RegisterNumberResult,
  type RegisterNumberStatus,
} from '../src/workflows/messages';
import type { RunbookId } from '../src/workflows/runbooks';
import { phoneNumberIds, onboardingHarnessForFile } from './support/onboarding-harness';
import { waitForStage } from './support/workflow-polling';

const h = onboardingHarnessForFile({ namespace: 'registration' });

const requestsOf = (id: string) => h.sandbox.requests().filter((r) => r.phoneNumberId === id);
const registerCalls = (id: string) =>
  requestsOf(id).filter((r) => r.method === 'POST' && r.path.endsWith('/register')).length;

async function onboard(id: string, register?: RegisterChoice): Promise<RegisterNumberResult> {
  await startOnboarding(h.client, { phoneNumberId: id, ...(register && { register }) });
  return (await h.client.workflow.getHandle(workflowIdFor(id)).result()) as RegisterNumberResult;
}

/** The two-step PIN the sandbox holds equals the vault's active version. */
async function expectSandboxHoldsVaultPin(id: string) {
  const active = await h.pinStore.readActivePin(id);
  expect(active).toBeDefined();
  expect(h.sandbox.pinOf(id)).toBe(active?.pin);
}

describe('register: auto', () => {
  it('an unregistered number ends Completed, registered, its two-step PIN the vault active version', async () => {
    const [id] = phoneNumberIds(1) as [string];
    h.sandbox.setupNumber(id, { registered: false });
    const result = await onboard(id, 'auto');
    expect(result).toMatchObject({ outcome: 'Completed', registration: 'registered' });
    expect(h.sandbox.numberState(id)).toMatchObject({ registered: true, registerCalls: 1 });
    await expectSandboxHoldsVaultPin(id);
    const status = await h.client.workflow.getHandle(workflowIdFor(id)).query<RegisterNumberStatus>('status');
    expect(status.registration).toMatchObject({ choice: 'auto', outcome: 'registered' });
    expect(status.registration?.budget).toMatchObject({ usedInWindow: 1, limit: 10, canRegisterNow: true });
  });

  it('a registered number is read, not registered again: no /register call', async () => {
    const [id] = phoneNumberIds(1) as [string];
    const result = await onboard(id, 'auto');
    expect(result).toMatchObject({ outcome: 'Completed', registration: 'alreadyRegistered' });
    expect(registerCalls(id)).toBe(0);
    expect(requestsOf(id).map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST /v25.0/${id}`,
      `GET /v25.0/${id}`,
    ]);
    await expectSandboxHoldsVaultPin(id);
  });

  it('is the default when the input names no choice', async () => {
    const [id] = phoneNumberIds(1) as [string];
    h.sandbox.setupNumber(id, { registered: false });
    expect(await onboard(id)).toMatchObject({ outcome: 'Completed', registration: 'registered' });
  });
});

describe("Meta's 'not registered' answer to the two-step call", () => {
  it('setTwoStepPin answered 133010 leads to one /register call with the stored PIN, then Completed', async () => {
    const [id] = phoneNumberIds(1) as [string];
    h.sandbox.setScenario(id, { kind: 'registration', code: 133010, endpoint: 'setPin', times: 1 });
    const result = await onboard(id, 'auto');
    expect(result).toMatchObject({ outcome: 'Completed', registration: 'registered' });
    expect(requestsOf(id).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      `POST /v25.0/${id} 400`,
      `POST /v25.0/${id}/register 200`,
    ]);
    await expectSandboxHoldsVaultPin(id);
  });

  it('always registers even a registered number, with the PIN just set', async () => {
    const [id] = phoneNumberIds(1) as [string];
    expect(await onboard(id, 'always')).toMatchObject({ outcome: 'Completed', registration: 'registered' });
    expect(registerCalls(id)).toBe(1);
    await expectSandboxHoldsVaultPin(id);
  });

  it('never: a registered number only gets its PIN', async () => {
    const [id] = phoneNumberIds(1) as [string];
    expect(await onboard(id, 'never')).toMatchObject({ outcome: 'Completed', registration: 'notRequested' });
    expect(requestsOf(id)).toHaveLength(1);
  });
});

interface ParkCase {
  name: string;
  register: RegisterChoice;
  setup?: SandboxNumberSetup;
  scenario?: Scenario;
  step: string;
  type: string;
  runbook: RunbookId;
  /** Words the details must contain for this cause. */
  says: RegExp;
  changePin: boolean;
}

const PARK_CASES: ParkCase[] = [
  {
    name: 'expired token (190)',
    register: 'auto',
    scenario: { kind: 'expiredToken' },
    step: 'setTwoStepPin',
    type: 'GraphAuthError',
    runbook: 'rotate-token',
    says: /system-user token/,
    changePin: false,
  },
  {
    name: 'permission denied (10)',
    register: 'auto',
    scenario: { kind: 'graphError', code: 10 },
    step: 'setTwoStepPin',
    type: 'GraphPermissionError',
    runbook: 'grant-permission',
    says: /linked to the client's WABA/,
    changePin: false,
  },
  {
    name: 'app not linked to the WABA (200), at /register',
    register: 'always',
    scenario: { kind: 'graphError', code: 200, endpoint: 'register' },
    step: 'registerPhoneNumber',
    type: 'GraphPermissionError',
    runbook: 'grant-permission',
    says: /access token debugger/,
    changePin: false,
  },
  {
    name: 'access denied (131005)',
    register: 'always',
    scenario: { kind: 'graphError', code: 131005, endpoint: 'register' },
    step: 'registerPhoneNumber',
    type: 'GraphPermissionError',
    runbook: 'grant-permission',
    says: /whatsapp_business_management/,
    changePin: false,
  },
  {
    name: 'number not verified (133006)',
    register: 'always',
    setup: { registered: false, verified: false },
    step: 'registerPhoneNumber',
    type: 'GraphNumberNotVerified',
    runbook: 'verify-number',
    says: /Verify ownership of the number/,
    changePin: false,
  },
  {
    name: 'incomplete deregistration (133000)',
    register: 'always',
    scenario: { kind: 'registration', code: 133000 },
    step: 'registerPhoneNumber',
    type: 'GraphIncompleteDeregistration',
    runbook: 'deregister-then-retry',
    says: /Deregister the number again/,
    changePin: false,
  },
  {
    name: 'PIN mismatch (133005)',
    register: 'always',
    setup: { registered: false, twoStepPin: '246813' },
    step: 'registerPhoneNumber',
    type: 'GraphPinMismatch',
    runbook: 'pin-mismatch',
    says: /Turn off two-step verification/,
    changePin: true,
  },
  {
    name: 'register flavour of 131031',
    register: 'always',
    scenario: { kind: 'registration', code: 131031 },
    step: 'registerPhoneNumber',
    type: 'GraphRegisterPinRejected',
    runbook: 'pin-mismatch',
    says: /never tries a second PIN/,
    changePin: true,
  },
  {
    name: 'not registered, registration not allowed (never)',
    register: 'never',
    setup: { registered: false },
    step: 'setTwoStepPin',
    type: 'GraphNotRegistered',
    runbook: 'register-number',
    says: /register: never/,
    changePin: false,
  },
  {
    name: '/register itself says not registered (133010)',
    register: 'always',
    scenario: { kind: 'registration', code: 133010 },
    step: 'registerPhoneNumber',
    type: 'GraphNotRegistered',
    runbook: 'ask-meta',
    says: /Direct Support/,
    changePin: false,
  },
  {
    name: 'account restricted (368)',
    register: 'auto',
    scenario: { kind: 'accountLocked', code: 368 },
    step: 'setTwoStepPin',
    type: 'GraphAccountRestricted',
    runbook: 'account-restricted',
    says: /policy restriction/,
    changePin: false,
  },
  {
    name: 'unknown number (33)',
    register: 'auto',
    scenario: { kind: 'unknownNumber', code: 33 },
    step: 'setTwoStepPin',
    type: 'GraphUnknownNumber',
    runbook: 'unknown-number',
    says: /phone-number id/,
    changePin: false,
  },
];

describe('every parked cause names its runbook in the status and the UI details', () => {
  it.each(PARK_CASES)('$name -> $runbook', async (c) => {
    const [id] = phoneNumberIds(1) as [string];
    if (c.setup) h.sandbox.setupNumber(id, c.setup);
    if (c.scenario) h.sandbox.setScenario(id, c.scenario);
    await startOnboarding(h.client, { phoneNumberId: id, register: c.register });
    const status = await waitForStage(h.client, id, 'AwaitingManualReset');
    expect(status.lastError).toMatchObject({ step: c.step, type: c.type });
    expect(status.runbook).toBe(c.runbook);
    expect(status.procedure).toMatch(c.says);
    const metadata = await h.client.workflow.getHandle(workflowIdFor(id)).query(workflowMetadataQuery);
    const details = metadata.currentDetails ?? '';
    expect(details).toContain(`(runbook \`${c.runbook}\`)`);
    expect(details).toMatch(c.says);
    expect(details.includes('Change PIN')).toBe(c.changePin);
    // A park never costs more than the one /register call that found the cause.
    expect(registerCalls(id)).toBe(c.step === 'registerPhoneNumber' ? 1 : 0);
  });
});
