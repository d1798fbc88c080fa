// The codec server of the Temporal Web UI: the browser sends it encrypted payloads
// (POST {endpoint}/decode, {endpoint}/encode with { payloads: [{ metadata, data }] } in proto JSON,
// bytes as base64, header X-Namespace) and shows what comes back. Anyone who can call it can read
// payloads, so every call needs the credential; the browser only ever talks to it from an allowed
// UI origin (CORS).
//
// What it can NOT reveal: the PIN. Workers seal the PIN ({ kid, sealed }) with AES-GCM under a key
// that only workers hold, before it becomes a payload. This server holds the payload codec keys and
// never the PIN sealing key, so a decoded payload shows the sealed form, never the digits.
//
// How an engineer's browser gets the credential:
// - Local stack: the UI of the dev server has no login, so it has no access token to pass, and it
//   only passes one to https endpoints anyway. Instead, opening a sign-in URL ({url}/login?token=...)
//   once stores the token in an HttpOnly, SameSite=Strict cookie for this host. `npm run stack`
//   serves this server under the UI's own origin ({ui}/codec, src/local-stack/ui-front.ts), where
//   the browser sends that cookie with no UI setting. A UI calling this server on another origin
//   needs its "Codec Server" settings: endpoint {url}, "Include cross-origin credentials". Cookies
//   are per host name, not per port: sign in under the host name the UI is opened with.
// - Deployed behind HTTPS with a UI that signs engineers in (OIDC): the UI's "Pass access token"
//   sends their access token (Authorization: Bearer) and ID token (Authorization-Extras); with
//   CODEC_SERVER_OIDC_* set, either is accepted once its signature (the provider's JWKS), issuer,
//   audience and optional claim check out (oidc-bearer.ts). No second sign-in, no shared secret.
//   Without OIDC: an authenticating proxy adds `Authorization: Bearer <CODEC_SERVER_AUTH_TOKEN>`,
//   or engineers sign in at {url}/login with the token from the secret store (same cookie as above).
//
// Endpoints, as the Temporal UI (2.53/2.54) calls them, with ?preserveStorageRefs=true: /decode,
// /encode, and /download for a payload kept in external storage, which this product never uses:
// /download decodes payloads of its own and answers 404 for a storage reference, which the UI
// explains as a codec server "not configured to download from external storage".
// Scripts and tests send `Authorization: Bearer <token>` directly.
//
// Hostile callers: every request is bounded (CODEC_SERVER_LIMITS: header, request and keep-alive
// timeouts, a connection cap, the body limit), refused before its body is read when the
// credential is wrong, routed only on a canonical path, and caller values (namespace, key id)
// are quoted in logs and answers only escaped and cut short. docs/security.md lists the limits.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Payload } from '@temporalio/common';
import type { Keyring } from '../crypto/keyring';
import { canonicalPath } from '../http/canonical-path';
import { HttpError } from '../http/http-error';
import { createHttpServer, httpUrl, listen, stopServer, type HttpServerLimits } from '../http/http-server';
import { declaresJson, parseJsonBody } from '../http/parse-json-body';
import { bodyLeftUnread } from '../http/problem-response';
import { readBody } from '../http/read-body';
import { sendJson } from '../http/send-json';
import { quoteUntrusted } from '../text/quote-untrusted';
import { EncryptionCodec, PayloadDecryptionError } from './encryption-codec';
import type { BearerVerifier } from './oidc-bearer';

export interface CodecServerOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  keyring: Keyring;
  /** The shared credential (scripts, the sign-in cookie); optional when `oidc` is given. */
  authToken?: string;
  /** Checks the UI's OIDC access or ID token (CODEC_SERVER_OIDC_*). */
  oidc?: BearerVerifier;
  /** Browser origins of the Temporal UI allowed to call this server, e.g. http://127.0.0.1:8233. */
  allowedOrigins: readonly string[];
  /** One line per refused or failed request; never holds a token or a payload. */
  log?: (line: string) => void;
  maxBodyBytes?: number;
  /** Timeouts and the connection cap; each defaults to CODEC_SERVER_LIMITS. */
  limits?: Partial<HttpServerLimits>;
  /**
   * Always mark the sign-in cookie Secure. Without it the cookie is Secure when the request
   * came over TLS or a proxy says it did (X-Forwarded-Proto or Forwarded: proto=https).
   */
  secureCookie?: boolean;
}

