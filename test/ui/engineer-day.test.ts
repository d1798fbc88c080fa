// The on-call engineer's day in the real Temporal Web UI, in headless Chromium: sign in to the
// codec server the documented way, find the parked numbers, read why one is parked, fix it with
// "Send a Signal" (a refused payload first), retry another, and Reset a finished run. Everything
// is real: the dev server and its UI, the worker, the codec server, OpenBao and the Graph sandbox,
// all as `npm run stack` wires them (the UI front included), on ports this file picks.
// Screenshots: test-results/engineer-day/ (git-ignored). Clicks and seconds are printed.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataConverter } from '../../src/codec/data-converter';
import { parseKeyring } from '../../src/crypto/keyring';
import { createGraphClient } from '../../src/graph/graph-client';
import { SANDBOX_ACCESS_TOKEN } from '../../src/graph/graph-config';
import {
  codecServerService,
  graphSandboxService,
  LOCAL_KV_MOUNT,
  LOCAL_PIN_PREFIX,
  workerAppRoleService,
} from '../../src/local-stack/product-services';
import { freePort } from '../../src/local-stack/processes';
import { startLocalStack, type LocalStack } from '../../src/local-stack/stack';
import { stackWorkerService } from '../../src/local-stack/stack-worker';
import { startOnboarding } from '../../src/onboarding/start-onboarding';
import { createPinStore, type PinStore } from '../../src/vault/pin-store';
import { createVaultClient } from '../../src/vault/vault-client';
import {
  workflowIdFor,
  type RegisterNumberInput,
  type RegisterNumberResult,
} from '../../src/workflows/messages';
import { waitForStage } from '../support/workflow-polling';
import { chromiumInstalled, CHROMIUM_PATH, EngineerSession } from './engineer-session';
import { HANDLER_DESCRIPTIONS } from '../../src/workflows/ui-descriptions';

const SCREENSHOTS = join(__dirname, '..', '..', 'test-results', 'engineer-day');

/** Parked for a person: a locked account (fixed by hand) and an expired token (fixed, retried). */
const LOCKED = '15550100001';
const EXPIRED = '15550100002';
const LOCKED_TOO = '15550100003';
const HEALTHY = '15550100004';
const PARKED = [LOCKED, EXPIRED, LOCKED_TOO];
const ALL = [...PARKED, HEALTHY];
const OPERATOR = 'oncall.engineer';

type RegisterNumber = (input: RegisterNumberInput) => Promise<RegisterNumberResult>;

const haveChromium = chromiumInstalled();
// Under CI a missing browser is a failure, never a skip (scripts/install-chromium.mjs fails first).
const skip = !haveChromium && !/^(1|true|yes)$/i.test(process.env.CI ?? '');
if (skip) {
  console.error(
    `${'!'.repeat(100)}\nengineer-day: ${CHROMIUM_PATH} is missing, so the browser test SKIPS. ` +
      'Run node scripts/install-chromium.mjs (apt-get install chromium); CI fails in that case.\n' +
      '!'.repeat(100),
  );
}

let scratch: string;
let stack: LocalStack;
let client: Client;
let connection: Connection;
let pins: PinStore;
let browser: EngineerSession;
let codecToken: string;
let sandboxUrl: string;

// From opening the UI to the first parked number fixed.
let openedUiAt = 0;
let clicksAtOpen = 0;
let fixed: { clicks: number; seconds: number; refusalClicks: number } | undefined;

