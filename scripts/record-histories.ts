// Records the replay fixtures in test/histories/: real runs of registerNumber on a throwaway local
// stack (a Temporal dev server and an OpenBao dev server on free ports, the Graph sandbox, the
// product's workers), one per path a running workflow can be on, saved as the Web UI saves them.
//
//   npx tsx scripts/record-histories.ts [--only FILE[,FILE...]] [--prefix PREFIX]
//
// --prefix writes PREFIX + each file name: a new set beside the old files after a versioned change
// (the lean-* files were recorded with --prefix lean- after the lean-happy-path patch, the one-*
// files with --prefix one- after the one-marker-for-all-patches patch).
// --only rewrites just the named files: the five histories recorded before the workflow registered
// numbers must stay as they were, since they are what runs started under that code look like.
// Recordings whose workflow waits for days (Meta's 72-hour registration block) run on Temporal's
// time-skipping test server instead of the dev server; their histories replay the same way.
//
// Run it again after a deliberate, versioned change to the workflow (and keep the old files while
// workflows recorded under them can still be running). Payloads are encrypted with the fixtures'
// own codec key (test/histories/codec-keys.txt, made for these files only), and the PINs inside
// are sealed under a key generated here and never written anywhere.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';
import { parseArgs } from 'node:util';
import { createDataConverter } from '../src/codec/data-converter';
import { createKeyring } from '../src/crypto/keyring';
import { createGraphClient } from '../src/graph/graph-client';
import type { Scenario } from '../src/graph-sandbox/scenarios';
import { startGraphSandbox, type SandboxNumberSetup } from '../src/graph-sandbox/server';
import { serverBinary } from '../src/local-stack/server-binaries';
import { freePort, startOpenBaoDev, startTemporalDevServer } from '../src/local-stack/processes';
import { LOCAL_KV_MOUNT, LOCAL_PIN_PREFIX } from '../src/local-stack/product-services';
import { createOnboardingWorkers } from '../src/worker/onboarding-workers';
import { startOnboarding } from '../src/onboarding/start-onboarding';
import { readCodecKeysFile } from '../src/replay/codec-keys-file';
import { historyToJson } from '../src/replay/history-json';
import { installRuntimeLogging } from '../src/temporal/runtime-logging';
import { createPinStore } from '../src/vault/pin-store';
import { createVaultClient } from '../src/vault/vault-client';
import {
  manualResetSignal,
  pinChangedSignal,
  retrySignal,
  retryUpdate,
  statusQuery,
  workflowIdFor,
  type PinDriftPolicy,
  type RegisterNumberInput,
  type RegisterNumberStatus,
  type SecurityEventInput,
} from '../src/workflows/messages';
import { SECURITY_EVENT_MEMO_KEY } from '../src/trigger/security-event-handler';

const HISTORIES_DIR = resolve(__dirname, '..', 'test', 'histories');
const GRAPH_TOKEN = `record-${randomBytes(8).toString('hex')}`;

interface Recording {
  file: string;
  input: RegisterNumberInput;
  /** What the sandbox does for this number at the start. */
  scenario?: Scenario;
  /** How the number starts out in the sandbox (e.g. not registered yet). */
  setup?: SandboxNumberSetup;
  /** Recorded on the time-skipping test server: the run waits days of (skipped) time. */
  timeSkipping?: boolean;
  /** What an operator does while the run is open; the run is then followed to its close. */
  operate?: (ctx: OperatorContext) => Promise<void>;
  /** A run of the same number completed first (not recorded): the recorded run replaces it. */
  completedBefore?: RegisterNumberInput;
  /** The memo a security-event run carries (the trigger's redelivery guard). */
  memo?: Record<string, unknown>;
}

interface OperatorContext {
  client: Client;
  phoneNumberId: string;
  clearScenario: () => void;
}

/** Polls the status query (a waiting workflow never closes, so there is nothing to await). */
async function waitFor(
  client: Client,
  phoneNumberId: string,
  done: (s: RegisterNumberStatus) => boolean,
): Promise<RegisterNumberStatus> {
  const handle = client.workflow.getHandle(workflowIdFor(phoneNumberId));
  for (let i = 0; i < 600; i++) {
    const status = await handle.query(statusQuery).catch(() => undefined);
    if (status && done(status)) return status;
    await sleep(100);
  }
  throw new Error(`${phoneNumberId} did not reach the expected state`);
}