export interface CodecServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Payloads as the UI sends them: protobuf JSON, bytes in base64. */
export interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

export const CREDENTIAL_COOKIE = 'temporal_codec_token';
const CREDENTIAL_COOKIE_MAX_AGE_SECONDS = 12 * 3600;
const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;
const LOGIN_MAX_BODY_BYTES = 16 * 1024;

/** One engineer's browser tab or a script at a time: small numbers are plenty. */
export const CODEC_SERVER_LIMITS: HttpServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 64,
  maxHeaderBytes: 16 * 1024,
};
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const host = opts.host ?? '127.0.0.1';
  const codec = new EncryptionCodec(opts.keyring);
  const allowedOrigins = new Set(opts.allowedOrigins);
  if (opts.authToken === undefined && opts.oidc === undefined) {
    throw new Error('the codec server needs a credential to check: authToken, oidc or both');
  }
  const expectedDigest = opts.authToken === undefined ? undefined : digest(opts.authToken);
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = opts.log ?? (() => undefined);

  const tokenMatches = (candidate: string | undefined) =>
    candidate !== undefined &&
    expectedDigest !== undefined &&
    timingSafeEqual(digest(candidate), expectedDigest);

  // The path only, quoted: a /login query string carries the token.
  const pathOf = (req: IncomingMessage) => quoteUntrusted((req.url ?? '').split('?')[0]);
  const server = createHttpServer({ ...CODEC_SERVER_LIMITS, ...opts.limits }, handle, {
    unexpected: (err, req) =>
      log(
        `codec server: ${req.method} ${pathOf(req)}: unexpected ${(err as Error).name}: ${quoteUntrusted((err as Error).message, 200)}`,
      ),
    clientGone: (req) =>
      log(
        `codec server: ${req.method} ${pathOf(req)}: connection closed before the request was complete: the client hung up or was too slow`,
      ),
    connectionsRefused: (count) =>
      log(
        `codec server: refused ${count} connection(s): the cap of ${server.maxConnections} open connections is reached`,
      ),
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = canonicalPath(req);
    const url = new URL(req.url ?? '/', 'http://codec.invalid');
    const origin = req.headers.origin;
    const originAllowed = origin !== undefined && allowedOrigins.has(origin);
    res.setHeader('Vary', 'Origin');
    if (originAllowed) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    // The protocol lets codec servers be mounted anywhere: only the last path segment counts.
    const operation = path.replace(/\/+$/, '').split('/').pop() ?? '';

    if (req.method === 'OPTIONS') {
      if (!originAllowed) {
        throw new HttpError(403, 'OriginNotAllowed', 'this origin may not call the codec server');
      }
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      // Authorization-Extras carries the UI's ID token when it passes its access token.
      res.setHeader(
        'Access-Control-Allow-Headers',
        'content-type, x-namespace, authorization, authorization-extras',
      );
      res.setHeader('Access-Control-Max-Age', '600');
      if (req.headers['access-control-request-private-network'] === 'true') {
        res.setHeader('Access-Control-Allow-Private-Network', 'true');
      }
      // A preflight has no body; one that brings one anyway is not read.
      res.writeHead(204, bodyLeftUnread(req) ? { connection: 'close' } : {}).end();
      return;
    }

    if (operation === 'health' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });
    if (operation === 'login') return handleLogin(req, res, url);
    if (operation !== 'encode' && operation !== 'decode' && operation !== 'download') {
      throw new HttpError(404, 'NotFound', 'the codec server serves POST /encode, /decode and /download');
    }
    if (req.method !== 'POST') {
      throw new HttpError(405, 'MethodNotAllowed', `/${operation} takes POST`, {
        headers: { allow: 'POST, OPTIONS' },
      });
    }

    const namespaceHeader = headerValue(req.headers['x-namespace']);
    const namespace = namespaceHeader === undefined ? '(none)' : quoteUntrusted(namespaceHeader);
    const refusal = await authenticate(req, originAllowed);
    if (refusal) {
      // Refused before its body is read: the connection closes rather than reading it.
      log(
        `codec server: refused /${operation} (namespace ${namespace}) from ${req.socket.remoteAddress}: ${refusal}`,
      );
      throw new HttpError(401, 'Unauthorized', refusal, {
        headers: { 'www-authenticate': 'Bearer realm="temporal-codec"' },
      });
    }

    try {
      // Requiring JSON also forces a CORS preflight on any cross-origin browser call.
      if (!declaresJson(req.headers['content-type'])) {
        throw new HttpError(415, 'UnsupportedMediaType', 'send Content-Type: application/json');
      }
      const payloads = parsePayloads(parseJsonBody(await readBody(req, maxBodyBytes)));
      if (operation === 'download' && payloads.some(isExternalStorageReference)) {
        throw new HttpError(
          404,
          'ExternalStorageNotConfigured',
          'this codec server keeps no payloads in external storage: there is nothing to download',
        );
      }
      const converted = operation === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
      sendJson(res, 200, { payloads: converted.map(toJsonPayload) });
    } catch (err) {
      if (err instanceof PayloadDecryptionError) {
        log(`codec server: /${operation} (namespace ${namespace}) refused a payload: ${err.message}`);
        return sendJson(res, 422, { error: 'PayloadDecryptionError', code: err.code, reason: err.message });
      }
      throw err;
    }
  }

  /** Undefined when a credential is valid, else why the call is refused (never quoting it). */
  async function authenticate(req: IncomingMessage, originAllowed: boolean): Promise<string | undefined> {
    const problems: string[] = [];
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
      if (bearer === undefined) problems.push('the Authorization header must be "Bearer <token>"');
      else if (tokenMatches(bearer)) return undefined;
      else if (opts.oidc) {
        const check = await opts.oidc.verify(bearer);
        if (check.ok) return undefined;
        problems.push(`the bearer token: ${check.problem}`);
      } else problems.push('the bearer token is not valid');
    }
    // Some providers issue opaque access tokens: the ID token the UI sends beside it is a JWT.
    const idToken = headerValue(req.headers['authorization-extras'])?.trim();
    if (idToken && opts.oidc) {
      const check = await opts.oidc.verify(idToken.replace(/^Bearer\s+/i, ''));
      if (check.ok) return undefined;
      problems.push(`the ID token (Authorization-Extras): ${check.problem}`);
    }
    const cookie = cookieValue(req.headers.cookie, CREDENTIAL_COOKIE);
    if (cookie !== undefined) {
      // The cookie rides along with any request the browser makes: honour it only for the UI.
      if (!originAllowed) problems.push('the sign-in cookie is accepted only from an allowed UI origin');
      else if (tokenMatches(cookie)) return undefined;
      else problems.push('the sign-in cookie is not valid: sign in again at /login');
    }
    // A UI that passes its own access token and includes the cookie sends both: either may be valid.
    return problems.length > 0
      ? problems.join('; ')
      : 'no credential: send "Authorization: Bearer <token>" or sign in at /login';
  }

  async function handleLogin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (expectedDigest === undefined) {
      req.resume();
      throw new HttpError(
        404,
        'NotFound',
        "no sign-in by token here: this codec server takes the UI's OIDC tokens",
      );
    }
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    let submitted: string | undefined;
    if (req.method === 'POST') {
      const body = (await readBody(req, LOGIN_MAX_BODY_BYTES)).toString('utf8');
      submitted = new URLSearchParams(body).get('token') ?? undefined;
    } else if (req.method === 'GET') {
      submitted = url.searchParams.get('token') ?? undefined;
    } else {
      throw new HttpError(405, 'MethodNotAllowed', '/login takes GET or POST', {
        headers: { allow: 'GET, POST' },
      });
    }
    if (submitted === undefined) {
      const signedIn = tokenMatches(cookieValue(req.headers.cookie, CREDENTIAL_COOKIE));
      return sendHtml(res, 200, signedIn ? SIGNED_IN_TEXT : LOGIN_FORM);
    }
    if (!tokenMatches(submitted.trim())) {
      log(`codec server: refused a sign-in with a wrong token from ${req.socket.remoteAddress}`);
      return sendHtml(res, 401, `That token is not valid.${LOGIN_FORM}`);
    }
    res.setHeader(
      'Set-Cookie',
      `${CREDENTIAL_COOKIE}=${encodeURIComponent(submitted.trim())}; Path=/; HttpOnly; SameSite=Strict; ` +
        `Max-Age=${CREDENTIAL_COOKIE_MAX_AGE_SECONDS}${opts.secureCookie || servedOverHttps(req) ? '; Secure' : ''}`,
    );
    if (req.method === 'GET') {
      // Drop the token from the address bar once it is stored.
      res.setHeader('Location', url.pathname);
      return sendHtml(res, 303, 'Signed in.');
    }
    return sendHtml(res, 200, SIGNED_IN_TEXT);
  }

  const port = await listen(server, opts.port, host);
  server.on('error', (err) => log(`codec server: ${err.message}`));
  return { url: httpUrl(host, port), port, close: () => stopServer(server, 0) };
}

