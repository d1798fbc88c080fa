// The operator CLI against real parked workflows (dev server, OpenBao, Graph sandbox): what
// `list` finds, what `show` says, and that `reset` / `retry` finish a number, or refuse clearly.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNumberSetupFile } from '../src/graph-sandbox/number-setups';
import { loadScenarioFile } from '../src/graph-sandbox/scenarios';
import { freePort } from '../src/local-stack/processes';
import { startOnboarding } from '../src/onboarding/start-onboarding';
import { runOps } from '../src/ops/ops-cli';
import type { OnboardingListEntry } from '../src/ops/parked-numbers';
import { runStarter } from '../src/batch/run-starter';
import { statusQuery, workflowIdFor, type RegisterNumberResult } from '../src/workflows/messages';
import { phoneNumberIds, startOnboardingHarness, type OnboardingHarness } from './support/onboarding-harness';
import { PROJECT_ROOT, runToExit } from './support/process-runner';
import { waitForStage } from './support/workflow-polling';

let h: OnboardingHarness;

// expiredToken / invalidParameter fail for good: parked. `busy` is throttled for an hour by Meta,
// so it stays in SettingPin, working, not waiting.
const [expired, invalid, fixable, done, busy] = phoneNumberIds(5) as [string, string, string, string, string];
const parked = [expired, invalid, fixable].sort();

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function ops(...argv: string[]): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await runOps({
    argv,
    env: {},
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    client: h.client,
  });
  return { code, stdout, stderr };
}

/** A command that must succeed quietly: exit 0, nothing on stderr; its stdout. */
async function opsSucceeds(...argv: string[]): Promise<string> {
  const { code, stdout, stderr } = await ops(...argv);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return stdout;
}

beforeAll(async () => {
  h = await startOnboardingHarness({ namespace: 'ops' });
  await h.startWorkers();
  h.sandbox.setScenario(expired, { kind: 'expiredToken' });
  h.sandbox.setScenario(invalid, { kind: 'invalidParameter', code: 100 });
  h.sandbox.setScenario(fixable, { kind: 'expiredToken' });
  h.sandbox.setScenario(busy, { kind: 'throttled', code: 80007, regainAccessMinutes: 60 });
  for (const phoneNumberId of [expired, invalid, fixable, done, busy]) {
    await startOnboarding(h.client, { phoneNumberId, tenant: 'acme' });
  }
  await h.client.workflow.getHandle(workflowIdFor(done)).result();
  for (const id of parked) await waitForStage(h.client, id, 'AwaitingManualReset');
});

afterAll(async () => {
  await h?.client.workflow
    .getHandle(workflowIdFor(busy))
    .terminate('ops test over')
    .catch(() => undefined);
  await h?.close();
});

describe('ops list', () => {
  it('lists exactly the parked numbers, with their reason, vault location and age', async () => {
    // Visibility is eventually consistent: poll until the search has caught up.
    let entries: OnboardingListEntry[] = [];
    await expect
      .poll(
        async () => {
          const { code, stdout } = await ops('list', '--json');
          expect(code).toBe(0);
          entries = JSON.parse(stdout) as OnboardingListEntry[];
          return entries.map((e) => e.phoneNumberId).sort();
        },
        { timeout: 20_000, interval: 300 },
      )
      .toEqual(parked);
    const byId = new Map(entries.map((e) => [e.phoneNumberId, e]));
    expect(byId.get(expired)).toMatchObject({
      stage: 'AwaitingManualReset',
      executionStatus: 'RUNNING',
      lastError: { step: 'setTwoStepPin', type: 'GraphAuthError', graphCode: 190 },
      vault: { path: h.pinStore.logicalPath(expired), version: 1 },
    });
    expect(byId.get(invalid)?.lastError).toMatchObject({ type: 'GraphInvalidParameter', graphCode: 100 });
    expect(byId.get(expired)?.waitingSince).toBe(byId.get(expired)?.lastError?.at);

    const { code, stdout } = await ops('list');
    expect(code).toBe(0);
    expect(stdout).toContain('3 numbers awaiting a manual reset in namespace "ops"');
    const line = stdout.split('\n').find((l) => l.startsWith(expired));
    expect(line).toMatch(/setTwoStepPin GraphAuthError \(Graph 190\/463, HTTP 401, 1 attempt\)/);
    expect(line).toContain(`${h.pinStore.logicalPath(expired)} v1`);
    expect(line).toMatch(/ \d+(s|m \d\ds) /);
    expect(stdout).not.toContain(done);
    expect(stdout).not.toContain(busy);
  });

  it('--all lists every stage, the completed and the working numbers too', async () => {
    await expect
      .poll(
        async () => {
          const entries = JSON.parse((await ops('list', '--all', '--json')).stdout) as OnboardingListEntry[];
          return Object.fromEntries(entries.map((e) => [e.phoneNumberId, e.stage]));
        },
        { timeout: 20_000, interval: 300 },
      )
      .toEqual({
        [expired]: 'AwaitingManualReset',
        [invalid]: 'AwaitingManualReset',
        [fixable]: 'AwaitingManualReset',
        [done]: 'Completed',
        [busy]: 'SettingPin',
      });
    const { stdout } = await ops('list', '--all');
    expect(stdout).toMatch(new RegExp(`${done}\\s+Completed\\s+COMPLETED\\s+closed`));
  });
});

