// The codec server tried as an attacker would: the real server on a free port, each row one
// hostile or malformed request as raw bytes and the status it must get, then what it logged, the
// sign-in cookie over HTTPS, and the transport limits with short timeouts. It starts nothing in
// Temporal; what it must never do is decode for a caller without the credential.
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CREDENTIAL_COOKIE,
  startCodecServer,
  toJsonPayload,
  type CodecServer,
} from '../src/codec/codec-server';
import { EncryptionCodec, METADATA_ENCRYPTION_KEY_ID } from '../src/codec/encryption-codec';
import { createKeyring } from '../src/crypto/keyring';
import type { HttpServerLimits } from '../src/http/http-server';
import { freePort } from '../src/local-stack/processes';
import { checkHostileRequest, type HostileRequest } from './support/hostile-requests';
import { httpRequest, rawRequest } from './support/raw-http';
import { transportLimitTests } from './support/transport-limit-tests';

const UI_ORIGIN = 'http://127.0.0.1:8233';
const EVIL_ORIGIN = 'https://evil.example';
const token = randomBytes(24).toString('base64url');
const WRONG_TOKEN = randomBytes(24).toString('base64url');
const keyring = createKeyring([{ kid: 'codec-1', key: randomBytes(32) }]);
const MAX_BODY_BYTES = 1024 * 1024;
const MARKER = 'marker-codec-hostile-51c0';

const json = { 'Content-Type': 'application/json', 'X-Namespace': 'secrets' };
const bearer = (value = token) => ({ Authorization: `Bearer ${value}` });
const bodyOf = (payloads: Payload[]) => JSON.stringify({ payloads: payloads.map(toJsonPayload) });
const secretPayloads = () => new EncryptionCodec(keyring).encode([defaultPayloadConverter.toPayload(MARKER)]);

async function start(
  opts: { limits?: Partial<HttpServerLimits>; secureCookie?: boolean; log?: string[] } = {},
) {
  return startCodecServer({
    port: await freePort(),
    keyring,
    authToken: token,
    allowedOrigins: [UI_ORIGIN],
    maxBodyBytes: MAX_BODY_BYTES,
    ...(opts.log ? { log: (line: string) => opts.log?.push(line) } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.secureCookie ? { secureCookie: true } : {}),
  });
}

/** A payload claiming to be encrypted under `kid`. */
function payloadUnderKid(kid: string): string {
  return JSON.stringify({
    payloads: [
      {
        metadata: {
          encoding: Buffer.from('binary/encrypted').toString('base64'),
          [METADATA_ENCRYPTION_KEY_ID]: Buffer.from(kid).toString('base64'),
        },
        data: randomBytes(40).toString('base64'),
      },
    ],
  });
}

let encrypted: string;
const logLines: string[] = [];
let server: CodecServer;
let port: number;

beforeAll(async () => {
  encrypted = bodyOf(await secretPayloads());
  server = await start({ log: logLines });
  port = server.port;
});
afterAll(async () => {
  await server?.close();
});

/** Nothing decoded reached the caller. */
const decodedNothing = (answer: { text: string }) => {
  expect(answer.text).not.toContain(Buffer.from(JSON.stringify(MARKER)).toString('base64'));
  expect(answer.text).not.toContain(MARKER);
};

