// The codec server behind a UI that signs engineers in with OIDC: the UI passes the access token
// (Authorization: Bearer) and the ID token (Authorization-Extras). An identity provider of the
// test's own publishes its keys over HTTP (JWKS) as a real one does; tokens are signed with them.
// Chromium, calling from an allowed UI origin, shows that the CORS preflight lets both headers
// through, and the endpoints the UI calls (/decode, /encode, /download, ?preserveStorageRefs=true)
// answer as the UI expects.
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { SignJWT } from 'jose';
import { chromium, type Browser } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCodecServerConfig } from '../src/codec/codec-config';
import { startCodecServer, toJsonPayload, type CodecServer } from '../src/codec/codec-server';
import { EncryptionCodec } from '../src/codec/encryption-codec';
import { createOidcBearerVerifier, loadOidcSettings } from '../src/codec/oidc-bearer';
import { ConfigError } from '../src/config/env-reader';
import { createKeyring } from '../src/crypto/keyring';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from './ui/engineer-session';

const ISSUER = 'https://idp.test/realms/whatsapp';
const API_AUDIENCE = 'codec-server';
const UI_CLIENT_ID = 'temporal-ui';
const codecKey = randomBytes(32);
const keyring = createKeyring([{ kid: 'codec-oidc', key: codecKey }]);
const workerCodec = new EncryptionCodec(keyring);

const providerKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const strangerKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

let jwks: Server;
let page: Server;
let pageOrigin: string;
let codec: CodecServer;
let browser: Browser;

function listenOn(server: Server): Promise<string> {
  return new Promise((resolveUrl) =>
    server.listen(0, '127.0.0.1', () =>
      resolveUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

async function token(
  claims: Record<string, unknown>,
  opts: { key?: KeyObject; kid?: string; audience?: string; expiresIn?: string; issuer?: string } = {},
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'idp-1' })
    .setIssuer(opts.issuer ?? ISSUER)
    .setAudience(opts.audience ?? API_AUDIENCE)
    .setSubject('engineer-7')
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '5m')
    .sign(opts.key ?? providerKey.privateKey);
}

const samplePayloads = (): Payload[] => [
  defaultPayloadConverter.toPayload({ displayPhoneNumber: '+15550170000' }),
];

async function encryptedBody(): Promise<string> {
  return JSON.stringify({ payloads: (await workerCodec.encode(samplePayloads())).map(toJsonPayload) });
}

