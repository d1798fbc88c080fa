// The batch starter end to end on the real dev server, with the stand-in workflow behind the
// product's codec: in-process runs for the outcomes and the report, the real CLI for what only a
// process shows (exit codes, one-line errors, Ctrl-C and the rerun, memory on 100,000 rows).
import { randomBytes, randomInt } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDataConverter } from '../src/codec/data-converter';
import { parseKeyring } from '../src/crypto/keyring';
import { freePort } from '../src/local-stack/processes';
import { startOnboarding } from '../src/onboarding/start-onboarding';
import { runStarter } from '../src/batch/run-starter';
import { workflowIdFor } from '../src/workflows/messages';
import { startFixtureWorker, type FixtureWorker } from './fixtures/fixture-worker';
import { fixtureInputQuery } from './fixtures/starter-workflows';
import { runTsx, waitForExit } from './support/process-runner';

const CODEC_KEYS = `starter-test:${randomBytes(32).toString('base64')}`;
let fx: FixtureWorker;
let dir: string;

/** A fresh id whose first digit picks the fixture's behaviour (see starter-workflows.ts). */
function id(kind: string): string {
  return `${kind}${Date.now()}${randomInt(1_000_000).toString().padStart(6, '0')}`;
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function starter(
  argv: string[],
  opts: { env?: Record<string, string>; client?: Client } = {},
): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await runStarter({
    argv,
    env: opts.env ?? {},
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
    client: 'client' in opts ? opts.client : fx.client,
  });
  return { code, stdout, stderr };
}

/**
 * The CLI as an operator runs it (`npm run starter` is `tsx src/starter.ts`), in one process so
 * that a Ctrl-C reaches the starter itself.
 */
function spawnStarter(argv: string[], env: Record<string, string>) {
  return runTsx({
    name: 'starter',
    script: 'src/starter.ts',
    loader: 'import',
    args: argv,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
}

async function starterProcess(argv: string[], env: Record<string, string>): Promise<Captured> {
  const proc = spawnStarter(argv, env);
  const code = await waitForExit(proc, 120_000);
  if (typeof code !== 'number') throw new Error(`the starter was killed by ${code}:\n${proc.stderr()}`);
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

function cliEnv(): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_NAMESPACE: 'starter',
    PAYLOAD_CODEC_KEYS: CODEC_KEYS,
  };
}

function summaryCount(stdout: string, label: string): number {
  const match = new RegExp(`^  ${label}\\s+(\\d+)$`, 'm').exec(stdout);
  if (!match) throw new Error(`no "${label}" line in:\n${stdout}`);
  return Number(match[1]);
}

interface Report {
  rows: Array<{
    line: number;
    phoneNumberId?: string;
    outcome: string;
    reason?: string;
    workflowId?: string;
  }>;
  summary: Record<string, number>;
  waited?: Array<{ phoneNumberId: string; outcome: string }>;
  exitCode: number;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'starter-test-'));
  fx = await startFixtureWorker({
    namespace: 'starter',
    dataConverter: createDataConverter(parseKeyring('PAYLOAD_CODEC_KEYS', CODEC_KEYS)),
  });
});