export function toJsonPayload(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [
        key,
        Buffer.from(value).toString('base64'),
      ]),
    ),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

export function fromJsonPayload(payload: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
    ),
    data: Buffer.from(payload.data ?? '', 'base64'),
  };
}

function parsePayloads(parsed: unknown): Payload[] {
  const payloads = isRecord(parsed) ? parsed['payloads'] : undefined;
  if (!Array.isArray(payloads)) {
    throw new HttpError(
      400,
      'BadRequest',
      'expected a JSON object { "payloads": [ { "metadata": {...}, "data": "..." } ] }',
    );
  }
  return payloads.map((item: unknown, i) => fromJsonPayload(checkJsonPayload(item, i)));
}

function checkJsonPayload(item: unknown, index: number): JsonPayload {
  const where = `payloads[${index}]`;
  if (!isRecord(item)) throw new HttpError(400, 'BadRequest', `${where} is not an object`);
  const { metadata, data } = item;
  if (data !== undefined && data !== null && (typeof data !== 'string' || !BASE64.test(data))) {
    throw new HttpError(400, 'BadRequest', `${where}.data is not a base64 string`);
  }
  if (metadata !== undefined && metadata !== null) {
    if (!isRecord(metadata)) throw new HttpError(400, 'BadRequest', `${where}.metadata is not an object`);
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string' || !BASE64.test(value)) {
        throw new HttpError(
          400,
          'BadRequest',
          `${where}.metadata[${quoteUntrusted(key)}] is not a base64 string`,
        );
      }
    }
  }
  return item;
}

