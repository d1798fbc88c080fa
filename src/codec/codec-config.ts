// Configuration of the payload codec and of its HTTP server. Workers, clients and the codec server
// must share PAYLOAD_CODEC_KEYS; on the local stack the keys and the server's token are generated
// once into the git-ignored data folder so every local process agrees without any setup.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError, EnvReader, type Env } from '../config/env-reader';
import { loadOrCreateLocalKeyring, parseKeyring, type Keyring } from '../crypto/keyring';
import { dataDir as defaultDataDir } from '../local-stack/server-binaries';
import type { HttpServerLimits } from '../http/http-server';
import { loadServerLimits } from '../http/server-limits-config';
import { CODEC_SERVER_LIMITS } from './codec-server';
import { loadOidcSettings, type OidcSettings } from './oidc-bearer';

export const PAYLOAD_CODEC_KEYS = 'PAYLOAD_CODEC_KEYS';
export const CODEC_SERVER_AUTH_TOKEN = 'CODEC_SERVER_AUTH_TOKEN';
export const CODEC_SERVER_CORS_ORIGINS = 'CODEC_SERVER_CORS_ORIGINS';
export const CODEC_SERVER_SECURE_COOKIE = 'CODEC_SERVER_SECURE_COOKIE';

/** The Temporal dev server's Web UI, under both names a browser may use for it. */
export const DEFAULT_CORS_ORIGINS: readonly string[] = ['http://localhost:8233', 'http://127.0.0.1:8233'];

const MIN_TOKEN_LENGTH = 24;

export interface CodecConfigOptions {
  /** Local stack: generate what is missing into the data folder instead of failing. */
  local?: boolean;
  /** Where local material lives; the project's git-ignored .data folder by default. */
  dataDir?: string;
}

export interface CodecServerConfig {
  keyring: Keyring;
  /** The shared credential; optional once OIDC is configured. */
  authToken?: string;
  /** CODEC_SERVER_OIDC_*: the UI's own sign-in, checked against the identity provider's keys. */
  oidc?: OidcSettings;
  allowedOrigins: string[];
  /** CODEC_SERVER_HEADERS_TIMEOUT_MS, ..._REQUEST_TIMEOUT_MS, ..._KEEP_ALIVE_TIMEOUT_MS, ..._MAX_CONNECTIONS. */
  limits: HttpServerLimits;
  /** CODEC_SERVER_SECURE_COOKIE: the sign-in cookie always Secure (behind a TLS proxy that says nothing). */
  secureCookie: boolean;
}

export function localCodecKeysFile(dir = defaultDataDir): string {
  return join(dir, 'payload-codec.keys');
}

export function localCodecTokenFile(dir = defaultDataDir): string {
  return join(dir, 'codec-server.token');
}

export function loadCodecKeyring(env: Env, opts: CodecConfigOptions = {}): Keyring {
  const value = new EnvReader(env).optional(PAYLOAD_CODEC_KEYS);
  if (value !== undefined) return parseKeyring(PAYLOAD_CODEC_KEYS, value);
  if (opts.local) return loadOrCreateLocalKeyring(PAYLOAD_CODEC_KEYS, localCodecKeysFile(opts.dataDir));
  throw new ConfigError(
    PAYLOAD_CODEC_KEYS,
    'is not set: give "kid:base64key[,kid:base64key...]" (first = current, keys from `openssl rand -base64 32`), ' +
      'the same value the workers use',
  );
}

/** The bearer token the codec server requires; never logged, compared in constant time. */
export function loadCodecServerAuthToken(env: Env, opts: CodecConfigOptions = {}): string {
  const value = new EnvReader(env).optional(CODEC_SERVER_AUTH_TOKEN);
  if (value !== undefined) return checkToken(CODEC_SERVER_AUTH_TOKEN, value);
  if (opts.local) {
    const file = localCodecTokenFile(opts.dataDir);
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
    }
    return checkToken(`${CODEC_SERVER_AUTH_TOKEN} (from ${file})`, readFileSync(file, 'utf8').trim());
  }
  throw new ConfigError(
    CODEC_SERVER_AUTH_TOKEN,
    `is not set: give a random secret of at least ${MIN_TOKEN_LENGTH} characters (openssl rand -base64 32)`,
  );
}

export function loadCodecServerCorsOrigins(env: Env): string[] {
  const raw = new EnvReader(env).optional(CODEC_SERVER_CORS_ORIGINS);
  if (raw === undefined) return [...DEFAULT_CORS_ORIGINS];
  const origins = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (origins.length === 0) {
    throw new ConfigError(CODEC_SERVER_CORS_ORIGINS, 'lists no origins: expected e.g. http://localhost:8233');
  }
  return origins.map((origin) => {
    // The server sends credentials-allowing CORS headers, which browsers refuse with "*", and a
    // wildcard would let any page ask this server to decrypt.
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw new ConfigError(
        CODEC_SERVER_CORS_ORIGINS,
        `holds "${origin}", which is not an http(s) origin such as https://temporal-ui.example.com`,
      );
    }
    if (parsed.origin !== origin.replace(/\/+$/, '')) {
      throw new ConfigError(
        CODEC_SERVER_CORS_ORIGINS,
        `holds "${origin}": give the origin only (scheme://host[:port], no path), e.g. ${parsed.origin}`,
      );
    }
    return parsed.origin;
  });
}

export function loadCodecServerConfig(env: Env, opts: CodecConfigOptions = {}): CodecServerConfig {
  const oidc = loadOidcSettings(env);
  const tokenGiven = new EnvReader(env).optional(CODEC_SERVER_AUTH_TOKEN) !== undefined;
  return {
    keyring: loadCodecKeyring(env, opts),
    ...(oidc === undefined || tokenGiven || opts.local
      ? { authToken: loadCodecServerAuthToken(env, opts) }
      : {}),
    ...(oidc && { oidc }),
    allowedOrigins: loadCodecServerCorsOrigins(env),
    limits: loadServerLimits(env, 'CODEC_SERVER', CODEC_SERVER_LIMITS),
    secureCookie: new EnvReader(env).boolean(CODEC_SERVER_SECURE_COOKIE, false),
  };
}

function checkToken(variable: string, token: string): string {
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    // The value itself is never echoed: it is a credential.
    throw new ConfigError(
      variable,
      `must be at least ${MIN_TOKEN_LENGTH} characters without spaces (openssl rand -base64 32)`,
    );
  }
  return token;
}
