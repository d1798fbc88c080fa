// The codec server as the Temporal UI calls it, its configuration, and its CLI as a real process.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { METADATA_ENCODING_KEY, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CODEC_SERVER_AUTH_TOKEN,
  CODEC_SERVER_CORS_ORIGINS,
  DEFAULT_CORS_ORIGINS,
  PAYLOAD_CODEC_KEYS,
  loadCodecKeyring,
  loadCodecServerAuthToken,
  loadCodecServerCorsOrigins,
  localCodecKeysFile,
} from '../src/codec/codec-config';
import {
  CREDENTIAL_COOKIE,
  startCodecServer,
  toJsonPayload,
  type CodecServer,
  type JsonPayload,
} from '../src/codec/codec-server';
import {
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  METADATA_ENCRYPTION_KEY_ID,
} from '../src/codec/encryption-codec';
import { ConfigError } from '../src/config/env-reader';
import { createKeyring } from '../src/crypto/keyring';
import { freePort } from '../src/local-stack/processes';
import type { SealedPin } from '../src/workflows/messages';
import { runTsx } from './support/process-runner';

const UI_ORIGIN = 'http://127.0.0.1:8233';
const PHONE = '+15550182244';
const MARKER = 'marker-codec-server-8e1b44';

const oldKey = { kid: 'codec-old', key: randomBytes(32) };
const newKey = { kid: 'codec-new', key: randomBytes(32) };
const token = randomBytes(24).toString('base64url');
const serverKeyring = createKeyring([newKey, oldKey]);
const workerCodec = new EncryptionCodec(serverKeyring);

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { payloads?: JsonPayload[]; error?: string; code?: string; reason?: string };
  text: string;
}

async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: string }) {
  const res = await request(url, {
    method: (init.method ?? 'POST') as 'POST',
    headers: init.headers,
    body: init.body,
  });
  const text = await res.body.text();
  let body: Reply['body'] = {};
  try {
    body = JSON.parse(text) as Reply['body'];
  } catch {
    // HTML or empty: tests that care read `text`.
  }
  return { status: res.statusCode, headers: res.headers, body, text } satisfies Reply;
}

const jsonHeaders = (extra: Record<string, string> = {}) => ({
  'content-type': 'application/json',
  'x-namespace': 'secrets',
  ...extra,
});
const authorized = (extra: Record<string, string> = {}) =>
  jsonHeaders({ authorization: `Bearer ${token}`, ...extra });
const bodyOf = (payloads: Payload[]) => JSON.stringify({ payloads: payloads.map(toJsonPayload) });
const plainPayloads = () => [
  defaultPayloadConverter.toPayload({ displayPhoneNumber: PHONE, note: MARKER }),
  defaultPayloadConverter.toPayload('second'),
];
const metaText = (p: JsonPayload, key: string) => Buffer.from(p.metadata?.[key] ?? '', 'base64').toString();

