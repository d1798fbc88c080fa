// Replay: the committed histories of real runs replay against this checkout's workflow code (so a
// change that would break running workflows fails the build), a deliberately non-deterministic
// change is caught, and `npm run replay` does the same for files and for executions on a server.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker, type WorkflowBundle } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDataConverter, FAILURE_CONVERTER_PATH } from '../src/codec/data-converter';
import { createKeyring, parseKeyring } from '../src/crypto/keyring';
import { createOnboardingWorkers, type OnboardingWorkers } from '../src/worker/onboarding-workers';
import { serverBinary } from '../src/local-stack/server-binaries';
import { startOnboarding } from '../src/onboarding/start-onboarding';
import { readCodecKeysFile } from '../src/replay/codec-keys-file';
import { readHistoryFile, type HistorySource } from '../src/replay/history-file';
import { historyFromJson } from '../src/replay/history-json';
import { runReplay } from '../src/replay/replay-cli';
import { workflowIdFor, type RegisterNumberResult } from '../src/workflows/messages';
import {
  phoneNumberIds,
  startOnboardingHarness,
  workflowBundle,
  type OnboardingHarness,
} from './support/onboarding-harness';
import { LOCAL_ACTIVITY_DATA_KEYS, WORKFLOW_PATCHES } from './support/history-markers';
import { runToExit } from './support/process-runner';
import { waitForStage } from './support/workflow-polling';

const HISTORIES_DIR = join(__dirname, 'histories');
const FIXTURE_KEYS_FILE = join(HISTORIES_DIR, 'codec-keys.txt');
const ALTERED_WORKFLOWS_PATH = join(__dirname, 'fixtures', 'altered-register-number.ts');
const RECORDED = [
  'abandoned.json',
  'drift-alert-manual-reset.json',
  'drift-record.json',
  'drift-reset.json',
  'happy-path.json',
  // Recorded after the lean-happy-path patch (generatePin local, fewer upserts), all patches taken.
  'lean-abandoned.json',
  'lean-drift-alert-manual-reset.json',
  'lean-drift-record.json',
  'lean-drift-reset.json',
  'lean-happy-path.json',
  'lean-manual-reset.json',
  'lean-parked-pin-changed.json',
  'lean-register-133005-parked.json',
  'lean-register-133016-then-success.json',
  'lean-register-happy.json',
  'lean-retry.json',
  'lean-throttled-then-succeeded.json',
  'manual-reset.json',
  // Recorded after the one-marker-for-all-patches patch: one patch marker instead of three.
  'one-abandoned.json',
  'one-drift-alert-manual-reset.json',
  'one-drift-record.json',
  'one-drift-reset.json',
  'one-happy-path.json',
  'one-manual-reset.json',
  'one-parked-pin-changed.json',
  'one-register-133005-parked.json',
  'one-register-133016-then-success.json',
  'one-register-happy.json',
  'one-retry.json',
  'one-throttled-then-succeeded.json',
  'parked-pin-changed.json',
  'register-133005-parked.json',
  'register-133016-then-success.json',
  'register-happy.json',
  'retry.json',
  'throttled-then-succeeded.json',
];
/** Recordings in which no activity failed: the walk below expects no failure object in them. */
const WITHOUT_FAILURES = [
  'drift-alert-manual-reset.json',
  'drift-record.json',
  'drift-reset.json',
  'happy-path.json',
  'lean-drift-alert-manual-reset.json',
  'lean-drift-record.json',
  'lean-drift-reset.json',
  'lean-happy-path.json',
  'one-drift-alert-manual-reset.json',
  'one-drift-record.json',
  'one-drift-reset.json',
  'one-happy-path.json',
];
const quietLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

const fixtureConverter = createDataConverter(readCodecKeysFile(FIXTURE_KEYS_FILE));
const committed = (): HistorySource[] =>
  readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readHistoryFile(join(HISTORIES_DIR, f)));

async function replayAll(bundle: WorkflowBundle, sources: HistorySource[], dataConverter = fixtureConverter) {
  const results = [];
  const histories = sources.map(({ workflowId, history }) => ({ workflowId, history }));
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: bundle, dataConverter },
    histories,
  )) {
    results.push(result);
  }
  return results;
}

interface Captured {
  code: number | NodeJS.Signals;
  stdout: string;
  stderr: string;
}

