// The worker process itself: configuration is checked at start-up with one line naming the
// variable, and a configured worker serves both queues and stops gracefully on SIGTERM.
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { generateKeyringValue } from '../src/crypto/keyring';
import { runTsx, waitForExit } from './support/process-runner';

interface Exit {
  code: number | NodeJS.Signals;
  stdout: string;
  stderr: string;
}

async function runWorker(
  env: Record<string, string>,
  opts: { stopAfter?: RegExp; args?: string[] } = {},
): Promise<Exit> {
  const worker = runTsx({
    name: 'worker',
    script: 'src/worker.ts',
    args: opts.args,
    // Only what the test gives: nothing from the developer's shell may satisfy a check.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  if (opts.stopAfter) {
    // One SIGTERM, as an orchestrator sends; a second one would mean "stop now".
    try {
      await worker.waitForLine(opts.stopAfter, 60_000);
    } catch (err) {
      await worker.stop(5_000);
      throw err;
    }
    worker.signal('SIGTERM');
  }
  const code = await waitForExit(worker, 60_000);
  return { code, stdout: worker.stdout(), stderr: worker.stderr() };
}

function baseEnv(): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_NAMESPACE: 'worker-cli',
    VAULT_ADDR: inject('vaultAddress'),
    VAULT_TOKEN: inject('vaultRootToken'),
    PIN_SEALING_KEYS: generateKeyringValue('seal-1'),
    PAYLOAD_CODEC_KEYS: generateKeyringValue('codec-1'),
    // The lines an operator reads at a terminal; the JSON form has its own test below.
    LOG_FORMAT: 'text',
  };
}

const meaningfulLines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

describe('worker start-up checks', () => {
  it('refuses to start against the real Graph API without GRAPH_ACCESS_TOKEN, in one line naming it', async () => {
    const result = await runWorker({ ...baseEnv(), GRAPH_BASE_URL: 'https://graph.facebook.com' });
    expect(result.code).toBe(2);
    const lines = meaningfulLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^worker: GRAPH_ACCESS_TOKEN /);
  });

  it('refuses a malformed VAULT_ADDR, in one line naming it', async () => {
    const result = await runWorker({
      ...baseEnv(),
      GRAPH_BASE_URL: 'http://127.0.0.1:9',
      VAULT_ADDR: 'vault:8200',
    });
    expect(result.code).toBe(2);
    const lines = meaningfulLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^worker: VAULT_ADDR /);
  });

  it('refuses a missing sealing key outside the local stack, without echoing any key', async () => {
    const env = { ...baseEnv(), GRAPH_BASE_URL: 'http://127.0.0.1:9' } as Record<string, string>;
    delete env.PIN_SEALING_KEYS;
    const result = await runWorker(env);
    expect(result.code).toBe(2);
    expect(meaningfulLines(result.stderr)).toEqual([
      expect.stringMatching(/^worker: PIN_SEALING_KEYS is not set/),
    ]);
    expect(result.stderr).not.toContain(env.PAYLOAD_CODEC_KEYS!.split(':')[1]!);
  });

  it('writes the same one-line refusal as one JSON object when LOG_FORMAT=json', async () => {
    const result = await runWorker({
      ...baseEnv(),
      GRAPH_BASE_URL: 'http://127.0.0.1:9',
      LOG_FORMAT: 'json',
      METRICS_BIND_ADDRESS: 'localhost:9464',
    });
    expect(result.code).toBe(2);
    const lines = meaningfulLines(result.stderr);
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as { level: string; message: string };
    expect(entry.level).toBe('ERROR');
    expect(entry.message).toMatch(/^worker: METRICS_BIND_ADDRESS must be an IP address and port/);
  });

  it('refuses an unknown LOG_FORMAT in one line naming it, as JSON since stdout is not a terminal', async () => {
    const result = await runWorker({ ...baseEnv(), LOG_FORMAT: 'yaml' });
    expect(result.code).toBe(2);
    const lines = meaningfulLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect((JSON.parse(lines[0]!) as { message: string }).message).toMatch(
      /^worker: LOG_FORMAT must be json or text \(got "yaml"\)/,
    );
  });

  it('documents itself with --help', async () => {
    const result = await runWorker({}, { args: ['--help'] });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('GRAPH_MAX_REQUESTS_PER_SECOND');
    expect(result.stdout).toContain('--local');
  });

  it("--local needs no GRAPH_BASE_URL: it calls the stack's Graph sandbox", async () => {
    const result = await runWorker(baseEnv(), { args: ['--local'], stopAfter: /worker: ready/ });
    expect(result.stderr).toContain('Graph http://127.0.0.1:8099/v25.0 (sandbox)');
    expect(result.code).toBe(0);
  });

  it('starts with a valid configuration, and stops gracefully on SIGTERM', async () => {
    const token = `tok-${randomBytes(6).toString('hex')}`;
    const result = await runWorker(
      { ...baseEnv(), GRAPH_BASE_URL: 'http://127.0.0.1:9', GRAPH_ACCESS_TOKEN: token, LOG_LEVEL: 'WARN' },
      { stopAfter: /worker: ready/ },
    );
    expect(result.stderr).toMatch(/worker: ready on .* namespace "worker-cli"/);
    expect(result.stderr).toContain('worker: stopped');
    expect(result.code).toBe(0);
    expect(result.stderr + result.stdout).not.toContain(token);
  });
});