describe('ops show', () => {
  it('prints the status readably: stage, error, vault location, deadline, procedure and next steps', async () => {
    const { code, stdout } = await ops('show', expired);
    expect(code).toBe(0);
    expect(stdout).toContain(`workflow ${workflowIdFor(expired)}`);
    expect(stdout).toContain('stage:      AwaitingManualReset (Temporal: RUNNING)');
    expect(stdout).toContain('tenant:     acme');
    expect(stdout).toMatch(
      /last error: setTwoStepPin GraphAuthError \(Graph 190\/463, HTTP 401, 1 attempt\)/,
    );
    expect(stdout).toMatch(/fbtrace_id \S+/);
    expect(stdout).toContain(
      `vault:      ${h.pinStore.logicalPath(expired)} version 1 (the PIN is never shown)`,
    );
    expect(stdout).toMatch(/deadline: {3}\S+ \(in 13d 23h; then Abandoned\)/);
    // The runbook for an expired token: rotate it, then retry; the PIN is not the problem.
    expect(stdout).toContain('runbook:    rotate-token');
    expect(stdout).toContain('system-user token');
    expect(stdout).toMatch(/register: {3}auto/);
    expect(stdout).toContain(`npm run ops -- reset ${expired} --operator NAME`);
    // The PIN itself is never printed.
    const pin = await h.deps.vault.readPin({ phoneNumberId: expired, version: 1 });
    expect(stdout).not.toContain(pin);
  });

  it('prints the registration choice, the budget and the runbook of a number parked at /register', async () => {
    const [mismatch] = phoneNumberIds(1) as [string];
    h.sandbox.setupNumber(mismatch, { registered: false, twoStepPin: '135024' });
    await startOnboarding(h.client, { phoneNumberId: mismatch, register: 'always' });
    await waitForStage(h.client, mismatch, 'AwaitingManualReset');
    try {
      const { code, stdout } = await ops('show', mismatch);
      expect(code).toBe(0);
      expect(stdout).toMatch(/last error: registerPhoneNumber GraphPinMismatch \(Graph 133005, HTTP 400/);
      expect(stdout).toContain('register:   always');
      expect(stdout).toMatch(
        /budget: {5}1 of 10 register\/deregister calls used in 72 h; the oldest frees at \S+ \(in 2d 23h\)/,
      );
      expect(stdout).toContain('1 registers in 7 days; a call is allowed now');
      expect(stdout).toContain('runbook:    pin-mismatch');
      expect(stdout).toContain('Change PIN');
    } finally {
      await h.client.workflow.getHandle(workflowIdFor(mismatch)).terminate('ops test: shown');
    }
  });

  it('accepts the workflow id as copied from the UI, and --json gives the raw status', async () => {
    const { code, stdout } = await ops('show', workflowIdFor(invalid), '--json');
    expect(code).toBe(0);
    const parsed = JSON.parse(stdout) as { status: { stage: string; phoneNumberId: string } };
    expect(parsed.status).toMatchObject({ stage: 'AwaitingManualReset', phoneNumberId: invalid });
  });

  it('an unknown number is a clear one-line error', async () => {
    const { code, stdout, stderr } = await ops('show', '999000111222333');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'ops: no onboarding workflow for number 999000111222333 (workflow id register-number-999000111222333) ' +
        'in namespace "ops"\n',
    );
  });
});

