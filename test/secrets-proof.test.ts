// The proof that secrets stay secret. Real processes (the Graph sandbox CLI, the worker with its
// least-privilege AppRole, the batch starter) run happy, throttled, permanently failed, manually
// reset and retried numbers on the dev server, each tenant calling Meta with its own Graph token
// read from the vault (GRAPH_TOKEN_SOURCE=vault). Then every PIN (read back from the vault and the
// sandbox), every Graph token, the vault root token, the AppRole secret id and the key material are
// searched for in every byte of every history (as the server returns it, and again with every
// payload decoded by the codec) and in every line the three processes logged: zero hits.
// Planted secrets and the personal data the codec hides show that the search does find things.
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDataConverter } from '../src/codec/data-converter';
import { EncryptionCodec, isEncrypted } from '../src/codec/encryption-codec';
import { parseKeyring, type Keyring } from '../src/crypto/keyring';
import { tokenFingerprint } from '../src/graph-sandbox/sandbox-tokens';
import { freePort } from '../src/local-stack/processes';
import { openPin } from '../src/pin/pin-sealer';
import { applyWorkerAccess, type WorkerAccess } from '../src/vault/apply-worker-access';
import { createVaultClient, type VaultClient } from '../src/vault/vault-client';
import { LOCAL_ACTIVITY_DATA_KEYS, WORKFLOW_PATCHES as PATCHES } from './support/history-markers';
import {
  manualResetSignal,
  retrySignal,
  statusQuery,
  workflowIdFor,
  type OnboardingStage,
  type RegisterNumberResult,
} from '../src/workflows/messages';
import type { TestNamespace } from './support/namespaces';
import { runTsx, waitForExit, type CapturedProcess } from './support/process-runner';
import { waitForStage } from './support/workflow-polling';

const NAMESPACE: TestNamespace = 'secrets-proof';
const KV_MOUNT = 'secret';
const STAGES: readonly OnboardingStage[] = [
  'GeneratingPin',
  'StoringPin',
  'SettingPin',
  'Registering',
  'AwaitingManualReset',
  'Completed',
  'CompletedManually',
  'Abandoned',
];
const { History } = temporal.api.history.v1;

/** Decoded messages carry their protobufjs type (the generated classes are reflection-based). */
function isPayloadMessage(value: unknown): value is temporal.api.common.v1.Payload {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { $type?: { fullName?: string } }).$type?.fullName === '.temporal.api.common.v1.Payload'
  );
}

// ---------------------------------------------------------------------------------------------------
// The search: one function, used for the proof and for the controls that show it finds things.

interface Secret {
  label: string;
  value: string | Buffer;
}

interface Needle {
  label: string;
  form: string;
  find(text: string): number;
}

interface Corpus {
  name: string;
  /** Searched as latin1, i.e. byte for byte: every needle is ASCII (or raw key bytes). */
  bytes: Buffer;
}

interface Hit {
  secret: string;
  form: string;
  corpus: string;
  context: string;
}

const latin1 = (b: Buffer) => b.toString('latin1');

/**
 * The base64 characters that depend on `secret` alone, for each of the three byte alignments it
 * can have inside a longer encoded blob (a secret in a JSON payload is rarely at offset 0).
 */
function base64Cores(secret: Buffer, url: boolean): string[] {
  const cores: string[] = [];
  for (let lead = 0; lead < 3; lead++) {
    const encoded = Buffer.concat([Buffer.alloc(lead), secret]).toString(url ? 'base64url' : 'base64');
    const firstFullGroup = lead === 0 ? 0 : 1;
    const fullGroups = Math.floor((lead + secret.length) / 3);
    const core = encoded.slice(firstFullGroup * 4, fullGroups * 4);
    // Too short a core would match random ciphertext by chance; long secrets give 30+ characters.
    if (core.length >= 16) cores.push(core);
  }
  return cores;
}

function needlesFor(secret: Secret): Needle[] {
  const { label } = secret;
  const bytes = typeof secret.value === 'string' ? Buffer.from(secret.value, 'utf8') : secret.value;
  const text = typeof secret.value === 'string' ? secret.value : undefined;
  const needles: Needle[] = [];
  const seen = new Set<string>();
  const literal = (form: string, value: string) => {
    if (seen.has(value)) return;
    seen.add(value);
    needles.push({ label, form, find: (t) => t.indexOf(value) });
  };
  if (text !== undefined && /^[0-9]+$/.test(text)) {
    // A digits-only secret (a six-digit PIN, a phone number) also matches inside longer runs of
    // digits that history is full of (timestamps, task ids); a leak is a run of its own.
    const pattern = new RegExp(`(?<![0-9])${text}(?![0-9])`);
    needles.push({ label, form: 'digits', find: (t) => t.search(pattern) });
    return needles;
  }
  if (text !== undefined) {
    literal('plain', text);
    const escaped = JSON.stringify(text).slice(1, -1);
    if (escaped !== text) literal('json-escaped', escaped);
    const uri = encodeURIComponent(text);
    if (uri !== text) literal('url-encoded', uri);
  } else {
    literal('raw bytes', latin1(bytes));
    literal('hex', bytes.toString('hex'));
  }
  for (const core of base64Cores(bytes, false)) literal('base64', core);
  for (const core of base64Cores(bytes, true)) literal('base64url', core);
  return needles;
}