const parked = (s: RegisterNumberStatus) => s.stage === 'AwaitingManualReset';

const FIXTURE_WABA = '200000000000001';

/** Meta's `security` event as the trigger hands it on (docs/pin-drift.md); fixed for stable files. */
function pinChanged(phoneNumberSuffix: string, key: string, policy: PinDriftPolicy): SecurityEventInput {
  return {
    event: 'PIN_CHANGED',
    key,
    wabaId: FIXTURE_WABA,
    displayPhoneNumber: `+1 555-010-${phoneNumberSuffix}`,
    occurredAt: '2026-11-30T09:15:00.000Z',
    receivedAt: '2026-11-30T09:15:02.000Z',
    policy,
  };
}

/** A run the trigger starts for a security event on a completed number (after its first run). */
function driftRecording(
  file: string,
  id: string,
  event: SecurityEventInput,
  extra: Partial<Recording> = {},
): Recording {
  const first: RegisterNumberInput = { phoneNumberId: id, tenant: 'fixture', wabaId: FIXTURE_WABA };
  return {
    file,
    completedBefore: first,
    input: { ...first, register: 'auto', securityEvent: event },
    memo: { [SECURITY_EVENT_MEMO_KEY]: event.key },
    ...extra,
  };
}

// Fixed, obviously fake phone-number ids: the files are compared across re-recordings.
const RECORDINGS: Recording[] = [
  {
    file: 'happy-path.json',
    input: { phoneNumberId: '100000000000001', tenant: 'fixture', displayPhoneNumber: '+1 555-010-0001' },
  },
  {
    file: 'throttled-then-succeeded.json',
    input: {
      phoneNumberId: '100000000000002',
      tenant: 'fixture',
      retrySchedules: { graph: { initialInterval: '1s', maximumInterval: '2s' } },
    },
    scenario: { kind: 'throttled', code: 80007, times: 2, regainAccessMinutes: 0 },
  },
  {
    file: 'manual-reset.json',
    input: { phoneNumberId: '100000000000003', tenant: 'fixture' },
    scenario: { kind: 'expiredToken' },
    // From the UI's signal box: first a malformed payload (refused), then the right one.
    operate: async ({ client, phoneNumberId }) => {
      await waitFor(client, phoneNumberId, parked);
      const handle = client.workflow.getHandle(workflowIdFor(phoneNumberId));
      await handle.signal(manualResetSignal, { note: 'forgot the operator' } as never);
      await waitFor(client, phoneNumberId, (s) => s.lastRefusal !== undefined);
      await handle.signal(manualResetSignal, {
        operator: 'jane.doe',
        note: 'PIN changed in WhatsApp Manager',
      });
    },
  },
  {
    file: 'retry.json',
    input: { phoneNumberId: '100000000000004', tenant: 'fixture' },
    scenario: { kind: 'expiredToken' },
    // A retry (signal) before the cause is fixed fails again; after the fix, a retry (Update, as
    // `npm run ops -- retry` sends it) completes.
    operate: async ({ client, phoneNumberId, clearScenario }) => {
      await waitFor(client, phoneNumberId, parked);
      const handle = client.workflow.getHandle(workflowIdFor(phoneNumberId));
      await handle.signal(retrySignal, { operator: 'sam' });
      await waitFor(client, phoneNumberId, (s) => parked(s) && s.history.length === 1);
      clearScenario();
      await handle.executeUpdate(retryUpdate, { args: [{ operator: 'sam', note: 'token rotated' }] });
    },
  },
  {
    file: 'abandoned.json',
    input: { phoneNumberId: '100000000000005', tenant: 'fixture', manualResetDeadline: '3s' },
    scenario: { kind: 'expiredToken' },
  },
  // Recorded with registration (the register-on-cloud-api patch): a number fresh from signup.
  {
    file: 'register-happy.json',
    input: { phoneNumberId: '100000000000006', tenant: 'fixture', register: 'auto' },
    setup: { registered: false },
  },
  {
    file: 'register-133016-then-success.json',
    input: { phoneNumberId: '100000000000007', tenant: 'fixture', register: 'always' },
    setup: { registered: false },
    scenario: { kind: 'registration', code: 133016, times: 1 },
    timeSkipping: true,
  },
  {
    file: 'register-133005-parked.json',
    input: {
      phoneNumberId: '100000000000008',
      tenant: 'fixture',
      register: 'always',
      manualResetDeadline: '3s',
    },
    // A two-step PIN set by hand, different from any the product generates: Meta answers 133005.
    setup: { registered: false, twoStepPin: '135024' },
  },
  // Recorded with security events (the security-events-and-tenant-tokens patch, docs/pin-drift.md).
  driftRecording('drift-reset.json', '100000000000009', pinChanged('0009', 'a1b2c3d4e5f60709', 'reset')),
  driftRecording(
    'drift-alert-manual-reset.json',
    '100000000000010',
    pinChanged('0010', 'a1b2c3d4e5f60710', 'alert'),
    {
      operate: async ({ client, phoneNumberId }) => {
        await waitFor(client, phoneNumberId, parked);
        await client.workflow.getHandle(workflowIdFor(phoneNumberId)).signal(manualResetSignal, {
          operator: 'jane.doe',
          note: 'set the stored PIN in WhatsApp Manager',
        });
      },
    },
  ),
  driftRecording('drift-record.json', '100000000000011', pinChanged('0011', 'a1b2c3d4e5f60711', 'record')),
  {
    file: 'parked-pin-changed.json',
    input: { phoneNumberId: '100000000000012', tenant: 'fixture', wabaId: FIXTURE_WABA },
    scenario: { kind: 'expiredToken' },
    // While parked, Meta reports a hand change: evidence only; the operator then confirms it.
    operate: async ({ client, phoneNumberId }) => {
      await waitFor(client, phoneNumberId, parked);
      const handle = client.workflow.getHandle(workflowIdFor(phoneNumberId));
      await handle.signal(pinChangedSignal, pinChanged('0012', 'a1b2c3d4e5f60712', 'reset'));
      await waitFor(client, phoneNumberId, (s) => (s.securityEvents?.length ?? 0) > 0);
      await handle.signal(manualResetSignal, { operator: 'jane.doe', note: 'that PIN change was mine' });
    },
  },
];