describe('ops reset', () => {
  it('without --operator: refused before anything is sent, and the workflow still waits', async () => {
    const { code, stderr } = await ops('reset', expired);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^ops: reset needs --operator NAME/);
    const status = await h.client.workflow.getHandle(workflowIdFor(expired)).query(statusQuery);
    expect(status.stage).toBe('AwaitingManualReset');
    expect(status.history).toEqual([]);
  });

  it('completes the number manually and marks the stored version active', async () => {
    const stdout = await opsSucceeds(
      'reset',
      expired,
      '--operator',
      'jane.doe',
      '--note',
      'PIN changed in WhatsApp Manager',
    );
    expect(stdout).toBe(
      `reset: number ${expired} is CompletedManually; vault ${h.pinStore.logicalPath(expired)} version 1 is active\n`,
    );
    const handle = h.client.workflow.getHandle(workflowIdFor(expired));
    const result = (await handle.result()) as RegisterNumberResult;
    expect(result).toMatchObject({ outcome: 'CompletedManually', operator: 'jane.doe' });
    expect(await h.pinStore.describe(expired)).toEqual({ currentVersion: 1, activeVersion: 1 });
    const status = await handle.query(statusQuery);
    expect(status.history).toEqual([
      expect.objectContaining({
        kind: 'manualReset',
        operator: 'jane.doe',
        note: 'PIN changed in WhatsApp Manager',
      }),
    ]);
  });

  it('a closed workflow is not waiting: the error names its stage', async () => {
    const { code, stderr } = await ops('reset', done, '--operator', 'jane.doe');
    expect(code).toBe(1);
    expect(stderr).toBe(
      `ops: number ${done} is not waiting for an operator: its workflow has closed as Completed (Temporal status COMPLETED)\n`,
    );
  });

  it('a running workflow busy with a step refuses the request, naming its stage', async () => {
    await waitForStage(h.client, busy, 'SettingPin');
    const { code, stderr } = await ops('reset', busy, '--operator', 'jane.doe');
    expect(code).toBe(1);
    expect(stderr).toBe(`ops: number ${busy} is not waiting for an operator: its workflow is SettingPin\n`);
    const status = await h.client.workflow.getHandle(workflowIdFor(busy)).query(statusQuery);
    expect(status.stage).toBe('SettingPin');
    expect(status.history).toEqual([]);
  });
});

describe('ops retry', () => {
  it('while the cause is still there: fails again with the new reason, and the number waits again', async () => {
    const { code, stdout, stderr } = await ops('retry', fixable, '--operator', 'sam');
    expect(stdout).toBe('');
    expect(code).toBe(1);
    expect(stderr).toMatch(
      new RegExp(
        `^ops: retry of number ${fixable} failed again, the workflow is back in AwaitingManualReset: setTwoStepPin GraphAuthError`,
      ),
    );
    const status = await h.client.workflow.getHandle(workflowIdFor(fixable)).query(statusQuery);
    expect(status.stage).toBe('AwaitingManualReset');
    expect(status.history).toEqual([expect.objectContaining({ kind: 'retry', operator: 'sam' })]);
  });

  it('after the cause is fixed: the step runs again and the number completes with the stored PIN', async () => {
    h.sandbox.setScenario(fixable, undefined);
    const stdout = await opsSucceeds('retry', fixable, '--operator', 'sam', '--note', 'token rotated');
    expect(stdout).toBe(
      `retry: number ${fixable} is Completed; vault ${h.pinStore.logicalPath(fixable)} version 1 is active\n`,
    );
    const active = await h.pinStore.readActivePin(fixable);
    expect(active?.version).toBe(1);
    expect(h.sandbox.pinOf(fixable)).toBe(active?.pin);
  });

  it('list no longer shows the numbers that were reset or retried', async () => {
    await expect
      .poll(
        async () =>
          (JSON.parse((await ops('list', '--json')).stdout) as OnboardingListEntry[]).map(
            (e) => e.phoneNumberId,
          ),
        { timeout: 20_000, interval: 300 },
      )
      .toEqual([invalid]);
  });
});