describe('codec server', () => {
  let server: CodecServer;
  const logLines: string[] = [];

  beforeAll(async () => {
    server = await startCodecServer({
      port: 0,
      keyring: serverKeyring,
      authToken: token,
      allowedOrigins: [UI_ORIGIN],
      log: (line) => logLines.push(line),
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses a call without a credential and decodes nothing', async () => {
    const encoded = await workerCodec.encode(plainPayloads());
    const reply = await call(`${server.url}/decode`, { headers: jsonHeaders(), body: bodyOf(encoded) });
    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('Unauthorized');
    expect(reply.body.reason).toMatch(/credential/);
    expect(reply.body.payloads).toBeUndefined();
    expect(reply.text).not.toContain(Buffer.from(MARKER).toString('base64').slice(0, 12));
    expect(reply.text).not.toContain(MARKER);
  });

  it('refuses a wrong token, and a token under another scheme', async () => {
    const encoded = bodyOf(await workerCodec.encode(plainPayloads()));
    const wrong = await call(`${server.url}/decode`, {
      headers: jsonHeaders({ authorization: `Bearer ${token}x` }),
      body: encoded,
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.payloads).toBeUndefined();
    const basic = await call(`${server.url}/decode`, {
      headers: jsonHeaders({ authorization: `Basic ${token}` }),
      body: encoded,
    });
    expect(basic.status).toBe(401);
    expect(logLines.join('\n')).not.toContain(token);
  });

  it('decodes for an authenticated caller, in the shape the UI expects', async () => {
    const original = plainPayloads();
    const encoded = await workerCodec.encode(original);
    const reply = await call(`${server.url}/decode`, { headers: authorized(), body: bodyOf(encoded) });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    expect(reply.body).toEqual({ payloads: original.map(toJsonPayload) });
    const first = reply.body.payloads![0]!;
    expect(JSON.parse(Buffer.from(first.data!, 'base64').toString())).toEqual({
      displayPhoneNumber: PHONE,
      note: MARKER,
    });
  });

  it('passes payloads it did not encrypt through decode', async () => {
    const plain = plainPayloads();
    const reply = await call(`${server.url}/decode`, { headers: authorized(), body: bodyOf(plain) });
    expect(reply.status).toBe(200);
    expect(reply.body.payloads).toEqual(plain.map(toJsonPayload));
  });

  it('round-trips encode then decode over HTTP', async () => {
    const original = plainPayloads();
    const encoded = await call(`${server.url}/encode`, { headers: authorized(), body: bodyOf(original) });
    expect(encoded.status).toBe(200);
    expect(encoded.text).not.toContain(MARKER);
    for (const p of encoded.body.payloads!) {
      expect(metaText(p, METADATA_ENCODING_KEY)).toBe(ENCRYPTED_ENCODING);
      expect(metaText(p, METADATA_ENCRYPTION_KEY_ID)).toBe(newKey.kid);
    }
    const decoded = await call(`${server.url}/decode`, {
      headers: authorized(),
      body: JSON.stringify({ payloads: encoded.body.payloads }),
    });
    expect(decoded.status).toBe(200);
    expect(decoded.body.payloads).toEqual(original.map(toJsonPayload));
  });

  it('still decodes a payload encrypted under a retired key', async () => {
    const retiredCodec = new EncryptionCodec(createKeyring([oldKey]));
    const original = plainPayloads();
    const encoded = await retiredCodec.encode(original);
    expect(metaText(toJsonPayload(encoded[0]!), METADATA_ENCRYPTION_KEY_ID)).toBe(oldKey.kid);
    const reply = await call(`${server.url}/decode`, { headers: authorized(), body: bodyOf(encoded) });
    expect(reply.status).toBe(200);
    expect(reply.body.payloads).toEqual(original.map(toJsonPayload));
  });

  it('refuses a tampered ciphertext with an error, not garbage', async () => {
    const [encoded] = await workerCodec.encode(plainPayloads().slice(0, 1));
    const data = Buffer.from(encoded!.data!);
    data[data.length - 1] = data[data.length - 1]! ^ 0x80;
    const reply = await call(`${server.url}/decode`, {
      headers: authorized(),
      body: bodyOf([{ ...encoded!, data }]),
    });
    expect(reply.status).toBe(422);
    expect(reply.body).toMatchObject({ error: 'PayloadDecryptionError', code: 'DECRYPT_FAILED' });
    expect(reply.body.payloads).toBeUndefined();
  });

  it('answers malformed requests with 400 and a reason', async () => {
    const notJson = await call(`${server.url}/decode`, { headers: authorized(), body: '{"payloads": [' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.reason).toMatch(/not JSON/);
    const wrongShape = await call(`${server.url}/decode`, { headers: authorized(), body: '{"items": []}' });
    expect(wrongShape.status).toBe(400);
    const badBase64 = await call(`${server.url}/decode`, {
      headers: authorized(),
      body: JSON.stringify({ payloads: [{ metadata: { encoding: 'not base64!' }, data: '' }] }),
    });
    expect(badBase64.status).toBe(400);
    expect(badBase64.body.reason).toContain('payloads[0].metadata["encoding"]');
    const textBody = await call(`${server.url}/decode`, {
      headers: { ...authorized(), 'content-type': 'text/plain' },
      body: bodyOf([]),
    });
    expect(textBody.status).toBe(415);
  });

  it('serves endpoints mounted under a prefix, as the codec protocol allows', async () => {
    const reply = await call(`${server.url}/secrets/decode`, { headers: authorized(), body: bodyOf([]) });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ payloads: [] });
  });

  it('shows a sealed PIN still sealed: it holds no PIN sealing key', async () => {
    const pin = '482915';
    const pinSealer = createKeyring([{ kid: 'pin-1', key: randomBytes(32) }]);
    const { kid, data } = pinSealer.encrypt(Buffer.from(pin));
    const sealedPin: SealedPin = { kid, sealed: data.toString('base64url') };
    const activityResult = { phoneNumberId: '106540352242922', pin: sealedPin };
    const encoded = await workerCodec.encode([defaultPayloadConverter.toPayload(activityResult)]);

    const reply = await call(`${server.url}/decode`, { headers: authorized(), body: bodyOf(encoded) });
    expect(reply.status).toBe(200);
    const shown = JSON.parse(Buffer.from(reply.body.payloads![0]!.data!, 'base64').toString()) as unknown;
    expect(shown).toEqual(activityResult);
    expect(reply.text).not.toContain(pin);
    expect(reply.text).not.toContain(Buffer.from(`"${pin}"`).toString('base64'));
  });

  it('answers a CORS preflight from an allowed origin without a credential', async () => {
    const reply = await call(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: UI_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace,authorization',
      },
    });
    expect(reply.status).toBe(204);
    expect(reply.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    expect(reply.headers['access-control-allow-credentials']).toBe('true');
    expect(reply.headers['access-control-allow-methods']).toContain('POST');
    const allowed = String(reply.headers['access-control-allow-headers']).split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['content-type', 'x-namespace', 'authorization']));
  });

  it('gives no CORS headers to another origin', async () => {
    const preflight = await call(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
    const post = await call(`${server.url}/decode`, {
      headers: authorized({ origin: 'https://evil.example' }),
      body: bodyOf([]),
    });
    expect(post.headers['access-control-allow-origin']).toBeUndefined();
    const fromUi = await call(`${server.url}/decode`, {
      headers: authorized({ origin: UI_ORIGIN }),
      body: bodyOf([]),
    });
    expect(fromUi.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
  });

  it('signs a browser in with a cookie that works from the UI origin only', async () => {
    const wrong = await call(`${server.url}/login?token=not-the-token-at-all-no`, { method: 'GET' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();

    const login = await call(`${server.url}/login?token=${encodeURIComponent(token)}`, { method: 'GET' });
    expect(login.status).toBe(303);
    expect(login.headers['location']).toBe('/login');
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toMatch(new RegExp(`^${CREDENTIAL_COOKIE}=`));
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const cookie = setCookie.split(';')[0]!;

    const encoded = bodyOf(await workerCodec.encode(plainPayloads()));
    const fromUi = await call(`${server.url}/decode`, {
      headers: jsonHeaders({ cookie, origin: UI_ORIGIN }),
      body: encoded,
    });
    expect(fromUi.status).toBe(200);
    expect(fromUi.body.payloads).toEqual(plainPayloads().map(toJsonPayload));
    const elsewhere = await call(`${server.url}/decode`, {
      headers: jsonHeaders({ cookie, origin: 'https://evil.example' }),
      body: encoded,
    });
    expect(elsewhere.status).toBe(401);
    // A UI passing its own (OIDC) access token as well still gets in with the cookie.
    const withUiToken = await call(`${server.url}/decode`, {
      headers: jsonHeaders({ cookie, origin: UI_ORIGIN, authorization: 'Bearer ui-oidc-access-token' }),
      body: encoded,
    });
    expect(withUiToken.status).toBe(200);
  });
});

describe('codec configuration', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'codec-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('requires PAYLOAD_CODEC_KEYS outside the local stack', () => {
    expect(() => loadCodecKeyring({})).toThrow(ConfigError);
    expect(() => loadCodecKeyring({})).toThrow(/^PAYLOAD_CODEC_KEYS is not set/);
    expect(() => loadCodecKeyring({ [PAYLOAD_CODEC_KEYS]: 'k1:short' })).toThrow(/PAYLOAD_CODEC_KEYS/);
    const keyring = loadCodecKeyring({
      [PAYLOAD_CODEC_KEYS]: `k2:${randomBytes(32).toString('base64')},k1:${randomBytes(32).toString('base64')}`,
    });
    expect(keyring.currentKid).toBe('k2');
    expect(keyring.kids).toEqual(['k2', 'k1']);
  });

  it('generates local keys and a local token once, then reuses them', async () => {
    const first = loadCodecKeyring({}, { local: true, dataDir: dir });
    const second = loadCodecKeyring({}, { local: true, dataDir: dir });
    expect(second.currentKid).toBe(first.currentKid);
    const [payload] = await new EncryptionCodec(first).encode(plainPayloads().slice(0, 1));
    expect(await new EncryptionCodec(second).decode([payload!])).toHaveLength(1);
    expect(readFileSync(localCodecKeysFile(dir), 'utf8')).toContain(first.currentKid);

    const tokenA = loadCodecServerAuthToken({}, { local: true, dataDir: dir });
    expect(tokenA.length).toBeGreaterThanOrEqual(24);
    expect(loadCodecServerAuthToken({}, { local: true, dataDir: dir })).toBe(tokenA);
    expect(() => loadCodecServerAuthToken({})).toThrow(/^CODEC_SERVER_AUTH_TOKEN is not set/);
    expect(() => loadCodecServerAuthToken({ [CODEC_SERVER_AUTH_TOKEN]: 'short' })).toThrow(/at least 24/);
  });

  it('reads allowed UI origins, refusing wildcards and paths', () => {
    expect(loadCodecServerCorsOrigins({})).toEqual([...DEFAULT_CORS_ORIGINS]);
    expect(
      loadCodecServerCorsOrigins({
        [CODEC_SERVER_CORS_ORIGINS]: 'https://ui.example.com, http://localhost:8080/',
      }),
    ).toEqual(['https://ui.example.com', 'http://localhost:8080']);
    expect(() => loadCodecServerCorsOrigins({ [CODEC_SERVER_CORS_ORIGINS]: '*' })).toThrow(
      /CODEC_SERVER_CORS_ORIGINS/,
    );
    expect(() =>
      loadCodecServerCorsOrigins({ [CODEC_SERVER_CORS_ORIGINS]: 'https://ui.example.com/app' }),
    ).toThrow(/origin only/);
  });
});