/** `npm run replay -- ...` as an engineer runs it (npm run replay is tsx src/replay/replay-cli.ts). */
function replayCli(args: string[], env: Record<string, string> = {}): Promise<Captured> {
  return runToExit({
    name: 'replay',
    script: 'src/replay/replay-cli.ts',
    args,
    env: { PATH: process.env.PATH, ...env },
  });
}

async function replayInProcess(
  argv: string[],
  workflowsPath?: string,
  env: Record<string, string> = {},
): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await runReplay({
    argv,
    env,
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    workflowsPath,
  });
  return { code, stdout, stderr };
}

describe('committed histories', () => {
  it('are the twelve recorded paths (five from before registration, four after security events) their twelve lean- recordings and twelve one- recordings, and every one replays against the current workflow code', async () => {
    const sources = committed();
    expect(sources.map((s) => s.label)).toEqual(RECORDED);
    const results = await replayAll(await workflowBundle(), sources);
    expect(results).toHaveLength(RECORDED.length);
    for (const result of results) expect(result.error, result.workflowId).toBeUndefined();
  });

  it('hold no secret in clear: every payload is encrypted under the fixtures-only key, failures too', () => {
    const fixtureKid = Buffer.from('replay-fixtures-1').toString('base64');
    const encrypted = Buffer.from('binary/encrypted').toString('base64');
    for (const file of RECORDED) {
      const text = readFileSync(join(HISTORIES_DIR, file), 'utf8');
      let payloads = 0;
      let failures = 0;
      const walk = (node: unknown, key: string): void => {
        if (node === null || typeof node !== 'object') return;
        if (Array.isArray(node)) return node.forEach((n) => walk(n, key));
        const o = node as Record<string, unknown>;
        // Search attributes are indexed by the server, never codec'd: they hold the stage only
        // (and TemporalChangeVersion, the patch ids).
        if (key === 'indexedFields') return;
        // patched()'s marker is written by the SDK in clear: the patch id and a flag, nothing else.
        const details = o.details as Record<string, { payloads?: Array<{ data?: string }> } | undefined>;
        const sdkJson = (entry: string) =>
          JSON.parse(Buffer.from(details[entry]?.payloads?.[0]?.data ?? '', 'base64').toString()) as unknown;
        if (o.markerName === 'core_patch') {
          // Nothing but a known patch id and the flag.
          const marker = sdkJson('patch-data') as { id: string };
          expect(marker, `${file}: patch marker`).toEqual({ id: marker.id, deprecated: false });
          expect(WORKFLOW_PATCHES, `${file}: patch marker`).toContain(marker.id);
          return;
        }
        // A local activity's marker: the SDK's bookkeeping in clear (which activity, which attempt,
        // when), the result a payload like any other, encrypted.
        if (o.markerName === 'core_local_activity') {
          expect(Object.keys(sdkJson('data') as object).sort(), `${file}: local activity marker`).toEqual(
            LOCAL_ACTIVITY_DATA_KEYS,
          );
          walk(details.result, 'result');
          return;
        }
        if ('metadata' in o && 'data' in o) {
          payloads++;
          expect(o.metadata, `${file}: a payload in clear`).toEqual({
            encoding: encrypted,
            'encryption-key-id': fixtureKid,
          });
          return;
        }
        if (key === 'failure' || key === 'lastFailure' || key === 'cause') {
          failures++;
          expect(o.message, `${file}: a failure message in clear`).toBe('Encoded failure');
          expect(o.stackTrace ?? '', `${file}: a stack trace in clear`).toBe('');
        }
        for (const [k, v] of Object.entries(o)) walk(v, k);
      };
      walk(JSON.parse(text), '');
      expect(payloads, file).toBeGreaterThan(5);
      // Runs where no activity failed hold no failure at all; the others hold only encoded ones.
      if (WITHOUT_FAILURES.includes(file)) expect(failures, file).toBe(0);
      else expect(failures, file).toBeGreaterThan(0);
      expect(text).not.toMatch(/"pin"|sealing|root-|graph-test-token|record-[0-9a-f]{16}/);
    }
  });

  it('decode with the codec: under a different key of the same id, replay fails', async () => {
    const [source] = committed();
    const wrongKey = createDataConverter(createKeyring([{ kid: 'replay-fixtures-1', key: randomBytes(32) }]));
    const [result] = await replayAll(await workflowBundle(), [source as HistorySource], wrongKey);
    expect(result?.error).toBeDefined();
    expect(result?.error).not.toBeInstanceOf(DeterminismViolationError);
  });
});