describe('after the example batch (examples/numbers.csv with the sandbox scenarios and number setups)', () => {
  it('list shows exactly the batch numbers the sandbox fails every time, and reset completes one', async () => {
    const scenarios = loadScenarioFile(join(PROJECT_ROOT, 'examples', 'sandbox-scenarios.json'));
    for (const [id, scenario] of Object.entries(scenarios)) h.sandbox.setScenario(id, scenario);
    const setups = loadNumberSetupFile(join(PROJECT_ROOT, 'examples', 'sandbox-numbers.json'));
    for (const [id, setup] of Object.entries(setups)) h.sandbox.setupNumber(id, setup);
    const mismatched = Object.keys(setups).filter((id) => setups[id]?.twoStepPin !== undefined);
    const budgetSpent = Object.keys(setups).filter((id) => (setups[id]?.recentRegistrationCalls ?? 0) >= 10);
    const fresh = Object.keys(setups).filter((id) => !mismatched.includes(id) && !budgetSpent.includes(id));
    expect([mismatched.length, budgetSpent.length, fresh.length > 1]).toEqual([1, 1, true]);
    // Faults with a count clear after a few tries; the others are permanent failures, and so is a
    // PIN that does not match the one set by hand.
    const permanent = [
      ...Object.entries(scenarios)
        .filter(([, scenario]) => scenario.kind !== 'chaos' && scenario.times === undefined)
        .map(([id]) => id),
      ...mismatched,
    ].sort();
    expect(permanent.length).toBeGreaterThan(1);
    let starterOut = '';
    const starterCode = await runStarter({
      argv: ['--file', join(PROJECT_ROOT, 'examples', 'numbers.csv'), '--wait', '--wait-timeout', '2m'],
      env: {
        ONBOARDING_RETRY_SCHEDULES: JSON.stringify({
          graph: { initialInterval: '1s', maximumInterval: '2s' },
        }),
      },
      stdout: { write: (t: string) => (starterOut += t) },
      stderr: { write: () => true, isTTY: false },
      client: h.client,
    });
    // Exit 1: some numbers wait for a human, which is the point.
    expect(starterCode, starterOut).toBe(1);
    const batch = new Set(
      readFileSync(join(PROJECT_ROOT, 'examples', 'numbers.csv'), 'utf8')
        .split('\n')
        .slice(1)
        .map((line) => line.split(',')[0])
        .filter((id): id is string => Boolean(id)),
    );
    await expect
      .poll(
        async () =>
          (JSON.parse((await ops('list', '--json')).stdout) as OnboardingListEntry[])
            .map((e) => e.phoneNumberId)
            .filter((id) => batch.has(id))
            .sort(),
        { timeout: 20_000, interval: 300 },
      )
      .toEqual(permanent);
    const statusOf = (id: string) => h.client.workflow.getHandle(workflowIdFor(id)).query(statusQuery);
    for (const id of fresh) expect((await statusOf(id)).registration?.outcome, id).toBe('registered');
    expect((await statusOf(mismatched[0]!)).runbook).toBe('pin-mismatch');
    // The budget spent elsewhere: Meta said 133016, the number waits for the window, not for a person.
    const waiting = await statusOf(budgetSpent[0]!);
    expect(waiting.stage).toBe('Registering');
    expect(waiting.registration?.waitingUntil).toBeDefined();
    expect(starterOut).toMatch(/StillRunning\s+1\b/);
    const unregisteredNumber = Object.keys(setups).concat(permanent);
    const untouched = [...batch].find((id) => !unregisteredNumber.includes(id) && !(id in scenarios));
    expect((await statusOf(untouched!)).registration?.outcome).toBe('alreadyRegistered');
    await h.client.workflow.getHandle(workflowIdFor(budgetSpent[0]!)).terminate('ops test over');

    const [first] = permanent as [string];
    const { code, stdout } = await ops('reset', first, '--operator', 'jane.doe');
    expect(code).toBe(0);
    expect(stdout).toMatch(
      new RegExp(`^reset: number ${first} is CompletedManually; vault \\S+ version 1 is active\n$`),
    );
    expect((await h.pinStore.describe(first))?.activeVersion).toBe(1);
  }, 180_000);
});

describe('command line', () => {
  it('--help on the CLI and on each command', async () => {
    const top = await ops('--help');
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^Usage: npm run ops -- <command>/);
    for (const command of ['list', 'show', 'reset', 'retry']) {
      const { code, stdout } = await ops(command, '--help');
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`^Usage: npm run ops -- ${command}`));
    }
    expect((await ops('help', 'reset')).stdout).toMatch(/^Usage: npm run ops -- reset/);
  });

  it.each([
    { argv: [], error: 'a command is required: one of list, show, reset, retry' },
    { argv: ['unpark'], error: 'unknown command "unpark": expected one of list, show, reset, retry' },
    { argv: ['show'], error: 'a phone-number id is required (e.g. 106540352242921)' },
    { argv: ['show', 'abc'], error: '"abc" is not a phone-number id (1-32 digits)' },
    { argv: ['list', '--operator', 'x'], error: 'list does not take --operator' },
    {
      argv: ['retry', '123', '--wait-timeout', 'soon'],
      error: '--wait-timeout must be a duration like 30s, 5m or 1h (got "soon")',
    },
  ])('usage error $argv: one line, exit 2', async ({ argv, error }) => {
    const { code, stderr } = await ops(...argv);
    expect(code).toBe(2);
    expect(stderr).toBe(`ops: ${error} (see --help)\n`);
  });

  it('as a process: Temporal unreachable is one line and exit 2', async () => {
    const port = await freePort();
    const { code, stderr } = await runToExit({
      name: 'ops list',
      script: 'src/ops/ops-cli.ts',
      args: ['list'],
      env: {
        PATH: process.env.PATH,
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
        PAYLOAD_CODEC_KEYS: `ops-test:${randomBytes(32).toString('base64')}`,
      },
    });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(new RegExp(`^ops: cannot reach Temporal at 127\\.0\\.0\\.1:${port} `));
  });
});
