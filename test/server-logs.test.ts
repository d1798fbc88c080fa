// The trigger and the codec server as processes, as a container runs them (stdout not a terminal,
// no LOG_FORMAT): every line they print is one JSON object with time, level and message, from
// start-up through a refused request to the stop, and no line holds their secrets.
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { describe, expect, inject, it } from 'vitest';
import { generateKeyringValue } from '../src/crypto/keyring';
import { freePort } from '../src/local-stack/processes';
import { ONBOARDED_PATH, WEBHOOK_PATH } from '../src/trigger/trigger-server';
import type { TestNamespace } from './support/namespaces';
import { runTsx, type CapturedProcess } from './support/process-runner';

const NAMESPACE: TestNamespace = 'telemetry';

function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
}

/** Every line of both streams, each parsed; fails on the first line that is not a log object. */
function jsonLines(proc: CapturedProcess): Record<string, unknown>[] {
  const lines = `${proc.stdout()}\n${proc.stderr()}`.split('\n').filter((l) => l.trim() !== '');
  return lines.map((line) => {
    const entry = JSON.parse(line) as Record<string, unknown>;
    expect(
      typeof entry.time === 'string' && typeof entry.level === 'string' && typeof entry.message === 'string',
      line,
    ).toBe(true);
    return entry;
  });
}

describe('server log lines off a terminal', () => {
  it('the trigger: start-up, a refused bearer, a verified webhook, the stop', async () => {
    const port = await freePort();
    const secrets = {
      TRIGGER_SHARED_SECRET: `shared-${randomBytes(12).toString('hex')}`,
      WHATSAPP_APP_SECRET: `app-${randomBytes(12).toString('hex')}`,
      WEBHOOK_VERIFY_TOKEN: `verify-${randomBytes(8).toString('hex')}`,
    };
    const proc = runTsx({
      name: 'trigger',
      script: 'src/trigger/trigger-cli.ts',
      args: ['--port', String(port)],
      env: {
        ...baseEnv(),
        ...secrets,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_NAMESPACE: NAMESPACE,
        PAYLOAD_CODEC_KEYS: generateKeyringValue('codec-logs'),
        GRAPH_BASE_URL: 'http://127.0.0.1:9',
        // Handed to the server: Node tells clients the keep-alive time (the default says 5).
        TRIGGER_KEEP_ALIVE_TIMEOUT_MS: '7000',
      },
    });
    try {
      await proc.waitForLine(/trigger listening/, 30_000);
      const url = `http://127.0.0.1:${port}`;
      const refused = await request(`${url}${ONBOARDED_PATH}`, {
        method: 'POST',
        headers: { authorization: 'Bearer wrong-secret-wrong', 'content-type': 'application/json' },
        body: '{"phoneNumberId":"123"}',
      });
      await refused.body.dump();
      expect(refused.statusCode).toBe(401);
      const query = `hub.mode=subscribe&hub.verify_token=${secrets.WEBHOOK_VERIFY_TOKEN}&hub.challenge=4242`;
      const verified = await request(`${url}${WEBHOOK_PATH}?${query}`);
      expect(await verified.body.text()).toBe('4242');
      expect(verified.headers['keep-alive']).toBe('timeout=7');
    } finally {
      await proc.stop();
    }
    const entries = jsonLines(proc);
    const messages = entries.map((e) => e.message);
    expect(messages).toEqual(
      expect.arrayContaining(['trigger listening', 'webhook verification accepted', 'trigger stopped']),
    );
    expect(entries.find((e) => e.message === 'trigger listening')).toMatchObject({
      level: 'INFO',
      namespace: NAMESPACE,
    });
    expect(entries.find((e) => String(e.message).startsWith('stopping'))).toMatchObject({
      signal: 'SIGTERM',
    });
    const all = proc.stdout() + proc.stderr();
    for (const secret of Object.values(secrets)) expect(all).not.toContain(secret);
  });

  it('the codec server: start-up, a refused decode, the stop', async () => {
    const port = await freePort();
    const token = `codec-${randomBytes(16).toString('hex')}`;
    const proc = runTsx({
      name: 'codec server',
      script: 'src/codec/codec-server-cli.ts',
      args: ['--port', String(port)],
      env: {
        ...baseEnv(),
        PAYLOAD_CODEC_KEYS: generateKeyringValue('codec-logs'),
        CODEC_SERVER_AUTH_TOKEN: token,
      },
    });
    try {
      await proc.waitForLine(/listening on/, 30_000);
      const refused = await request(`http://127.0.0.1:${port}/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"payloads":[]}',
      });
      await refused.body.dump();
      expect(refused.statusCode).toBe(401);
    } finally {
      await proc.stop();
    }
    const entries = jsonLines(proc);
    expect(entries[0]).toMatchObject({
      level: 'INFO',
      message: `Codec server listening on http://127.0.0.1:${port}`,
    });
    expect(entries.some((e) => e.level === 'WARN' && String(e.message).includes('/decode'))).toBe(true);
    expect(proc.stdout() + proc.stderr()).not.toContain(token);
  });

  it('a server refusing its configuration says so in one JSON line', async () => {
    const proc = runTsx({ name: 'codec server', script: 'src/codec/codec-server-cli.ts', env: baseEnv() });
    expect(await proc.exited).toBe(2);
    const lines = proc
      .stderr()
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'ERROR' });
    expect((JSON.parse(lines[0]!) as { message: string }).message).toMatch(
      /^codec server: PAYLOAD_CODEC_KEYS /,
    );
  });
});