/**
 * Whether the browser reached this server over HTTPS: directly over TLS, or through a proxy that
 * says so. Trusting a proxy header here is safe in the one direction it is used: it can only add
 * Secure, and a forged "https" only keeps the forger's own cookie off plain HTTP.
 */
function servedOverHttps(req: IncomingMessage): boolean {
  if ((req.socket as Partial<TLSSocket>).encrypted === true) return true;
  const forwardedProto = req.headers['x-forwarded-proto'];
  const protos = (Array.isArray(forwardedProto) ? forwardedProto.join(',') : (forwardedProto ?? '')).split(
    ',',
  );
  if (protos.some((p) => p.trim().toLowerCase() === 'https')) return true;
  return /(^|[;,\s])proto="?https"?\s*(;|,|$)/i.test(req.headers.forwarded ?? '');
}

/** The payload the SDK leaves in history when the real one went to external storage. */
const EXTERNAL_STORAGE_REFERENCE = 'temporal.api.sdk.v1.ExternalStorageReference';

function isExternalStorageReference(payload: Payload): boolean {
  const messageType = payload.metadata?.['messageType'];
  return (
    messageType !== undefined && Buffer.from(messageType).toString('utf8') === EXTERNAL_STORAGE_REFERENCE
  );
}

function digest(value: string): Buffer {
  // Hashing first makes the comparison constant-time whatever the lengths.
  return createHash('sha256').update(value, 'utf8').digest();
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const LOGIN_FORM =
  '<form method="post"><label>Codec server token <input name="token" type="password" autocomplete="off" required></label> ' +
  '<button type="submit">Sign in</button></form>';
const SIGNED_IN_TEXT =
  'This browser holds the codec server credential for 12 hours. On the local stack (npm run stack) nothing ' +
  'else is needed: open the Temporal UI under the same host name and payloads are decoded. A UI that calls ' +
  'this server on another address needs, in its Codec Server settings, "Use my browser setting", this ' +
  'server as the endpoint, and "Include cross-origin credentials".';

function sendHtml(res: ServerResponse, status: number, body: string): void {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>Temporal codec server</title></head><body><p>${body}</p></body></html>`;
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
  });
  res.end(html);
}