/** Worker and client identities name this host; the fixtures name the script instead. */
function anonymise(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(anonymise);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) => [k, k === 'identity' ? 'record-histories' : anonymise(v)]),
  );
}

interface RecordingPlace {
  client: Client;
  sandbox: Awaited<ReturnType<typeof startGraphSandbox>>;
  /** Put before each file name (--prefix). */
  prefix: string;
}

async function record(recording: Recording, { client, sandbox, prefix }: RecordingPlace): Promise<void> {
  const { phoneNumberId } = recording.input;
  if (recording.setup) sandbox.setupNumber(phoneNumberId, recording.setup);
  if (recording.completedBefore) {
    const before = await startOnboarding(client, recording.completedBefore);
    await client.workflow.getHandle(before.workflowId, before.runId).result();
  }
  sandbox.setScenario(phoneNumberId, recording.scenario);
  const started = await startOnboarding(client, recording.input, {
    reonboard: recording.completedBefore !== undefined,
    ...(recording.memo ? { memo: recording.memo } : {}),
  });
  await recording.operate?.({
    client,
    phoneNumberId,
    clearScenario: () => sandbox.setScenario(phoneNumberId, undefined),
  });
  const handle = client.workflow.getHandle(workflowIdFor(phoneNumberId), started.runId);
  const result: unknown = await handle.result();
  const history = await handle.fetchHistory();
  const json = anonymise(historyToJson(history));
  const file = `${prefix}${recording.file}`;
  writeFileSync(join(HISTORIES_DIR, file), `${JSON.stringify(json, null, 2)}\n`);
  const outcome = (result as { outcome?: string }).outcome;
  console.log(`${file}: ${history.events?.length ?? 0} events, outcome ${outcome}`);
}