async function sandbox(method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const res = await request(`${sandboxUrl}/_sandbox/${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`sandbox ${method} ${path}: ${res.statusCode} ${text}`);
  return JSON.parse(text) as unknown;
}

async function sandboxPin(phoneNumberId: string): Promise<string | null> {
  return ((await sandbox('GET', `numbers/${phoneNumberId}`)) as { pin: string | null }).pin;
}

/**
 * What the engineer does in WhatsApp Manager before sending manualReset: set the number's PIN to
 * the stored version. Here straight on the sandbox, past the fault that only applies to the API.
 */
async function setStoredPinByHand(phoneNumberId: string): Promise<void> {
  const state = await pins.describe(phoneNumberId);
  if (!state?.pendingVersion) throw new Error(`${phoneNumberId} has no pending PIN to set by hand`);
  const pin = await pins.readPin({ phoneNumberId, version: state.pendingVersion });
  await sandbox('DELETE', `scenarios/${phoneNumberId}`);
  const graph = createGraphClient({
    baseUrl: sandboxUrl,
    apiVersion: 'v25.0',
    accessToken: SANDBOX_ACCESS_TOKEN,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
  });
  await graph.setTwoStepPin({ phoneNumberId, pin });
  await sandbox('PUT', `scenarios/${phoneNumberId}`, { kind: 'accountLocked' });
}

/** Every PIN the vault ever stored for these numbers, with where it came from (never printed). */
async function everyStoredPin(): Promise<Array<{ where: string; pin: string }>> {
  const found: Array<{ where: string; pin: string }> = [];
  for (const phoneNumberId of ALL) {
    const state = await pins.describe(phoneNumberId);
    for (let version = 1; version <= (state?.currentVersion ?? 0); version++) {
      found.push({
        where: `${phoneNumberId} v${version}`,
        pin: await pins.readPin({ phoneNumberId, version }),
      });
    }
  }
  return found;
}

/** The result of the number's latest run, once it has closed. */
function finalResult(phoneNumberId: string): Promise<RegisterNumberResult> {
  return client.workflow.getHandle<RegisterNumber>(workflowIdFor(phoneNumberId)).result();
}

function workflowPage(phoneNumberId: string): string {
  return `${stack.uiUrl}/namespaces/${stack.namespace}/workflows/${workflowIdFor(phoneNumberId)}`;
}

/** The workflow ids the list shows, sorted. */
async function listedWorkflowIds(): Promise<string[]> {
  const rows = browser.page.getByTestId('workflows-summary-configurable-table-row');
  const texts = await rows.allInnerTexts();
  return texts.flatMap((t) => /register-number-\d+/.exec(t)?.[0] ?? []).sort();
}

/** More Actions > Send a Signal > name > JSON input > Submit. */
async function sendSignal(name: 'manualReset' | 'retry', input: string): Promise<void> {
  const page = browser.page;
  await browser.click(page.getByRole('button', { name: 'More Actions' }));
  await browser.click(page.getByRole('menuitem', { name: 'Send a Signal' }));
  const dialog = page.locator('dialog[open]');
  await browser.click(dialog.getByTestId('signal-select-button'));
  // Each option shows the handler's description under its name (src/workflows/ui-descriptions.ts).
  const option = dialog.getByRole('option', { name: new RegExp(`^${name}(?![A-Za-z])`) });
  expect(await option.innerText()).toContain(HANDLER_DESCRIPTIONS[name]);
  await browser.click(option);
  const editor = dialog.getByRole('textbox', { name: 'Data' });
  await browser.click(editor);
  await editor.fill(input);
  await browser.click(dialog.getByTestId('confirm-modal-button'));
  await expect.poll(() => dialog.isVisible(), { timeout: 15_000 }).toBe(false);
}

/** The Result card on the Timeline tab, decoded by the codec server, reaches this outcome. */
async function waitForOutcome(outcome: RegisterNumberResult['outcome']): Promise<void> {
  const page = browser.page;
  await browser.click(page.getByRole('tab', { name: 'Timeline' }));
  await page.getByText(`"outcome": "${outcome}"`).waitFor({ timeout: 30_000 });
}

describe.skipIf(skip)("the on-call engineer's day in the Temporal Web UI", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'engineer-day-'));
    codecToken = randomBytes(32).toString('base64url');
    const codecKeys = `ui-test:${randomBytes(32).toString('base64')}`;
    // Keys of its own: nothing is read from, or written to, the project's .data/ folder.
    const env = {
      ...process.env,
      PAYLOAD_CODEC_KEYS: codecKeys,
      PIN_SEALING_KEYS: `ui-seal:${randomBytes(32).toString('base64')}`,
      CODEC_SERVER_AUTH_TOKEN: codecToken,
    };
    const temporalPort = await freePort();
    const uiPort = await freePort();
    const vaultPort = await freePort();
    const graphPort = await freePort();
    const codecPort = await freePort();
    sandboxUrl = `http://127.0.0.1:${graphPort}`;
    stack = await startLocalStack({
      temporalPort,
      uiPort,
      vaultPort,
      dataDir: join(scratch, 'stack'),
      persistent: false,
      uiCodecServer: `http://127.0.0.1:${codecPort}`,
      extraServices: [
        workerAppRoleService(),
        graphSandboxService({
          port: graphPort,
          scenarios: {
            [LOCKED]: { kind: 'accountLocked' },
            [EXPIRED]: { kind: 'expiredToken' },
            [LOCKED_TOO]: { kind: 'accountLocked' },
          },
        }),
        codecServerService({ port: codecPort, env }),
        stackWorkerService({ graphBaseUrl: sandboxUrl, env }),
      ],
    });
    pins = createPinStore({
      vault: createVaultClient({
        address: stack.vaultAddress,
        auth: { kind: 'token', token: stack.vaultToken },
        timeoutMs: 5_000,
      }),
      mount: LOCAL_KV_MOUNT,
      prefix: LOCAL_PIN_PREFIX,
    });
    connection = await Connection.connect({ address: stack.temporalAddress });
    client = new Client({
      connection,
      namespace: stack.namespace,
      dataConverter: createDataConverter(parseKeyring('PAYLOAD_CODEC_KEYS', codecKeys)),
    });
    for (const [i, phoneNumberId] of ALL.entries()) {
      await startOnboarding(client, {
        phoneNumberId,
        displayPhoneNumber: `+1 555 010 000${i + 1}`,
        tenant: 'acme',
      });
    }
    for (const phoneNumberId of PARKED) await waitForStage(client, phoneNumberId, 'AwaitingManualReset');
    await client.workflow.getHandle(workflowIdFor(HEALTHY)).result();
    browser = await EngineerSession.open(SCREENSHOTS);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await connection?.close();
    await stack?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    if (fixed) {
      console.log(
        `engineer-day: from opening the UI to a parked number fixed: ${fixed.clicks} clicks, ` +
          `${fixed.seconds.toFixed(1)} s, including a refused payload and a reload (${fixed.refusalClicks} ` +
          `clicks; ${fixed.clicks - fixed.refusalClicks} clicks without them); screenshots in ${SCREENSHOTS}`,
      );
    }
  });

  it('1. signs in to the codec server by opening the URL the stack prints', async () => {
    const page = browser.page;
    await page.goto(`${stack.uiUrl}/codec/login?token=${codecToken}`);
    // The token leaves the address bar once the cookie is set.
    expect(page.url()).toBe(`${stack.uiUrl}/codec/login`);
    await page.getByText('This browser holds the codec server credential').waitFor();
    await browser.capture('01-signed-in');
  });

  it('2. searches OnboardingStatus="AwaitingManualReset" and sees exactly the parked numbers', async () => {
    const page = browser.page;
    openedUiAt = Date.now();
    clicksAtOpen = browser.clicks;
    await page.goto(stack.uiUrl);
    // No UI setting was touched: the codec status says configured, and no error banner shows.
    await page.getByTestId('data-encoder-status-configured').waitFor();
    await browser.click(page.getByTestId('toggle-manual-query'));
    const query = page.getByTestId('workflow-manual-search-input');
    await query.fill('OnboardingStatus="AwaitingManualReset"');
    await query.press('Enter');
    await expect
      .poll(listedWorkflowIds, { timeout: 30_000 })
      .toEqual(PARKED.map((id) => workflowIdFor(id)).sort());
    expect(await browser.visibleText()).not.toMatch(/Codec Server could not connect/i);
    await browser.capture('02-parked-numbers');
  });

  it('3. opens one and reads the failure, the Graph code, the vault path and version, the runbook and the signal JSON', async () => {
    const page = browser.page;
    await browser.click(page.getByRole('link', { name: workflowIdFor(LOCKED) }).first());
    // The input is decoded by the codec server: plain JSON, not ciphertext.
    await page.getByText(`"phoneNumberId": "${LOCKED}"`).waitFor();
    await browser.click(page.getByRole('tab', { name: 'User Metadata' }));
    const details = page.frameLocator('iframe').last();
    await details.getByText('What happened:').waitFor();
    const text = await browser.visibleText();
    expect(text).toContain('+1 555 010 0001 · tenant acme'); // the static summary, decoded
    expect(text).toMatch(/What happened: While setting the PIN on Meta, Meta has locked or restricted/);
    expect(text).toMatch(/Next action: Set the stored PIN by hand in WhatsApp Manager/);
    expect(text).toContain('GraphAccountRestricted');
    expect(text).toContain('Graph code 131031');
    expect(text).toContain(`Vault path secret/whatsapp/two-step-pins/${LOCKED}, version 1`);
    expect(text).toContain('Choose Change PIN, type the stored PIN, confirm it, and save.');
    expect(text).toContain('{"operator":"your.name","note":"PIN changed in WhatsApp Manager"}');
    await browser.capture('03-current-details');
  });

  it('4. sends manualReset: a malformed payload is refused with its reason, a valid one completes it', async () => {
    const page = browser.page;
    const beforeRefusal = browser.clicks;
    await sendSignal('manualReset', '{"note":"PIN changed in WhatsApp Manager"}');
    await browser.reload();
    const details = page.frameLocator('iframe').last();
    await details.getByText('signal was refused').waitFor();
    expect(await browser.visibleText()).toMatch(
      /Your last manualReset signal was refused \([^)]+\): .operator. is required/,
    );
    await browser.capture('04a-refusal-in-details');
    const refusalClicks = browser.clicks - beforeRefusal;

    await setStoredPinByHand(LOCKED);
    await sendSignal(
      'manualReset',
      JSON.stringify({ operator: OPERATOR, note: 'PIN changed in WhatsApp Manager' }),
    );
    await waitForOutcome('CompletedManually');
    fixed = {
      clicks: browser.clicks - clicksAtOpen,
      seconds: (Date.now() - openedUiAt) / 1000,
      refusalClicks,
    };
    await browser.capture('04b-completed-manually');
    const result = await finalResult(LOCKED);
    expect(result).toMatchObject({ outcome: 'CompletedManually', operator: OPERATOR });
    const active = await pins.readActivePin(LOCKED);
    expect(active?.version).toBe(1);
    expect(await sandboxPin(LOCKED)).toBe(active?.pin);
  });

  it('5. retries another number once its fault is cleared, and sees Completed', async () => {
    const page = browser.page;
    await sandbox('DELETE', `scenarios/${EXPIRED}`); // the engineer rotated the token
    await page.goto(workflowPage(EXPIRED));
    await page.getByText(`"phoneNumberId": "${EXPIRED}"`).waitFor();
    await sendSignal('retry', JSON.stringify({ operator: OPERATOR, note: 'token rotated' }));
    await waitForOutcome('Completed');
    await browser.capture('05-retried-completed');
  });

  it('6. resets the completed run to a workflow task; the vault and Meta still agree', async () => {
    const page = browser.page;
    const handle = client.workflow.getHandle(workflowIdFor(EXPIRED));
    const before = await handle.describe();
    await page.goto(workflowPage(EXPIRED));
    await browser.click(page.getByRole('button', { name: 'Reset', exact: true }));
    const dialog = page.locator('dialog[open]');
    await browser.click(dialog.getByTestId('workflow-reset-event-id-select-button'));
    await browser.click(dialog.getByRole('option', { name: /WorkflowTaskCompleted/ }).first());
    await dialog.getByTestId('reset-reason').fill('engineer-day: run it again from the first workflow task');
    await browser.click(dialog.getByTestId('confirm-modal-button'));

    // A new run, started by the reset, that finishes on its own.
    await expect
      .poll(async () => (await client.workflow.getHandle(workflowIdFor(EXPIRED)).describe()).runId, {
        timeout: 30_000,
      })
      .not.toBe(before.runId);
    const result = await finalResult(EXPIRED);
    expect(result.outcome).toBe('Completed');
    await page.goto(workflowPage(EXPIRED));
    await page.getByText('"outcome": "Completed"').waitFor();
    await browser.capture('06-reset-new-run');

    const state = await pins.describe(EXPIRED);
    const active = await pins.readActivePin(EXPIRED);
    expect(state?.activeVersion).toBe(result.vault?.version);
    expect(active?.pin).toMatch(/^\d{6}$/);
    expect(await sandboxPin(EXPIRED)).toBe(active?.pin);
  });

  it('7. never shows a PIN: no stored PIN appears in the text of any step', async () => {
    const stored = await everyStoredPin();
    expect(stored.length).toBeGreaterThanOrEqual(PARKED.length + 1);
    expect(browser.texts.map((t) => t.step)).toEqual([
      '01-signed-in',
      '02-parked-numbers',
      '03-current-details',
      '04a-refusal-in-details',
      '04b-completed-manually',
      '05-retried-completed',
      '06-reset-new-run',
    ]);
    const leaks = browser.texts.flatMap(({ step, text }) =>
      stored
        .filter(({ pin }) => new RegExp(`(?<!\\d)${pin}(?!\\d)`).test(text))
        .map(({ where }) => `${step} shows the PIN of ${where}`),
    );
    expect(leaks).toEqual([]);
  });
});