afterAll(async () => {
  await fx?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('starter', () => {
  it('starts the valid rows of a mixed file, reports every other row, and exits 1', async () => {
    const running = id('3');
    const done = id('1');
    await startOnboarding(fx.client, { phoneNumberId: running });
    const earlier = await startOnboarding(fx.client, { phoneNumberId: done });
    await fx.client.workflow.getHandle(earlier.workflowId).result();

    const fresh = id('1');
    const fresh2 = id('6');
    const csv = file(
      'mixed.csv',
      [
        'phone_number_id,waba_id,display_phone_number,tenant', // 1
        `${fresh},102290129340398,+1 555-010-0001,"Acme, Inc."`, // 2 started
        `${running},,,acme`, // 3 already running
        '', // 4 blank
        `${done},,,acme`, // 5 already done
        ',,,acme', // 6 missing id
        'not-a-number,,,acme', // 7 bad id
        `${fresh},,,again`, // 8 duplicate of 2
        `${id('1')},WABA,,acme`, // 9 bad waba id
        `${id('1')},1,2`, // 10 too few fields
        `${id('1')},,,ac"me`, // 11 stray quote
        `"${fresh2}",,,"quoted ""tenant"""`, // 12 started
      ].join('\r\n'),
    );
    const reportPath = join(dir, 'mixed-report.json');
    const env = {
      MANUAL_RESET_DEADLINE: '3d',
      ONBOARDING_RETRY_SCHEDULES: '{"graph":{"initialInterval":"30s","maximumAttempts":5}}',
    };
    const { code, stdout } = await starter(['--file', csv, '--report', reportPath], { env });

    expect(code).toBe(1);
    expect(summaryCount(stdout, 'started')).toBe(2);
    expect(summaryCount(stdout, 'already running')).toBe(1);
    expect(summaryCount(stdout, 'already done')).toBe(1);
    expect(summaryCount(stdout, 'invalid')).toBe(6);
    expect(summaryCount(stdout, 'failed to start')).toBe(0);
    expect(stdout).toContain('line 8');
    expect(stdout).toContain('duplicate of line 2');

    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as Report;
    expect(report.rows.map((r) => [r.line, r.outcome])).toEqual([
      [2, 'started'],
      [3, 'already-running'],
      [5, 'already-completed'],
      [6, 'invalid'],
      [7, 'invalid'],
      [8, 'invalid'],
      [9, 'invalid'],
      [10, 'invalid'],
      [11, 'invalid'],
      [12, 'started'],
    ]);
    const byLine = new Map(report.rows.map((r) => [r.line, r]));
    expect(byLine.get(3)?.reason).toMatch(/RUNNING/);
    expect(byLine.get(5)?.reason).toMatch(/COMPLETED, OnboardingStatus Completed/);
    expect(byLine.get(6)?.reason).toBe('phone_number_id is missing');
    expect(byLine.get(7)?.phoneNumberId).toBe('not-a-number');
    expect(byLine.get(8)?.reason).toBe('duplicate of line 2 (same phone_number_id)');
    expect(byLine.get(9)?.reason).toMatch(/waba_id "WABA"/);
    expect(byLine.get(10)?.reason).toMatch(/3 fields where the header has 4/);
    expect(byLine.get(11)?.reason).toMatch(/quote inside an unquoted field/);
    expect(report.summary).toMatchObject({
      rows: 10,
      started: 2,
      alreadyRunning: 1,
      alreadyCompleted: 1,
      invalid: 6,
    });
    expect(report.exitCode).toBe(1);

    // What reached the workflow: the row, with the configured deadline and retry schedules.
    const input = await fx.client.workflow.getHandle(workflowIdFor(fresh)).query(fixtureInputQuery);
    expect(input).toEqual({
      phoneNumberId: fresh,
      wabaId: '102290129340398',
      displayPhoneNumber: '+1 555-010-0001',
      tenant: 'Acme, Inc.',
      manualResetDeadline: '3d',
      retrySchedules: { graph: { initialInterval: '30s', maximumAttempts: 5 } },
    });
    expect((await fx.client.workflow.getHandle(workflowIdFor(fresh2)).query(fixtureInputQuery)).tenant).toBe(
      'quoted "tenant"',
    );
    await fx.client.workflow.getHandle(workflowIdFor(running)).terminate('test cleanup');
  });

  it('exits 0 when every row of a JSON file is handled, and a rerun starts nothing twice', async () => {
    const ids = [id('1'), id('1'), id('1')];
    const json = file(
      'valid.json',
      JSON.stringify(ids.map((phone_number_id) => ({ phone_number_id, tenant: 't' }))),
    );
    const first = await starter(['--file', json]);
    expect(first.code).toBe(0);
    expect(summaryCount(first.stdout, 'started')).toBe(3);
    for (const phoneNumberId of ids)
      await fx.client.workflow.getHandle(workflowIdFor(phoneNumberId)).result();
    const again = await starter(['--file', json]);
    expect(again.code).toBe(0);
    expect(summaryCount(again.stdout, 'started')).toBe(0);
    expect(summaryCount(again.stdout, 'already done')).toBe(3);
  });

  it('--register sets the choice for rows without one; a register column wins', async () => {
    const [plain, own] = [id('1'), id('1')];
    const csv = file('register.csv', `phone_number_id,register\n${plain},\n${own},never\n`);
    const { code } = await starter(['--file', csv, '--register', 'always']);
    expect(code).toBe(0);
    const inputOf = (n: string) => fx.client.workflow.getHandle(workflowIdFor(n)).query(fixtureInputQuery);
    expect(await inputOf(plain)).toMatchObject({ phoneNumberId: plain, register: 'always' });
    expect(await inputOf(own)).toMatchObject({ phoneNumberId: own, register: 'never' });
    const bad = await starter(['--file', csv, '--register', 'maybe']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--register must be one of always, never, auto \(got "maybe"\)/);
  });

  it('refuses a CSV with an unknown column before starting anything', async () => {
    const phoneNumberId = id('1');
    const csv = file('unknown-column.csv', `phone_number_id,colour\n${phoneNumberId},blue\n`);
    const { code, stdout } = await starter(['--file', csv]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/stopped: line 1: unknown column "colour"/);
    expect(summaryCount(stdout, 'started')).toBe(0);
    await expect(fx.client.workflow.getHandle(workflowIdFor(phoneNumberId)).describe()).rejects.toThrow();
  });

  it('counts rows Temporal refuses as failed to start', async () => {
    const nowhere = new Client({ connection: fx.client.connection, namespace: 'no-such-namespace' });
    const jsonl = file('failing.jsonl', `{"phone_number_id":"${id('1')}"}\n`);
    const { code, stdout } = await starter(['--file', jsonl], { client: nowhere });
    expect(code).toBe(1);
    expect(summaryCount(stdout, 'failed to start')).toBe(1);
    expect(stdout).toMatch(/line 1 \d+: failed to start: .*no-such-namespace/i);
  });

  it('--wait follows workflows to Completed, Abandoned and AwaitingManualReset', async () => {
    const ids = { completed: id('1'), slow: id('6'), abandoned: id('4'), awaiting: id('2') };
    const jsonl = file(
      'wait.jsonl',
      Object.values(ids)
        .map((phoneNumberId) => JSON.stringify({ phoneNumberId }))
        .join('\n'),
    );
    const reportPath = join(dir, 'wait-report.json');
    const { code, stdout } = await starter([
      '--file',
      jsonl,
      '--wait',
      '--wait-timeout',
      '45s',
      '--report',
      reportPath,
    ]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^ {2}Completed\s+2$/m);
    expect(stdout).toMatch(/^ {2}AwaitingManualReset\s+1$/m);
    expect(stdout).toMatch(/^ {2}Abandoned\s+1$/m);
    const waited = new Map(
      (JSON.parse(readFileSync(reportPath, 'utf8')) as Report).waited?.map((w) => [
        w.phoneNumberId,
        w.outcome,
      ]),
    );
    expect(waited.get(ids.slow)).toBe('Completed');
    expect(waited.get(ids.awaiting)).toBe('AwaitingManualReset');
    expect(waited.get(ids.abandoned)).toBe('Abandoned');
    await fx.client.workflow.getHandle(workflowIdFor(ids.awaiting)).terminate('test cleanup');
  });

  it('--dry-run validates without connecting to anything', async () => {
    const closed = await freePort();
    const csv = file('dry.csv', `phone_number_id\n${id('1')}\nbad\n`);
    // No client and an address where nothing listens: a connection attempt would exit 2.
    const { code, stdout } = await starter(['--file', csv, '--dry-run'], {
      env: { TEMPORAL_ADDRESS: `127.0.0.1:${closed}` },
      client: undefined,
    });
    expect(code).toBe(1);
    expect(stdout).toContain('Temporal not contacted');
    expect(summaryCount(stdout, 'valid \\(dry run\\)')).toBe(1);
    expect(summaryCount(stdout, 'invalid')).toBe(1);
  });

  it('reports bad flags and configuration with exit 2', async () => {
    const csv = file('flags.csv', 'phone_number_id\n1\n');
    expect((await starter(['--file', csv, '--concurrency', '0'])).code).toBe(2);
    expect((await starter(['--file', join(dir, 'missing.csv')])).stderr).toMatch(/cannot read .*ENOENT/);
    expect((await starter(['--file', join(dir, 'numbers.txt')])).stderr).toMatch(/cannot tell the format/);
    const config = await starter(['--file', csv], { env: { MANUAL_RESET_DEADLINE: 'never' } });
    expect(config.code).toBe(2);
    expect(config.stderr).toMatch(/^starter: MANUAL_RESET_DEADLINE must be a positive duration/);
    expect((await starter(['--help'])).stdout).toMatch(/--wait-timeout/);
  });
});

describe('starter CLI', () => {
  it('exits 2 with one line when Temporal cannot be reached', async () => {
    const csv = file('unreachable.csv', `phone_number_id\n${id('1')}\n`);
    const { code, stderr, stdout } = await starterProcess(['--file', csv], {
      ...cliEnv(),
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^starter: cannot reach Temporal at 127\.0\.0\.1:\d+ .*npm run stack/);
  });

  it('stops on Ctrl-C with a partial summary, and a rerun starts every row exactly once', async () => {
    const ids = Array.from({ length: 40 }, () => id('1'));
    const csv = file('interrupt.csv', ['phone_number_id', ...ids].join('\n'));
    const run = spawnStarter(['--file', csv, '--rate', '4', '--progress-every', '1'], cliEnv());
    // Interrupt once a few rows are started: progress lines say how many.
    await run.waitForLine(/started [3-9]\b/, 60_000);
    run.signal('SIGINT');
    expect(await waitForExit(run, 60_000)).toBe(130);
    expect(run.stdout()).toMatch(/interrupted: no new rows were started/);
    const startedFirst = summaryCount(run.stdout(), 'started');
    expect(startedFirst).toBeGreaterThanOrEqual(3);
    expect(startedFirst).toBeLessThan(40);

    const rerun = await starter(['--file', csv]);
    expect(rerun.code).toBe(0);
    expect(summaryCount(rerun.stdout, 'started')).toBe(40 - startedFirst);
    const already =
      summaryCount(rerun.stdout, 'already done') + summaryCount(rerun.stdout, 'already running');
    expect(already).toBe(startedFirst);

    // Exactly one run per number, as the server records them (visibility lags a little: poll).
    const query = `WorkflowId IN (${ids.map((i) => `'${workflowIdFor(i)}'`).join(', ')})`;
    let runs: string[] = [];
    while (runs.length < ids.length) {
      await new Promise((r) => setTimeout(r, 100));
      runs = [];
      for await (const info of fx.client.workflow.list({ query })) runs.push(info.workflowId);
    }
    expect(runs).toHaveLength(40);
    expect(new Set(runs).size).toBe(40);
  });

  it('dry-runs 100,000 CSV rows in a streaming pass and reports rows/s and peak memory', async () => {
    const path = join(dir, 'big.csv');
    const out = createWriteStream(path);
    out.write('phone_number_id,waba_id,display_phone_number,tenant\n');
    const base = 106540352000000;
    for (let i = 0; i < 100_000; i++) {
      const line = `${base + i},102290129340398,+1 555-010-${String(i % 10_000).padStart(4, '0')},"tenant, ${i % 50}"\n`;
      if (!out.write(line)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'close');
    const { code, stdout } = await starterProcess(['--file', path, '--dry-run', '--stats'], {});
    expect(code).toBe(0);
    expect(summaryCount(stdout, 'valid \\(dry run\\)')).toBe(100_000);
    expect(summaryCount(stdout, 'invalid')).toBe(0);
    const stats = /^stats: .*$/m.exec(stdout)?.[0];
    expect(stats).toMatch(/100000 rows in [\d.]+ s · \d+ rows\/s · peak RSS [\d.]+ MB/);
    console.log(`starter --dry-run on 100,000 rows: ${stats}`);
  });
});