async function decode(
  headers: Record<string, string>,
  path = '/decode?preserveStorageRefs=true',
  body?: string,
) {
  const res = await request(`${codec.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
    body: body ?? (await encryptedBody()),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
}

beforeAll(async () => {
  const publicJwk = {
    ...providerKey.publicKey.export({ format: 'jwk' }),
    kid: 'idp-1',
    alg: 'RS256',
    use: 'sig',
  };
  jwks = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
  });
  const jwksUrl = `${await listenOn(jwks)}/protocol/openid-connect/certs`;
  page = createServer((req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>UI</title>'),
  );
  pageOrigin = await listenOn(page);
  const config = loadCodecServerConfig({
    PAYLOAD_CODEC_KEYS: `codec-oidc:${codecKey.toString('base64')}`,
    CODEC_SERVER_OIDC_JWKS_URL: jwksUrl,
    CODEC_SERVER_OIDC_ISSUER: ISSUER,
    CODEC_SERVER_OIDC_AUDIENCE: `${API_AUDIENCE},${UI_CLIENT_ID}`,
    CODEC_SERVER_OIDC_REQUIRED_CLAIM: 'groups=payload-readers',
    CODEC_SERVER_CORS_ORIGINS: pageOrigin,
  });
  expect(config.authToken).toBeUndefined();
  codec = await startCodecServer({
    port: 0,
    keyring: config.keyring,
    oidc: createOidcBearerVerifier(config.oidc!),
    allowedOrigins: config.allowedOrigins,
  });
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await codec?.close();
  await new Promise((r) => jwks?.close(r));
  await new Promise((r) => page?.close(r));
});

describe('the UI signs in with OIDC tokens, checked against the provider keys', () => {
  it('decodes for a valid access token of an engineer in the group', async () => {
    const reply = await decode({ authorization: `Bearer ${await token({ groups: ['payload-readers'] })}` });
    expect(reply.status).toBe(200);
    expect(reply.body.payloads).toEqual(samplePayloads().map(toJsonPayload));
  });

  it('accepts the ID token in Authorization-Extras when the access token is opaque', async () => {
    const idToken = await token({ groups: ['payload-readers'] }, { audience: UI_CLIENT_ID });
    const reply = await decode({
      authorization: 'Bearer opaque-access-token-from-the-provider',
      'authorization-extras': idToken,
    });
    expect(reply.status).toBe(200);
  });

  it('refuses expired, foreign, mis-addressed, wrongly signed and group-less tokens, saying which check failed', async () => {
    const cases: [string, Promise<string>, RegExp][] = [
      ['expired', token({ groups: ['payload-readers'] }, { expiresIn: '-10m' }), /has expired/],
      [
        'another issuer',
        token({ groups: ['payload-readers'] }, { issuer: 'https://evil.test' }),
        /iss claim is not accepted/,
      ],
      [
        'another audience',
        token({ groups: ['payload-readers'] }, { audience: 'billing-api' }),
        /aud claim is not accepted/,
      ],
      [
        'a key the provider never published',
        token({ groups: ['payload-readers'] }, { key: strangerKey.privateKey }),
        /not signed by a key/,
      ],
      ['not in the group', token({ groups: ['sales'] }), /lacks groups=payload-readers/],
    ];
    for (const [what, signed, problem] of cases) {
      const reply = await decode({ authorization: `Bearer ${await signed}` });
      expect(reply.status, what).toBe(401);
      expect(String(reply.body.reason), what).toMatch(problem);
    }
    // Without the shared token configured, sign-in by token does not exist.
    const login = await request(`${codec.url}/login`);
    await login.body.dump();
    expect(login.statusCode).toBe(404);
  });
});

describe('the endpoints the Temporal UI calls', () => {
  it('/encode and /download (ours decoded; a storage reference is not ours: 404)', async () => {
    const bearer = { authorization: `Bearer ${await token({ groups: ['payload-readers'] })}` };
    const plain = JSON.stringify({ payloads: samplePayloads().map(toJsonPayload) });
    const encoded = await decode(bearer, '/encode?preserveStorageRefs=true', plain);
    expect(encoded.status).toBe(200);
    const back = await workerCodec.decode(
      (encoded.body.payloads as { metadata: Record<string, string>; data: string }[]).map((p) => ({
        metadata: Object.fromEntries(
          Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
        ),
        data: Buffer.from(p.data, 'base64'),
      })),
    );
    expect(defaultPayloadConverter.fromPayload(back[0]!)).toEqual({ displayPhoneNumber: '+15550170000' });

    const download = await decode(bearer, '/download?preserveStorageRefs=true');
    expect(download.status).toBe(200);
    expect(download.body.payloads).toEqual(samplePayloads().map(toJsonPayload));
    const reference = JSON.stringify({
      payloads: [
        {
          metadata: {
            encoding: Buffer.from('json/protobuf').toString('base64'),
            messageType: Buffer.from('temporal.api.sdk.v1.ExternalStorageReference').toString('base64'),
          },
          data: Buffer.from('{"uri":"s3://bucket/key"}').toString('base64'),
        },
      ],
    });
    const stored = await decode(bearer, '/download?preserveStorageRefs=true', reference);
    expect(stored.status).toBe(404);
    expect(stored.body.error).toBe('ExternalStorageNotConfigured');
  });

  it("passes a real browser's CORS preflight with Authorization and Authorization-Extras", async () => {
    const tab = await browser.newPage();
    try {
      await tab.goto(pageOrigin);
      const body = await encryptedBody();
      const call = (headers: Record<string, string>) =>
        tab.evaluate(
          async ({ url, headers, body }) => {
            try {
              const res = await fetch(url, { method: 'POST', headers, body });
              return {
                status: res.status,
                payloads: ((await res.json()) as { payloads?: unknown[] }).payloads?.length,
              };
            } catch (err) {
              return { error: String(err) };
            }
          },
          { url: `${codec.url}/decode?preserveStorageRefs=true`, headers, body },
        );
      const uiHeaders = {
        'Content-Type': 'application/json',
        'X-Namespace': 'default',
        Authorization: `Bearer ${await token({ groups: ['payload-readers'] })}`,
        'Authorization-Extras': await token({ groups: ['payload-readers'] }, { audience: UI_CLIENT_ID }),
      };
      expect(await call(uiHeaders)).toEqual({ status: 200, payloads: 1 });
      // The control: a header the server does not allow fails the preflight in this browser.
      expect(await call({ ...uiHeaders, 'X-Not-Allowed': '1' })).toEqual({
        error: expect.stringContaining('Failed to fetch') as unknown,
      });
    } finally {
      await tab.close();
    }
  });
});

describe('CODEC_SERVER_OIDC_* at start-up', () => {
  it('needs issuer and audience with the JWKS URL, https unless loopback, and claim=value', () => {
    const base = {
      CODEC_SERVER_OIDC_JWKS_URL: 'https://idp.example.com/jwks',
      CODEC_SERVER_OIDC_ISSUER: ISSUER,
      CODEC_SERVER_OIDC_AUDIENCE: API_AUDIENCE,
    };
    expect(loadOidcSettings(base)).toEqual({
      jwksUrl: base.CODEC_SERVER_OIDC_JWKS_URL,
      issuer: ISSUER,
      audiences: [API_AUDIENCE],
    });
    const fails = (env: Record<string, string>) => {
      try {
        loadOidcSettings(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(fails({ ...base, CODEC_SERVER_OIDC_ISSUER: '' })).toMatch(/^CODEC_SERVER_OIDC_ISSUER is not set/);
    expect(fails({ ...base, CODEC_SERVER_OIDC_AUDIENCE: '' })).toMatch(
      /^CODEC_SERVER_OIDC_AUDIENCE is not set/,
    );
    expect(fails({ ...base, CODEC_SERVER_OIDC_JWKS_URL: 'http://idp.example.com/jwks' })).toMatch(
      /^CODEC_SERVER_OIDC_JWKS_URL must be an https:\/\/ URL/,
    );
    expect(fails({ ...base, CODEC_SERVER_OIDC_REQUIRED_CLAIM: 'groups' })).toMatch(
      /^CODEC_SERVER_OIDC_REQUIRED_CLAIM must be claim=value/,
    );
    expect(fails({ CODEC_SERVER_OIDC_ISSUER: ISSUER })).toMatch(
      /^CODEC_SERVER_OIDC_ISSUER is set but CODEC_SERVER_OIDC_JWKS_URL is not/,
    );
  });
});