const longKid = `k\n${'i'.repeat(100_000)}`;
const rows: HostileRequest[] = [
  // Credentials: refused before the body is read, the connection closed, nothing decoded.
  ...(
    [
      ['no credential', {}],
      ['a wrong bearer', bearer(WRONG_TOKEN)],
      ['the token under Basic', { Authorization: `Basic ${token}` }],
      ['the token with a suffix', bearer(`${token}x`)],
      ['the cookie from another origin', { Cookie: `${CREDENTIAL_COOKIE}=${token}`, Origin: EVIL_ORIGIN }],
      ['the cookie without an Origin', { Cookie: `${CREDENTIAL_COOKIE}=${token}` }],
      ['a wrong cookie from the UI', { Cookie: `${CREDENTIAL_COOKIE}=${WRONG_TOKEN}`, Origin: UI_ORIGIN }],
    ] as const
  ).map(([what, auth]): HostileRequest => ({
    name: `POST /decode with ${what}`,
    request: () => httpRequest('POST', '/decode', { ...json, ...auth }, encrypted),
    status: 401,
    closes: true,
    headers: { 'www-authenticate': 'Bearer realm="temporal-codec"' },
    after: decodedNothing,
  })),
  {
    name: 'POST /decode with a wrong bearer and an 8 MB body: refused unread',
    request: () =>
      httpRequest('POST', '/decode', { ...json, ...bearer(WRONG_TOKEN), 'Content-Length': String(8 << 20) }),
    streamChunk: Buffer.alloc(64 * 1024, 0x20),
    status: 401,
    closes: true,
  },
  {
    name: 'POST /decode with a 5,000-character X-Namespace and no credential',
    request: () => httpRequest('POST', '/decode', { ...json, 'X-Namespace': 'n'.repeat(5_000) }, encrypted),
    status: 401,
    closes: true,
  },
  // Bodies it will not read or cannot use.
  {
    name: 'POST /decode as text/plain',
    request: () => httpRequest('POST', '/decode', { ...bearer(), 'Content-Type': 'text/plain' }, encrypted),
    status: 415,
    closes: true,
    after: decodedNothing,
  },
  {
    name: 'POST /decode declaring 9 MiB (limit 1 MiB)',
    request: () =>
      httpRequest('POST', '/decode', { ...json, ...bearer(), 'Content-Length': String(9 << 20) }),
    streamChunk: Buffer.alloc(64 * 1024, 0x20),
    status: 413,
    closes: true,
  },
  {
    name: 'POST /decode chunked, without end: cut at the limit',
    request: () => httpRequest('POST', '/decode', { ...json, ...bearer(), 'Transfer-Encoding': 'chunked' }),
    streamChunk: Buffer.from(`10000\r\n${' '.repeat(0x10000)}\r\n`),
    status: 413,
    closes: true,
  },
  {
    name: 'POST /decode that is not JSON',
    request: () => httpRequest('POST', '/decode', { ...json, ...bearer() }, '{"payloads":\n['),
    status: 400,
    body: /MalformedBody/,
  },
  {
    name: 'POST /decode with a newline in a metadata key: escaped',
    request: () =>
      httpRequest(
        'POST',
        '/decode',
        { ...json, ...bearer() },
        JSON.stringify({ payloads: [{ metadata: { 'enc\nINFO forged': '%%' }, data: '' }] }),
      ),
    status: 400,
    reason: 'payloads[0].metadata["enc\\nINFO forged"] is not a base64 string',
  },
  {
    name: 'POST /decode under a 100,000-character key id holding a newline: quoted short',
    request: () => httpRequest('POST', '/decode', { ...json, ...bearer() }, payloadUnderKid(longKid)),
    status: 422,
    reason: `payload was encrypted under key "k\\n${'i'.repeat(62)}"... (100002 characters)`,
    maxBodyChars: 400,
  },
  // Methods, paths and origins.
  {
    name: 'GET /decode',
    request: () => httpRequest('GET', '/decode', bearer()),
    status: 405,
    headers: { allow: 'POST, OPTIONS' },
  },
  {
    name: 'PUT /login',
    request: () => httpRequest('PUT', '/login', {}, 'token=x'),
    status: 405,
    headers: { allow: 'GET, POST' },
    closes: true,
  },
  { name: 'GET /nothing-here', request: () => httpRequest('GET', '/nothing-here'), status: 404 },
  ...['/x/%2e%2e/decode', '/decode/..', '/a/../decode', '//decode', 'http://evil.example/decode'].map(
    (target): HostileRequest => ({
      name: `POST ${target} with the right bearer: refused, not routed`,
      request: () => httpRequest('POST', target, { ...json, ...bearer() }, encrypted),
      status: 400,
      body: /NonCanonicalPath/,
      after: decodedNothing,
    }),
  ),
  {
    name: 'OPTIONS /decode from another origin',
    request: () =>
      httpRequest('OPTIONS', '/decode', { Origin: EVIL_ORIGIN, 'Access-Control-Request-Method': 'POST' }),
    status: 403,
    headers: { 'access-control-allow-origin': undefined, 'access-control-allow-credentials': undefined },
  },
  {
    name: 'OPTIONS /decode from the UI',
    request: () =>
      httpRequest('OPTIONS', '/decode', { Origin: UI_ORIGIN, 'Access-Control-Request-Method': 'POST' }),
    status: 204,
    headers: { 'access-control-allow-origin': UI_ORIGIN },
  },
  {
    name: 'POST /decode with the bearer from another origin: decoded, no CORS headers',
    request: () => httpRequest('POST', '/decode', { ...json, ...bearer(), Origin: EVIL_ORIGIN }, encrypted),
    status: 200,
    headers: { 'access-control-allow-origin': undefined },
  },
  // Sign-in.
  {
    name: 'GET /login with a wrong token',
    request: () => httpRequest('GET', `/login?token=${WRONG_TOKEN}`),
    status: 401,
    headers: { 'set-cookie': undefined },
  },
  {
    name: 'POST /login with a body over 16 KiB',
    request: () =>
      httpRequest(
        'POST',
        '/login',
        { 'Content-Type': 'application/x-www-form-urlencoded' },
        `token=${'t'.repeat(20_000)}`,
      ),
    status: 413,
    closes: true,
  },
  { name: 'GET /health', request: () => httpRequest('GET', '/health'), status: 200 },
];