describe('history JSON', () => {
  it('reads enum values in their short form too, as newer tools write them ("WorkflowTaskCompleted")', () => {
    const full = readFileSync(join(HISTORIES_DIR, 'retry.json'), 'utf8');
    const pascal = (constant: string) =>
      constant.toLowerCase().replace(/(^|_)([a-z])/g, (_m, _sep, c: string) => c.toUpperCase());
    const short = full.replace(
      /": "(?:EVENT_TYPE|TASK_QUEUE_KIND|RETRY_STATE|APPLICATION_ERROR_CATEGORY)_([A-Z_]+)"/g,
      (_m, rest: string) => `": "${pascal(rest)}"`,
    );
    expect(short).toContain('"eventType": "WorkflowExecutionUpdateAccepted"');
    expect(short).not.toMatch(/EVENT_TYPE_|TASK_QUEUE_KIND_|RETRY_STATE_/);
    const encoded = (text: string) =>
      Buffer.from(temporal.api.history.v1.History.encode(historyFromJson(JSON.parse(text))).finish());
    expect(encoded(short).equals(encoded(full))).toBe(true);
  });
});

describe('a non-deterministic change to the workflow', () => {
  it('fails the replay of every committed history with a DeterminismViolationError', async () => {
    const altered = await bundleWorkflowCode({
      workflowsPath: ALTERED_WORKFLOWS_PATH,
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: quietLogger,
    });
    const results = await replayAll(altered, committed());
    expect(results).toHaveLength(RECORDED.length);
    for (const result of results) {
      expect(result.error, result.workflowId).toBeInstanceOf(DeterminismViolationError);
      expect(result.error?.message).toMatch(/lookupPhoneNumber|[Nn]ondetermin/);
    }
  });

  it('makes `npm run replay` print nondeterminism and exit 1', async () => {
    const { code, stdout } = await replayInProcess(
      ['--codec-keys-file', FIXTURE_KEYS_FILE, join(HISTORIES_DIR, 'retry.json')],
      ALTERED_WORKFLOWS_PATH,
    );
    expect(code).toBe(1);
    expect(stdout).toMatch(/^nondeterminism {2}retry\.json: \S/m);
    expect(stdout).toContain('replayed 1 history: 0 ok, 1 nondeterministic, 0 errors');
  });
});