function searchFor(secrets: readonly Secret[], corpora: readonly Corpus[]): Hit[] {
  const needles = secrets.flatMap(needlesFor);
  const hits: Hit[] = [];
  for (const corpus of corpora) {
    const text = latin1(corpus.bytes);
    for (const needle of needles) {
      const at = needle.find(text);
      if (at >= 0) {
        hits.push({
          secret: needle.label,
          form: needle.form,
          corpus: corpus.name,
          context: JSON.stringify(text.slice(Math.max(0, at - 60), at + 60)),
        });
      }
    }
  }
  return hits;
}

/** Which secrets are found at all: for the positive controls. */
const foundLabels = (secrets: readonly Secret[], corpora: readonly Corpus[]) =>
  new Set(searchFor(secrets, corpora).map((h) => h.secret));

// ---------------------------------------------------------------------------------------------------
// Histories: as the server returns them, and with every payload decoded.

interface PayloadVisit {
  payload: temporal.api.common.v1.Payload;
  /** The search attribute it holds, when it is one (Temporal never encrypts those). */
  searchAttribute?: string;
  /** True inside a patch marker (`patched()`): the SDK writes its patch id in clear. */
  inPatchMarker?: boolean;
  /** True for a local activity marker's bookkeeping (its result is a payload like any other). */
  inLocalActivityData?: boolean;
}

/** Every Payload message inside a decoded protobuf message tree, with where it sits. */
function visitPayloads(
  node: unknown,
  visit: (v: PayloadVisit, replace: (p: temporal.api.common.v1.IPayload) => void) => void,
  inSearchAttributes = false,
  inPatchMarker = false,
  inLocalActivityData = false,
): void {
  if (node === null || typeof node !== 'object' || node instanceof Uint8Array) return;
  const marker = (node as { markerName?: unknown }).markerName;
  const patchMarker = inPatchMarker || marker === 'core_patch';
  if (marker === 'core_local_activity') {
    const details = (node as { details?: Record<string, unknown> }).details ?? {};
    for (const [entry, value] of Object.entries(details)) {
      visitPayloads(value, visit, false, false, entry === 'data');
    }
    return;
  }
  const entries: Array<[string | number, unknown]> = Array.isArray(node)
    ? node.map((v, i): [number, unknown] => [i, v])
    : Object.entries(node);
  for (const [key, value] of entries) {
    if (isPayloadMessage(value)) {
      visit(
        {
          payload: value,
          ...(inSearchAttributes ? { searchAttribute: String(key) } : {}),
          ...(patchMarker ? { inPatchMarker: true } : {}),
          ...(inLocalActivityData ? { inLocalActivityData: true } : {}),
        },
        (replacement) => ((node as Record<string | number, unknown>)[key] = replacement),
      );
    } else {
      visitPayloads(
        value,
        visit,
        inSearchAttributes || key === 'searchAttributes',
        patchMarker,
        inLocalActivityData,
      );
    }
  }
}

function historyBytes(history: temporal.api.history.v1.IHistory): Buffer {
  return Buffer.from(History.encode(history).finish());
}

function historyJson(history: temporal.api.history.v1.IHistory): Buffer {
  const message = History.decode(History.encode(history).finish());
  const object = History.toObject(message, { longs: String, enums: String, bytes: String, json: true });
  return Buffer.from(JSON.stringify(object), 'utf8');
}

async function decodeHistory(
  raw: Buffer,
  codec: EncryptionCodec,
): Promise<{ history: temporal.api.history.v1.History; decoded: number }> {
  const history = History.decode(raw);
  const pending: Array<Promise<void>> = [];
  visitPayloads(history, ({ payload }, replace) => {
    if (!isEncrypted(payload)) return;
    pending.push(
      codec.decode([payload]).then(([plain]) => {
        if (!plain) throw new Error('the codec returned no payload');
        replace(plain);
      }),
    );
  });
  await Promise.all(pending);
  return { history: History.decode(History.encode(history).finish()), decoded: pending.length };
}

// ---------------------------------------------------------------------------------------------------
// The run

const codecKeyValue = (kid: string) => `${kid}:${randomBytes(32).toString('base64')}`;
const keyBytesOf = (keyringValue: string): Buffer[] =>
  keyringValue.split(',').map((entry) => Buffer.from(entry.slice(entry.indexOf(':') + 1), 'base64'));