describe('codec server: hostile and malformed requests', () => {
  it.each(rows.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    await checkHostileRequest(port, row);
  });

  it('logged each refusal in one short line, never a token, and no unexpected error', () => {
    const all = logLines.join('\n');
    expect(all).toMatch(
      /refused \/decode \(namespace "secrets"\) from 127\.0\.0\.1: the bearer token is not valid/,
    );
    expect(all).toMatch(/refused \/decode \(namespace "n{64}"\.\.\. \(5000 characters\)\)/);
    expect(all).toMatch(/refused a sign-in with a wrong token from 127\.0\.0\.1/);
    expect(all).toMatch(
      /refused a payload: payload was encrypted under key "k\\ni{62}"\.\.\. \(100002 characters\)/,
    );
    for (const line of logLines) {
      expect(line).not.toMatch(/[\n\r]/);
      expect(line.length).toBeLessThan(600);
    }
    expect(all).not.toContain(token);
    expect(all).not.toContain(WRONG_TOKEN);
    expect(all).not.toContain(MARKER);
    expect(all).not.toMatch(/unexpected/);
  });
});

describe('codec server: the sign-in cookie over HTTPS', () => {
  const signIn = (port: number, headers: Record<string, string> = {}) =>
    rawRequest(port, httpRequest('GET', `/login?token=${encodeURIComponent(token)}`, headers), {
      firstAnswerOnly: true,
    });

  it('is Secure when a proxy says the browser came over HTTPS, and not over plain HTTP', async () => {
    const plain = await signIn(port);
    expect(plain.status).toBe(303);
    expect(plain.headers['set-cookie']).toMatch(/HttpOnly; SameSite=Strict/);
    expect(plain.headers['set-cookie']).not.toMatch(/Secure/);
    const viaHttps: Array<Record<string, string>> = [
      { 'X-Forwarded-Proto': 'https' },
      { 'X-Forwarded-Proto': 'HTTPS, http' },
      { Forwarded: 'for=192.0.2.60;proto=https;by=203.0.113.43' },
    ];
    for (const headers of viaHttps) {
      const answer = await signIn(port, headers);
      expect(answer.status).toBe(303);
      expect(answer.headers['set-cookie']).toMatch(/; Secure$/);
    }
    expect((await signIn(port, { 'X-Forwarded-Proto': 'http' })).headers['set-cookie']).not.toMatch(/Secure/);
  });

  it('is always Secure with secureCookie, whatever the request says', async () => {
    const secure = await start({ secureCookie: true });
    try {
      const answer = await signIn(secure.port, { 'X-Forwarded-Proto': 'http' });
      expect(answer.headers['set-cookie']).toMatch(/; Secure$/);
    } finally {
      await secure.close();
    }
  });
});

transportLimitTests({
  async start(limits) {
    const lines: string[] = [];
    const limited = await start({ limits, log: lines });
    return { port: limited.port, logLines: () => lines, close: () => limited.close() };
  },
  probe: httpRequest('GET', '/health'),
  probeStatus: 200,
  bodyRequestHead: (length) =>
    httpRequest('POST', '/decode', { ...json, ...bearer(), 'Content-Length': String(length) }),
});
