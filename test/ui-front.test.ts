// The local stack's Web UI address: a reverse proxy that carries the real codec server under
// /codec on the UI's own origin, so the browser's sign-in cookie reaches it with no UI setting,
// while the Temporal UI server behind it never sees that cookie. The whole path through the real
// Temporal UI is in test/ui/engineer-day.test.ts; here each rule, against a recording upstream.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultPayloadConverter } from '@temporalio/common';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CREDENTIAL_COOKIE,
  startCodecServer,
  toJsonPayload,
  type CodecServer,
} from '../src/codec/codec-server';
import { EncryptionCodec } from '../src/codec/encryption-codec';
import { createKeyring } from '../src/crypto/keyring';
import { freePort } from '../src/local-stack/processes';
import { startUiFront, withoutCodecCookie, type UiFront } from '../src/local-stack/ui-front';

const token = randomBytes(24).toString('base64url');
const keyring = createKeyring([{ kid: 'front-test', key: randomBytes(32) }]);
let codec: CodecServer;
let front: UiFront;
let ui: Server;
const seenByUi: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  ui = createServer((req, res) => {
    seenByUi.push(req.headers);
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': '_csrf=abc; Path=/' }).end('the UI');
  });
  await new Promise<void>((r) => ui.listen(0, '127.0.0.1', r));
  const port = await freePort();
  codec = await startCodecServer({
    port: 0,
    keyring,
    authToken: token,
    allowedOrigins: [`http://127.0.0.1:${port}`],
  });
  front = await startUiFront({
    port,
    uiTarget: `http://127.0.0.1:${(ui.address() as AddressInfo).port}`,
    codecTarget: codec.url,
  });
});

afterAll(async () => {
  await front?.close();
  await codec?.close();
  await new Promise((r) => ui?.close(r));
});

async function decode(headers: Record<string, string>) {
  const sealed = await new EncryptionCodec(keyring).encode([
    defaultPayloadConverter.toPayload('+15550001234'),
  ]);
  const res = await request(`${front.url}/codec/decode`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: front.url, ...headers },
    body: JSON.stringify({ payloads: sealed.map(toJsonPayload) }),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

describe('the Web UI front of the local stack', () => {
  it('signs in under the UI origin, then decodes with the cookie alone; refuses without it', async () => {
    const signIn = await request(`${front.url}/codec/login?token=${token}`);
    await signIn.body.dump();
    expect(signIn.statusCode).toBe(303);
    expect(signIn.headers.location).toBe('/codec/login');
    const cookie = String(signIn.headers['set-cookie']).split(';')[0] ?? '';
    expect(cookie.startsWith(`${CREDENTIAL_COOKIE}=`)).toBe(true);

    const withCookie = await decode({ cookie });
    expect(withCookie.status).toBe(200);
    const [payload] = (JSON.parse(withCookie.text) as { payloads: Array<{ data: string }> }).payloads;
    expect(Buffer.from(payload?.data ?? '', 'base64').toString()).toBe('"+15550001234"');
    expect((await decode({})).status).toBe(401);
  });

  it('sends everything else to the UI server, without the codec cookie, and passes its answer back', async () => {
    const res = await request(`${front.url}/namespaces/default/workflows?x=1`, {
      headers: { cookie: `_csrf=abc; ${CREDENTIAL_COOKIE}=${token}; theme=dark` },
    });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('the UI');
    expect(res.headers['set-cookie']).toBe('_csrf=abc; Path=/');
    expect(seenByUi.at(-1)?.cookie).toBe('_csrf=abc; theme=dark');
    expect(JSON.stringify(seenByUi)).not.toContain(token);
  });

  it('answers 502 with one line when the UI server is down', async () => {
    const deadPort = await freePort();
    const lonely = await startUiFront({
      port: 0,
      uiTarget: `http://127.0.0.1:${deadPort}`,
      codecTarget: codec.url,
    });
    try {
      const res = await request(`${lonely.url}/`);
      expect(res.statusCode).toBe(502);
      expect((await res.body.text()).trim()).toMatch(
        /^the Temporal dev server's Web UI \(.*\) did not answer: ECONNREFUSED$/,
      );
    } finally {
      await lonely.close();
    }
  });

  it('drops only the codec cookie from a Cookie header', () => {
    expect(withoutCodecCookie(`${CREDENTIAL_COOKIE}=x`)).toBeUndefined();
    expect(withoutCodecCookie(`a=1; ${CREDENTIAL_COOKIE}=x;b=2`)).toBe('a=1; b=2');
    expect(withoutCodecCookie(undefined)).toBeUndefined();
  });
});