const run = randomBytes(4).toString('hex');
const base = 100_000_000_000_000 + randomInt(1e9) * 100_000;
const ids = {
  happy: String(base + 1),
  throttled: String(base + 2),
  failed: String(base + 3),
  manual: String(base + 4),
  retried: String(base + 5),
  // Not registered on Cloud API: its stored PIN also travels in a POST /{id}/register.
  registered: String(base + 6),
};
type Case = keyof typeof ids;
const CASES = Object.keys(ids) as Case[];
const person = Object.fromEntries(
  CASES.map((c) => [
    c,
    {
      display: `+1 555-01${randomInt(10, 99)}-${randomInt(1000, 9999)}`,
      wabaId: String(300_000_000_000_000 + randomInt(1e9) * 100_000 + CASES.indexOf(c)),
    },
  ]),
) as Record<Case, { display: string; wabaId: string }>;

const graphToken = `EAAG${randomBytes(30).toString('base64url')}`;
// Two client businesses, each with its own business token in the vault: the first three numbers
// belong to one, the others to the second.
const TENANTS = ['proof-tenant-a', 'proof-tenant-b'] as const;
const tenantOf = (c: Case) => TENANTS[CASES.indexOf(c) < 3 ? 0 : 1];
const tenantTokens = Object.fromEntries(
  TENANTS.map((t) => [t, `EAAG${randomBytes(30).toString('base64url')}`]),
) as Record<(typeof TENANTS)[number], string>;
const tokenPrefix = `secrets-proof/${run}/graph-tokens`;
const sealingKeys = codecKeyValue(`seal-${run}`);
// A current key and an older one, as after a rotation: both are key material to look for.
const payloadCodecKeys = `${codecKeyValue(`codec-${run}-2`)},${codecKeyValue(`codec-${run}-1`)}`;
const prefix = `secrets-proof/${run}/two-step-pins`;

let dir: string | undefined;
let access: WorkerAccess;
let sandbox: CapturedProcess | undefined;
let worker: CapturedProcess | undefined;
let starter: CapturedProcess | undefined;
let starterExit: number | NodeJS.Signals;
let connection: Connection | undefined;
let rootVault: VaultClient | undefined;
let codecKeyring: Keyring;
let sandboxUrl: string;
/** What the worker's Prometheus endpoint served at the end of the run. */
let metricsText = '';

const results = new Map<Case, RegisterNumberResult>();
let failedStage: OnboardingStage | undefined;
/** Every version of every PIN key under the prefix, read with the root token. */
const vaultPins: Array<{ id: string; version: number; pin: string; record: unknown }> = [];
const vaultActive = new Map<string, number | undefined>();
const sandboxState = new Map<string, { pin: string | null; body: Buffer }>();
const workerTokenPolicies: string[][] = [];
interface SandboxRequest {
  phoneNumberId?: string;
  tokenId?: string;
}
const sandboxRequests: SandboxRequest[] = [];
const rawHistories = new Map<Case, Buffer>();
const decodedHistories = new Map<Case, { history: temporal.api.history.v1.History; decoded: number }>();

function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
}