function selectedRecordings(values: { only?: string }): Recording[] {
  if (values.only === undefined) return RECORDINGS;
  const wanted = values.only.split(',').map((f) => f.trim());
  const unknown = wanted.filter((f) => !RECORDINGS.some((r) => r.file === f));
  if (unknown.length > 0) {
    throw new Error(
      `--only names no recording: ${unknown.join(', ')} (known: ${RECORDINGS.map((r) => r.file).join(', ')})`,
    );
  }
  return RECORDINGS.filter((r) => wanted.includes(r.file));
}

async function main(): Promise<void> {
  installRuntimeLogging(process.env.LOG_LEVEL, 'ERROR');
  const { values } = parseArgs({ options: { only: { type: 'string' }, prefix: { type: 'string' } } });
  const recordings = selectedRecordings(values);
  const prefix = values.prefix ?? '';
  if (!/^[a-z0-9-]*$/.test(prefix))
    throw new Error(`--prefix must be lower-case letters, digits and dashes (got "${prefix}")`);
  const codecKeyring = readCodecKeysFile(join(HISTORIES_DIR, 'codec-keys.txt'));
  const dataConverter = createDataConverter(codecKeyring);
  const logDir = mkdtempSync(join(tmpdir(), 'record-histories-'));
  const stops: Array<() => Promise<unknown>> = [];
  try {
    console.log('starting a Temporal dev server, the time-skipping server, OpenBao and the Graph sandbox...');
    const [temporal, timeSkipping, bao, sandbox] = await Promise.all([
      startTemporalDevServer({
        port: await freePort(),
        headless: true,
        logFile: join(logDir, 'temporal.log'),
      }),
      TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: serverBinary('temporal-test-server') } },
        client: { dataConverter },
      }),
      startOpenBaoDev({
        port: await freePort(),
        rootToken: `root-${randomBytes(12).toString('hex')}`,
        logFile: join(logDir, 'openbao.log'),
      }),
      startGraphSandbox({ accessToken: GRAPH_TOKEN }),
    ]);
    stops.push(
      () => temporal.stop(),
      () => timeSkipping.teardown(),
      () => bao.stop(),
      () => sandbox.close(),
    );
    await timeSkipping.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: { OnboardingStatus: proto.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
    });
    const vault = createVaultClient({
      address: bao.address,
      auth: { kind: 'token', token: bao.rootToken },
      timeoutMs: 5_000,
    });
    const deps = {
      // Thrown away at exit: the sealed PINs in the fixtures can never be opened.
      sealingKeyring: createKeyring([{ kid: 'record-histories-throwaway', key: randomBytes(32) }]),
      vault: createPinStore({ vault, mount: LOCAL_KV_MOUNT, prefix: LOCAL_PIN_PREFIX }),
      graph: createGraphClient({
        baseUrl: sandbox.url,
        apiVersion: 'v25.0',
        accessToken: GRAPH_TOKEN,
        headersTimeoutMs: 5_000,
        bodyTimeoutMs: 5_000,
      }),
    };
    const nativeConnection = await NativeConnection.connect({ address: temporal.address });
    stops.unshift(() => nativeConnection.close());
    const connection = await Connection.connect({ address: temporal.address });
    stops.unshift(() => connection.close());
    const client = new Client({ connection, namespace: temporal.namespace, dataConverter });
    const workers = await createOnboardingWorkers({
      connection: nativeConnection,
      namespace: temporal.namespace,
      deps,
      graphMaxRequestsPerSecond: 100,
      dataConverter,
    });
    const skippingWorkers = await createOnboardingWorkers({
      connection: timeSkipping.nativeConnection,
      namespace: 'default',
      deps,
      graphMaxRequestsPerSecond: 100,
      dataConverter,
    });

    await workers.runUntil(async () => {
      for (const recording of recordings.filter((r) => !r.timeSkipping))
        await record(recording, { client, sandbox, prefix });
    });
    await skippingWorkers.runUntil(async () => {
      for (const recording of recordings.filter((r) => r.timeSkipping)) {
        await record(recording, { client: timeSkipping.client, sandbox, prefix });
      }
    });
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    rmSync(logDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`record-histories: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