describe('codec server CLI', () => {
  const keysValue = `${newKey.kid}:${newKey.key.toString('base64')},${oldKey.kid}:${oldKey.key.toString('base64')}`;

  function run(args: string[], env: Record<string, string | undefined>) {
    const cleanEnv = { ...process.env };
    for (const name of [
      PAYLOAD_CODEC_KEYS,
      CODEC_SERVER_AUTH_TOKEN,
      CODEC_SERVER_CORS_ORIGINS,
      'CODEC_SERVER_PORT',
    ]) {
      delete cleanEnv[name];
    }
    const proc = runTsx({
      name: 'codec server CLI',
      script: 'src/codec/codec-server-cli.ts',
      args,
      // The lines a person reads; the JSON form is tested in server-logs.test.ts.
      env: { ...cleanEnv, LOG_FORMAT: 'text', ...env },
    });
    return { proc, exited: proc.exited, out: () => proc.stdout(), err: () => proc.stderr() };
  }

  it('starts, decodes for a bearer, and stops on SIGTERM', async () => {
    const port = await freePort();
    const proc = run(['--port', String(port)], {
      [PAYLOAD_CODEC_KEYS]: keysValue,
      [CODEC_SERVER_AUTH_TOKEN]: token,
    });
    try {
      await proc.proc.waitForLine(/listening on/, 30_000);
      expect(proc.out()).toContain(`Codec server listening on http://127.0.0.1:${port}`);
      expect(proc.out()).toContain('Include cross-origin credentials');
      expect(proc.out()).not.toContain(token);

      const encoded = bodyOf(await workerCodec.encode(plainPayloads()));
      const reply = await call(`http://127.0.0.1:${port}/decode`, { headers: authorized(), body: encoded });
      expect(reply.status).toBe(200);
      expect(reply.body.payloads).toEqual(plainPayloads().map(toJsonPayload));
      expect(
        (await call(`http://127.0.0.1:${port}/decode`, { headers: jsonHeaders(), body: encoded })).status,
      ).toBe(401);
    } finally {
      proc.proc.signal('SIGTERM');
    }
    expect(await proc.exited).toBe(0);
  });

  it('takes its transport limits and secureCookie from the environment, and refuses a bad one in one line', async () => {
    const port = await freePort();
    const proc = run(['--port', String(port)], {
      [PAYLOAD_CODEC_KEYS]: keysValue,
      [CODEC_SERVER_AUTH_TOKEN]: token,
      CODEC_SERVER_KEEP_ALIVE_TIMEOUT_MS: '7000',
      CODEC_SERVER_SECURE_COOKIE: 'true',
    });
    try {
      await proc.proc.waitForLine(/listening on/, 30_000);
      // Node tells the client the keep-alive time in whole seconds; the default would say 5.
      const health = await request(`http://127.0.0.1:${port}/health`);
      await health.body.dump();
      expect(health.headers['keep-alive']).toBe('timeout=7');
      // Plain HTTP, no proxy header: Secure only because the variable says so.
      const signIn = await request(`http://127.0.0.1:${port}/login?token=${encodeURIComponent(token)}`);
      await signIn.body.dump();
      expect(signIn.statusCode).toBe(303);
      expect(String(signIn.headers['set-cookie'])).toMatch(/; Secure$/);
    } finally {
      proc.proc.signal('SIGTERM');
    }
    expect(await proc.exited).toBe(0);

    const refused = run(['--port', '0'], {
      [PAYLOAD_CODEC_KEYS]: keysValue,
      [CODEC_SERVER_AUTH_TOKEN]: token,
      CODEC_SERVER_MAX_CONNECTIONS: 'plenty',
    });
    expect(await refused.exited).toBe(2);
    expect(refused.err().trim().split('\n')).toEqual([
      'codec server: CODEC_SERVER_MAX_CONNECTIONS must be a whole number from 0 to 100000 (got "plenty")',
    ]);
  });

  it('--help prints the usage and exits 0', async () => {
    const proc = run(['--help'], {});
    expect(await proc.exited).toBe(0);
    expect(proc.out()).toContain('Usage: npm run codec-server');
    expect(proc.out()).toContain('--local');
  });

  it('names a busy port in one line and exits 2', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const proc = run(['--port', String(port)], {
        [PAYLOAD_CODEC_KEYS]: keysValue,
        [CODEC_SERVER_AUTH_TOKEN]: token,
      });
      expect(await proc.exited).toBe(2);
      expect(proc.err().trim().split('\n')).toEqual([
        `codec server: port ${port} on 127.0.0.1 is already in use: stop whatever holds it or choose another with --port`,
      ]);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('refuses to start without keys unless --local, in one line naming the variable', async () => {
    const proc = run(['--port', '0'], { [CODEC_SERVER_AUTH_TOKEN]: token });
    expect(await proc.exited).toBe(2);
    const lines = proc.err().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^codec server: PAYLOAD_CODEC_KEYS is not set.*--local/);
  });
});