describe('npm run replay', () => {
  it('replays a committed file: one ok line, exit 0', async () => {
    const file = join('test', 'histories', 'manual-reset.json');
    const { code, stdout, stderr } = await replayCli(['--codec-keys-file', FIXTURE_KEYS_FILE, file]);
    expect(stderr).toBe('');
    expect(stdout).toBe(
      'ok              manual-reset.json\nreplayed 1 history: 1 ok, 0 nondeterministic, 0 errors\n',
    );
    expect(code).toBe(0);
  });

  it.each([
    {
      argv: [],
      error: 'replay: nothing to replay: give history files (JSON) or --query (see --help)\n',
    },
    {
      argv: ['x.json', '--query', 'a'],
      error: 'replay: give history files or --query, not both (see --help)\n',
    },
    {
      argv: ['--codec-keys-file', FIXTURE_KEYS_FILE, 'missing.json'],
      error: 'replay: cannot read missing.json: ENOENT\n',
    },
    {
      argv: ['--codec-keys-file', FIXTURE_KEYS_FILE, FIXTURE_KEYS_FILE],
      error: `replay: ${FIXTURE_KEYS_FILE} is not JSON: Unexpected token '#', "# Payload "... is not valid JSON\n`,
    },
  ])('usage and file errors are one line and exit 2: $argv', async ({ argv, error }) => {
    const { code, stderr } = await replayInProcess(argv);
    expect(stderr).toBe(error);
    expect(code).toBe(2);
  });

  it('--help', async () => {
    const { code, stdout } = await replayInProcess(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: npm run replay -- FILE\.json/);
  });

  describe('--query against a server', () => {
    const codecKeys = `replay-test:${randomBytes(32).toString('base64')}`;
    const dataConverter = createDataConverter(parseKeyring('replay test keys', codecKeys));
    let h: OnboardingHarness;
    let client: Client;
    let workers: OnboardingWorkers;
    let running: Promise<void>;
    const [completed, parked] = phoneNumberIds(2) as [string, string];

    beforeAll(async () => {
      h = await startOnboardingHarness({ namespace: 'replay' });
      // The harness's codec key is not shareable with a child process: use one that is.
      client = new Client({ connection: h.client.connection, namespace: 'replay', dataConverter });
      workers = await createOnboardingWorkers({
        connection: h.nativeConnection,
        namespace: 'replay',
        deps: h.deps,
        graphMaxRequestsPerSecond: 1_000,
        dataConverter,
        workflowBundle: await workflowBundle(),
      });
      running = workers.run();
    });

    afterAll(async () => {
      workers?.shutdown();
      await running;
      await h?.close();
    });

    it('replays the executions the query finds, running ones included', async () => {
      h.sandbox.setScenario(parked, { kind: 'expiredToken' });
      await startOnboarding(client, { phoneNumberId: completed });
      await startOnboarding(client, { phoneNumberId: parked });
      const result = (await client.workflow
        .getHandle(workflowIdFor(completed))
        .result()) as RegisterNumberResult;
      expect(result.outcome).toBe('Completed');
      await waitForStage(client, parked, 'AwaitingManualReset');
      const query = `WorkflowId IN ("${workflowIdFor(completed)}", "${workflowIdFor(parked)}")`;
      // Visibility is eventually consistent: wait until the search sees both closed and parked.
      await expect
        .poll(
          async () => {
            const statuses: string[] = [];
            for await (const info of client.workflow.list({
              query: `${query} AND (ExecutionStatus = "Completed" OR OnboardingStatus = "AwaitingManualReset")`,
            })) {
              statuses.push(info.status.name);
            }
            return statuses.sort();
          },
          { timeout: 20_000, interval: 300 },
        )
        .toEqual(['COMPLETED', 'RUNNING']);

      const { code, stdout, stderr } = await replayCli(['--query', query, '--limit', '5'], {
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_NAMESPACE: 'replay',
        PAYLOAD_CODEC_KEYS: codecKeys,
      });
      expect(stderr).toBe('');
      const lines = stdout.trim().split('\n');
      const replayed = lines.slice(0, -1);
      expect(replayed).toHaveLength(2);
      for (const id of [completed, parked]) {
        const line = new RegExp(`^ok {14}${workflowIdFor(id)} run \\S+$`);
        expect(replayed.filter((l) => line.test(l))).toHaveLength(1);
      }
      expect(lines.at(-1)).toBe('replayed 2 histories: 2 ok, 0 nondeterministic, 0 errors');
      expect(code).toBe(0);
    });

    it('replays what `temporal workflow show --output json` saved, as the UI download would be', async () => {
      const show = await runToExit({
        name: 'temporal workflow show',
        command: serverBinary('temporal'),
        args: ['workflow', 'show', '--workflow-id', workflowIdFor(completed), '--output', 'json'],
        env: {
          PATH: process.env.PATH,
          TEMPORAL_ADDRESS: inject('temporalAddress'),
          TEMPORAL_NAMESPACE: 'replay',
        },
      });
      expect(show.code, show.stderr).toBe(0);
      const json = show.stdout;
      const dir = mkdtempSync(join(tmpdir(), 'replay-test-'));
      try {
        const file = join(dir, `${workflowIdFor(completed)}.json`);
        writeFileSync(file, json);
        const { code, stdout, stderr } = await replayInProcess([file], undefined, {
          TEMPORAL_ADDRESS: inject('temporalAddress'),
          PAYLOAD_CODEC_KEYS: codecKeys,
        });
        expect(stderr).toBe('');
        expect(stdout).toBe(
          `ok              ${workflowIdFor(completed)}.json\nreplayed 1 history: 1 ok, 0 nondeterministic, 0 errors\n`,
        );
        expect(code).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a query that matches nothing replays nothing: exit 1', async () => {
      const { code, stderr } = await replayCli(['--query', 'WorkflowId = "register-number-0"'], {
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_NAMESPACE: 'replay',
        PAYLOAD_CODEC_KEYS: codecKeys,
      });
      expect(code).toBe(1);
      expect(stderr).toBe(
        'replay: no executions match WorkflowType = "registerNumber" AND (WorkflowId = "register-number-0"): nothing was replayed\n',
      );
    });
  });
});