async function sandboxCall(
  method: 'GET' | 'DELETE',
  path: string,
): Promise<{ status: number; body: Buffer }> {
  const res = await request(`${sandboxUrl}${path}`, { method });
  return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'secrets-proof-'));
  const vaultAddress = inject('vaultAddress');
  const rootToken = inject('vaultRootToken');
  const temporalAddress = inject('temporalAddress');
  codecKeyring = parseKeyring('PAYLOAD_CODEC_KEYS', payloadCodecKeys);

  // The worker gets its own least-privilege identity, never the root token.
  access = await applyWorkerAccess({
    address: vaultAddress,
    rootToken,
    mount: KV_MOUNT,
    prefix,
    tokenPrefix,
    roleName: `secrets-proof-${run}`,
  });
  rootVault = createVaultClient({
    address: vaultAddress,
    auth: { kind: 'token', token: rootToken },
    timeoutMs: 5_000,
  });

  for (const t of TENANTS) {
    await rootVault.kvWrite(KV_MOUNT, `${tokenPrefix}/tenants/${t}`, { access_token: tenantTokens[t] });
  }
  const tenantsFile = join(dir, 'tenants.json');
  writeFileSync(
    tenantsFile,
    JSON.stringify(
      Object.fromEntries(
        TENANTS.map((t) => [
          tenantTokens[t],
          Object.fromEntries(CASES.filter((c) => tenantOf(c) === t).map((c) => [person[c].wabaId, [ids[c]]])),
        ]),
      ),
    ),
  );

  const scenariosFile = join(dir, 'scenarios.json');
  writeFileSync(
    scenariosFile,
    JSON.stringify({
      // Throttled twice without a stated wait, so the retry schedule below decides: quick.
      [ids.throttled]: { kind: 'throttled', code: 80007, times: 2, regainAccessMinutes: 0 },
      [ids.failed]: { kind: 'expiredToken' },
      [ids.manual]: { kind: 'expiredToken' },
      [ids.retried]: { kind: 'expiredToken' },
      [ids.registered]: { kind: 'registration', code: 133010, endpoint: 'setPin', times: 1 },
    }),
  );
  const sandboxPort = await freePort();
  sandbox = runTsx({
    name: 'graph sandbox',
    script: 'src/graph-sandbox/cli.ts',
    args: [
      '--port',
      String(sandboxPort),
      '--token',
      graphToken,
      '--scenarios',
      scenariosFile,
      '--tenants',
      tenantsFile,
    ],
    env: baseEnv(),
  });
  await sandbox.waitForLine(/Graph sandbox listening on/, 30_000);
  sandboxUrl = `http://127.0.0.1:${sandboxPort}`;

  const temporalEnv = {
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: NAMESPACE,
    PAYLOAD_CODEC_KEYS: payloadCodecKeys,
  };
  const metricsPort = await freePort();
  worker = runTsx({
    name: 'worker',
    script: 'src/worker.ts',
    env: {
      ...baseEnv(),
      // The machine-readable logs and the metrics endpoint a platform team runs with.
      LOG_FORMAT: 'json',
      METRICS_BIND_ADDRESS: `127.0.0.1:${metricsPort}`,
      ...temporalEnv,
      GRAPH_BASE_URL: sandboxUrl,
      GRAPH_ACCESS_TOKEN: graphToken,
      GRAPH_TOKEN_SOURCE: 'vault',
      VAULT_GRAPH_TOKEN_PREFIX: tokenPrefix,
      VAULT_ADDR: vaultAddress,
      VAULT_ROLE_ID: access.roleId,
      VAULT_SECRET_ID: access.secretId,
      VAULT_KV_MOUNT: KV_MOUNT,
      VAULT_PIN_PREFIX: prefix,
      PIN_SEALING_KEYS: sealingKeys,
      // More than DEBUG: the most verbose level the worker's SDK logger has.
      LOG_LEVEL: 'TRACE',
    },
  });
  await worker.waitForLine(/worker: ready/, 90_000);

  const csv = join(dir, 'numbers.csv');
  writeFileSync(
    csv,
    [
      'phone_number_id,waba_id,display_phone_number,tenant',
      ...CASES.map((c) => `${ids[c]},${person[c].wabaId},${person[c].display},${tenantOf(c)}`),
    ].join('\n') + '\n',
  );
  starter = runTsx({
    name: 'starter',
    script: 'src/starter.ts',
    args: ['--file', csv, '--wait', '--wait-timeout', '60s'],
    env: {
      ...baseEnv(),
      ...temporalEnv,
      ONBOARDING_RETRY_SCHEDULES: JSON.stringify({
        graph: { initialInterval: '200ms', backoffCoefficient: 1, maximumInterval: '200ms' },
      }),
    },
  });
  starterExit = await waitForExit(starter, 80_000);

  connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({
    connection,
    namespace: NAMESPACE,
    dataConverter: createDataConverter(codecKeyring),
  });
  const handle = (c: Case) =>
    client.workflow.getHandle<() => Promise<RegisterNumberResult>>(workflowIdFor(ids[c]));

  // The operator's two ways out of AwaitingManualReset.
  await waitForStage(client, ids.manual, 'AwaitingManualReset');
  await handle('manual').signal(manualResetSignal, { operator: 'jane.doe', note: 'set in WhatsApp Manager' });
  await waitForStage(client, ids.retried, 'AwaitingManualReset');
  expect((await sandboxCall('DELETE', `/_sandbox/scenarios/${ids.retried}`)).status).toBe(200);
  await handle('retried').signal(retrySignal, { operator: 'sam', note: 'token rotated' });

  for (const c of ['happy', 'throttled', 'manual', 'retried', 'registered'] as const)
    results.set(c, await handle(c).result());
  failedStage = (await handle('failed').query(statusQuery)).stage;

  for (const c of CASES) {
    const history = await handle(c).fetchHistory();
    const raw = historyBytes(history);
    rawHistories.set(c, raw);
    decodedHistories.set(c, await decodeHistory(raw, new EncryptionCodec(codecKeyring)));
  }

  // Every PIN there is: every version of every key under the prefix, as the root token sees it.
  const listing = await rootVault.request({
    method: 'GET',
    path: `${KV_MOUNT}/metadata/${prefix}`,
    query: { list: true },
  });
  const keys = ((listing.body as { data?: { keys?: string[] } }).data?.keys ?? []).map((k) =>
    k.replace(/\/$/, ''),
  );
  for (const id of keys) {
    const meta = await rootVault.kvReadMetadata(KV_MOUNT, `${prefix}/${id}`);
    vaultActive.set(
      id,
      meta?.customMetadata.active_version ? Number(meta.customMetadata.active_version) : undefined,
    );
    for (const version of Object.keys(meta?.versions ?? {}).map(Number)) {
      const found = await rootVault.kvRead<{ pin?: unknown }>(KV_MOUNT, `${prefix}/${id}`, { version });
      if (typeof found?.data.pin === 'string') {
        vaultPins.push({ id, version, pin: found.data.pin, record: found.data });
      }
    }
  }
  for (const c of CASES) {
    const { status, body } = await sandboxCall('GET', `/_sandbox/numbers/${ids[c]}`);
    expect(status).toBe(200);
    sandboxState.set(ids[c], { pin: (JSON.parse(body.toString()) as { pin: string | null }).pin, body });
  }

  const logged = await request(`${sandboxUrl}/_sandbox/requests`);
  sandboxRequests.push(...((await logged.body.json()) as { requests: SandboxRequest[] }).requests);

  // Whose tokens did the worker use? Those its AppRole login created (the test itself never logs in).
  const accessors = await rootVault.request({
    method: 'GET',
    path: 'auth/token/accessors',
    query: { list: true },
  });
  for (const accessor of (accessors.body as { data?: { keys?: string[] } }).data?.keys ?? []) {
    const found = await rootVault.request({
      method: 'POST',
      path: 'auth/token/lookup-accessor',
      body: { accessor },
    });
    const data = (found.body as { data?: { policies?: string[]; meta?: Record<string, string> | null } })
      .data;
    if (data?.meta?.role_name === access.roleName) workerTokenPolicies.push(data.policies ?? []);
  }

  const metrics = await request(`http://127.0.0.1:${metricsPort}/metrics`);
  metricsText = await metrics.body.text();

  // Stop the long-running processes now, so that everything they will ever log is captured.
  await Promise.all([worker.stop(), sandbox.stop()]);
}, 150_000);

afterAll(async () => {
  await Promise.allSettled([worker?.stop(), sandbox?.stop(), starter?.stop()]);
  if (process.env.KEEP_TEST_LOGS) {
    for (const p of [worker, starter, sandbox]) {
      if (p)
        writeFileSync(
          join(inject('logDir'), `secrets-proof-${p.name.replace(/ /g, '-')}.log`),
          p.stderr() + p.stdout(),
        );
    }
  }
  await Promise.allSettled([connection?.close(), rootVault?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------
// What is searched

function pinSecrets(): Secret[] {
  const fromVault = vaultPins.map((p) => ({ label: `PIN of ${p.id} v${p.version} (vault)`, value: p.pin }));
  const fromSandbox = [...sandboxState]
    .filter(([, s]) => s.pin !== null)
    .map(([id, s]) => ({ label: `PIN of ${id} (sandbox)`, value: s.pin as string }));
  return [...fromVault, ...fromSandbox];
}

function credentialSecrets(): Secret[] {
  return [
    { label: 'Graph access token', value: graphToken },
    ...TENANTS.map((t) => ({ label: `Graph token of ${t}`, value: tenantTokens[t] })),
    { label: 'vault root token', value: inject('vaultRootToken') },
    { label: 'AppRole secret id', value: access.secretId },
    ...keyBytesOf(sealingKeys).map((key) => ({ label: 'PIN sealing key (bytes)', value: key })),
    ...keyBytesOf(sealingKeys).map((key) => ({
      label: 'PIN sealing key (base64)',
      value: key.toString('base64'),
    })),
    ...keyBytesOf(payloadCodecKeys).map((key, i) => ({
      label: `payload codec key ${i} (bytes)`,
      value: key,
    })),
    ...keyBytesOf(payloadCodecKeys).map((key, i) => ({
      label: `payload codec key ${i} (base64)`,
      value: key.toString('base64'),
    })),
  ];
}

const allSecrets = () => [...pinSecrets(), ...credentialSecrets()];

function personalData(): Secret[] {
  return CASES.flatMap((c) => [
    { label: `display number of ${c}`, value: person[c].display },
    { label: `display number of ${c} (digits)`, value: person[c].display.replace(/[^0-9]/g, '') },
    { label: `WABA id of ${c}`, value: person[c].wabaId },
  ]);
}

function rawHistoryCorpora(): Corpus[] {
  return CASES.flatMap((c) => {
    const raw = rawHistories.get(c) as Buffer;
    return [
      { name: `${c} history (protobuf, as returned)`, bytes: raw },
      { name: `${c} history (JSON, as returned)`, bytes: historyJson(History.decode(raw)) },
    ];
  });
}

function decodedHistoryCorpora(): Corpus[] {
  return CASES.flatMap((c) => {
    const { history } = decodedHistories.get(c) as { history: temporal.api.history.v1.History };
    return [
      { name: `${c} history (protobuf, payloads decoded)`, bytes: historyBytes(history) },
      { name: `${c} history (JSON, payloads decoded)`, bytes: historyJson(history) },
    ];
  });
}

function logCorpora(): Corpus[] {
  const procs = [worker, starter, sandbox] as CapturedProcess[];
  return procs.flatMap((p) => [
    { name: `${p.name} stdout`, bytes: Buffer.from(p.stdout(), 'utf8') },
    { name: `${p.name} stderr`, bytes: Buffer.from(p.stderr(), 'utf8') },
  ]);
}

const lineCount = (corpora: readonly Corpus[]) =>
  corpora.reduce(
    (n, c) =>
      n +
      c.bytes
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== '').length,
    0,
  );

// ---------------------------------------------------------------------------------------------------

describe('the run', () => {
  it('ends every number as its scenario says, through the real starter and worker', () => {
    expect(starterExit).toBe(1); // three numbers needed a human when the starter stopped waiting
    const stdout = (starter as CapturedProcess).stdout();
    expect(stdout).toMatch(/started\s+6\b/);
    expect(stdout).toMatch(/Completed\s+3\b/);
    expect(stdout).toMatch(/AwaitingManualReset\s+3\b/);
    expect(results.get('happy')?.outcome).toBe('Completed');
    expect(results.get('throttled')?.outcome).toBe('Completed');
    expect(results.get('manual')).toMatchObject({ outcome: 'CompletedManually', operator: 'jane.doe' });
    expect(results.get('retried')?.outcome).toBe('Completed');
    expect(results.get('registered')).toMatchObject({ outcome: 'Completed', registration: 'registered' });
    expect(failedStage).toBe('AwaitingManualReset');
    const graphCalls = (id: string, status: number) =>
      (sandbox as CapturedProcess)
        .stdout()
        .split('\n')
        .filter((line) => line.includes(`POST /v25.0/${id} -> ${status}`)).length;
    expect([graphCalls(ids.throttled, 400), graphCalls(ids.throttled, 200)]).toEqual([2, 1]);
    expect([graphCalls(ids.retried, 401), graphCalls(ids.retried, 200)]).toEqual([1, 1]);
    expect([graphCalls(ids.manual, 401), graphCalls(ids.manual, 200)]).toEqual([1, 0]);
    expect([graphCalls(ids.registered, 400), graphCalls(`${ids.registered}/register`, 200)]).toEqual([1, 1]);
  });

  it("called Meta for each number with its own tenant's token, read from the vault", () => {
    for (const c of CASES) {
      const used = new Set(sandboxRequests.filter((r) => r.phoneNumberId === ids[c]).map((r) => r.tokenId));
      expect([...used]).toEqual([tokenFingerprint(tenantTokens[tenantOf(c)])]);
    }
  });

  it('ran the worker on its AppRole, whose tokens carry the worker policy only', () => {
    expect(workerTokenPolicies.length).toBeGreaterThanOrEqual(1);
    for (const policies of workerTokenPolicies) expect(policies).toEqual([access.policyName]);
    expect((sandbox as CapturedProcess).stdout()).toMatch(
      new RegExp(`POST /v[0-9.]+/${ids.throttled} -> 400`),
    );
  });

  it('knows every PIN: from the vault (every version) and from the sandbox, and they agree', () => {
    for (const c of CASES) expect(vaultPins.some((p) => p.id === ids[c])).toBe(true);
    for (const p of vaultPins) expect(p.pin).toMatch(/^[0-9]{6}$/);
    for (const c of ['happy', 'throttled', 'retried', 'registered'] as const) {
      const active = vaultActive.get(ids[c]);
      const stored = vaultPins.find((p) => p.id === ids[c] && p.version === active);
      expect(stored?.pin).toMatch(/^[0-9]{6}$/);
      expect(sandboxState.get(ids[c])?.pin).toBe(stored?.pin);
    }
    // Meta never accepted a PIN for these: the token was refused every time.
    expect(sandboxState.get(ids.failed)?.pin).toBeNull();
    expect(sandboxState.get(ids.manual)?.pin).toBeNull();
    expect(pinSecrets().length).toBeGreaterThanOrEqual(CASES.length + 3);
  });
});

describe('the search finds what is there (controls)', () => {
  it('finds every PIN in the vault data and the sandbox inspection answers', () => {
    const vaultCorpus = vaultPins.map((p) => ({
      name: `vault ${p.id} v${p.version}`,
      bytes: Buffer.from(JSON.stringify({ data: p.record })),
    }));
    const sandboxCorpus = [...sandboxState].map(([id, s]) => ({ name: `sandbox ${id}`, bytes: s.body }));
    const vaultLabels = pinSecrets()
      .filter((s) => s.label.endsWith('(vault)'))
      .map((s) => s.label);
    expect([...foundLabels(pinSecrets(), vaultCorpus)]).toEqual(expect.arrayContaining(vaultLabels));
    const sandboxLabels = pinSecrets()
      .filter((s) => s.label.endsWith('(sandbox)'))
      .map((s) => s.label);
    expect(sandboxLabels.length).toBe(4);
    expect([...foundLabels(pinSecrets(), sandboxCorpus)]).toEqual(expect.arrayContaining(sandboxLabels));
  });

  it('finds secrets planted in a log line, in every form it looks for', () => {
    const [pin] = pinSecrets();
    const planted = (line: string | Buffer): Corpus => ({
      name: 'worker stderr + planted line',
      bytes: Buffer.concat([
        Buffer.from((worker as CapturedProcess).stderr()),
        Buffer.from('\n'),
        Buffer.isBuffer(line) ? line : Buffer.from(line),
      ]),
    });
    const token: Secret = { label: 'Graph access token', value: graphToken };
    const found = (secret: Secret, line: string | Buffer) => searchFor([secret], [planted(line)]);
    expect(found(pin as Secret, `graph said: {"pin":"${(pin as Secret).value as string}"}`)).toHaveLength(1);
    expect(found(token, `POST /v25.0/1 authorization: Bearer ${graphToken}`)[0]?.form).toBe('plain');
    // Inside a base64 blob at each of the three alignments, and JSON-escaped.
    for (const lead of ['', 'x', 'xy']) {
      for (const encoding of ['base64', 'base64url'] as const) {
        const blob = Buffer.from(`${lead}{"token":"${graphToken}"}`).toString(encoding);
        expect(found(token, `payload ${blob}`).map((h) => h.form)).toContainEqual(
          expect.stringMatching(/^base64/),
        );
      }
    }
    const quoted: Secret = { label: 'a secret with a quote', value: 'abc"def/ghi+jkl' };
    expect(found(quoted, JSON.stringify({ s: quoted.value }))[0]?.form).toBe('json-escaped');
    const [sealingKey] = keyBytesOf(sealingKeys);
    const keySecret: Secret = { label: 'PIN sealing key (bytes)', value: sealingKey as Buffer };
    expect(found(keySecret, Buffer.concat([Buffer.from([0, 1]), sealingKey as Buffer]))[0]?.form).toBe(
      'raw bytes',
    );
    // Nothing planted: nothing found, in the very same corpus.
    expect(searchFor(allSecrets(), [planted('nothing to see')])).toEqual([]);
  });

  it('sees personal data and the sealed PIN once the payloads are decoded, and not before', () => {
    for (const c of CASES) {
      const decoded = decodedHistoryCorpora().filter((k) => k.name.startsWith(`${c} `));
      expect(foundLabels(personalData(), decoded)).toEqual(
        new Set([`display number of ${c}`, `WABA id of ${c}`]),
      );
      // In clear: the workflow id, which holds only Meta's phone-number id.
      const raw = rawHistoryCorpora().filter((k) => k.name.startsWith(`${c} `));
      expect(latin1((raw[0] as Corpus).bytes)).toContain(workflowIdFor(ids[c]));
    }
    expect(searchFor(personalData(), rawHistoryCorpora())).toEqual([]);
  });

  it('the sealed PIN in decoded history opens, with the worker-only key, to the PIN in the vault', () => {
    const sealing = parseKeyring('PIN_SEALING_KEYS', sealingKeys);
    for (const c of CASES) {
      const text = latin1(
        historyBytes((decodedHistories.get(c) as { history: temporal.api.history.v1.History }).history),
      );
      const match = /\{"kid":"([^"]+)","sealed":"([A-Za-z0-9_-]+)"\}/.exec(text);
      expect(match, `${c}: no sealed PIN in the decoded history`).not.toBeNull();
      const [, kid, sealed] = match as RegExpExecArray;
      const pin = openPin(sealing, ids[c], { kid: kid as string, sealed: sealed as string });
      expect(vaultPins.filter((p) => p.id === ids[c]).map((p) => p.pin)).toContain(pin);
    }
  });
});

describe('zero hits', () => {
  it('in every history as the server returns it: every payload encrypted, search attributes only the stage', () => {
    let payloads = 0;
    for (const c of CASES) {
      visitPayloads(
        History.decode(rawHistories.get(c) as Buffer),
        ({ payload, searchAttribute, inPatchMarker, inLocalActivityData }) => {
          payloads++;
          if (inPatchMarker) {
            // The SDK's own marker for patched(): the patch id and a flag, in clear, and nothing else.
            const marker = JSON.parse(Buffer.from(payload.data ?? []).toString()) as { id?: string };
            expect(PATCHES).toContain(marker.id);
            expect(marker).toEqual({ id: marker.id, deprecated: false });
          } else if (inLocalActivityData) {
            // The SDK's bookkeeping of a local activity (generatePin): which, which attempt, when.
            const data = JSON.parse(Buffer.from(payload.data ?? []).toString()) as Record<string, unknown>;
            expect(data.activity_type).toBe('generatePin');
            expect(Object.keys(data).sort()).toEqual(LOCAL_ACTIVITY_DATA_KEYS);
          } else if (searchAttribute === undefined) {
            expect(
              isEncrypted(payload),
              `${c}: a payload outside the search attributes is not encrypted`,
            ).toBe(true);
          } else if (searchAttribute === 'TemporalChangeVersion') {
            // Temporal's own attribute for patched(): the patch ids a run took, nothing else.
            // (each upsert lists the ids so far, in the order the run took them).
            const ids = JSON.parse(Buffer.from(payload.data ?? []).toString()) as string[];
            expect(ids.length).toBeGreaterThan(0);
            expect(ids).toEqual(PATCHES.slice(0, ids.length));
          } else {
            expect(searchAttribute).toBe('OnboardingStatus');
            expect(STAGES).toContain(JSON.parse(Buffer.from(payload.data ?? []).toString()));
          }
        },
      );
    }
    expect(payloads).toBeGreaterThan(CASES.length * 5);
    expect(searchFor(allSecrets(), rawHistoryCorpora())).toEqual([]);
  });

  it('in every history with every payload decoded by the codec: the PIN stays sealed', () => {
    const decodedCount = CASES.reduce((n, c) => n + (decodedHistories.get(c)?.decoded ?? 0), 0);
    expect(decodedCount).toBeGreaterThan(CASES.length * 5);
    for (const c of CASES) {
      visitPayloads(decodedHistories.get(c)?.history, ({ payload }) =>
        expect(isEncrypted(payload)).toBe(false),
      );
    }
    expect(searchFor(allSecrets(), decodedHistoryCorpora())).toEqual([]);
  });

  it('in every line the worker, the starter and the sandbox logged', () => {
    const corpora = logCorpora();
    // Not vacuous: the worker logged its activities, the sandbox every Graph call.
    expect((worker as CapturedProcess).stderr()).toContain('PIN stored as pending');
    for (const c of CASES) expect((sandbox as CapturedProcess).stdout()).toContain(`POST /v25.0/${ids[c]}`);
    expect(lineCount(corpora)).toBeGreaterThan(50);
    expect(searchFor(allSecrets(), corpora)).toEqual([]);
    // The logs name numbers by Meta's id only, never by the personal data of the batch file.
    expect(searchFor(personalData(), corpora)).toEqual([]);
  });

  it("in the worker's metrics endpoint: no secret, no personal data, no phone number id", () => {
    // Not vacuous: the product's counters are there, with this run's outcomes.
    expect(metricsText).toMatch(/^whatsapp_onboarding_finished_total\{.*outcome="CompletedManually".*\} 1$/m);
    expect(metricsText).toMatch(/^whatsapp_graph_requests_total\{.*outcome="GraphAuthError".*\} [1-9]/m);
    const corpus: Corpus[] = [{ name: 'worker /metrics', bytes: Buffer.from(metricsText, 'utf8') }];
    expect(searchFor(allSecrets(), corpus)).toEqual([]);
    expect(searchFor(personalData(), corpus)).toEqual([]);
    const numberIds = CASES.map((c) => ({ label: `phone number id of ${c}`, value: ids[c] }));
    expect(searchFor(numberIds, corpus)).toEqual([]);
  });

  it('logged from the worker as one JSON object per line', () => {
    const lines = (worker as CapturedProcess)
      .stderr()
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(10);
    const unparsed = lines.filter((l) => {
      try {
        const entry = JSON.parse(l) as { time?: unknown; level?: unknown; message?: unknown };
        return (
          typeof entry.time !== 'string' ||
          typeof entry.level !== 'string' ||
          typeof entry.message !== 'string'
        );
      } catch {
        return true;
      }
    });
    expect(unparsed).toEqual([]);
  });

  it('reports what it searched', () => {
    const histories = rawHistoryCorpora().length + decodedHistoryCorpora().length;
    const summary = {
      secrets: allSecrets().length,
      needles: allSecrets().flatMap(needlesFor).length,
      histories: CASES.length,
      historyCorpora: histories,
      historyBytes: [...rawHistoryCorpora(), ...decodedHistoryCorpora()].reduce(
        (n, c) => n + c.bytes.length,
        0,
      ),
      logLines: lineCount(logCorpora()),
    };
    console.log(`secrets proof: ${JSON.stringify(summary)}`);
    expect(summary.secrets).toBeGreaterThan(10);
  });
});
