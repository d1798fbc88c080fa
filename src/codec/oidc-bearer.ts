// The codec server's sign-in for a deployed Temporal UI with OIDC: with "Pass access token" on,
// the UI sends the engineer's access token (Authorization: Bearer) and ID token
// (Authorization-Extras) to an https codec endpoint. Both are JWTs from the identity provider,
// checked here against its published keys (JWKS), issuer and audience, and optionally one claim
// (a group), so the engineers who may read payloads are the ones the identity provider says.
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { ConfigError, EnvReader, type Env } from '../config/env-reader';

export const CODEC_SERVER_OIDC_JWKS_URL = 'CODEC_SERVER_OIDC_JWKS_URL';
export const CODEC_SERVER_OIDC_ISSUER = 'CODEC_SERVER_OIDC_ISSUER';
export const CODEC_SERVER_OIDC_AUDIENCE = 'CODEC_SERVER_OIDC_AUDIENCE';
export const CODEC_SERVER_OIDC_REQUIRED_CLAIM = 'CODEC_SERVER_OIDC_REQUIRED_CLAIM';

/** Asymmetric algorithms only: a shared-secret HS256 token could be minted by whoever holds it. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

export interface OidcSettings {
  jwksUrl: string;
  issuer: string;
  /** Accepted `aud` values: the API audience of access tokens and/or the UI's client id (ID tokens). */
  audiences: string[];
  /** `claim` must equal `value`, or be an array holding it (e.g. groups=payload-readers). */
  requiredClaim?: { claim: string; value: string };
}

export type BearerCheck = { ok: true; subject: string } | { ok: false; problem: string };

export interface BearerVerifier {
  verify(token: string): Promise<BearerCheck>;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** The OIDC settings, or undefined when CODEC_SERVER_OIDC_JWKS_URL is not set. */
export function loadOidcSettings(env: Env): OidcSettings | undefined {
  const read = new EnvReader(env);
  const jwksUrl = read.optional(CODEC_SERVER_OIDC_JWKS_URL);
  if (jwksUrl === undefined) {
    const stray = [
      CODEC_SERVER_OIDC_ISSUER,
      CODEC_SERVER_OIDC_AUDIENCE,
      CODEC_SERVER_OIDC_REQUIRED_CLAIM,
    ].find((name) => read.optional(name) !== undefined);
    if (stray)
      throw new ConfigError(stray, `is set but ${CODEC_SERVER_OIDC_JWKS_URL} is not: give the JWKS URL too`);
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(jwksUrl);
  } catch {
    throw new ConfigError(
      CODEC_SERVER_OIDC_JWKS_URL,
      `is not a URL (got "${jwksUrl}"): give the identity provider's jwks_uri`,
    );
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new ConfigError(
      CODEC_SERVER_OIDC_JWKS_URL,
      `must be an https:// URL (got "${jwksUrl}"): keys fetched in clear could be swapped`,
    );
  }
  const issuer = read.required(
    CODEC_SERVER_OIDC_ISSUER,
    "give the identity provider's issuer, the tokens' iss claim",
  );
  const audiences = read
    .required(
      CODEC_SERVER_OIDC_AUDIENCE,
      "give the tokens' aud: the access tokens' API audience and/or the UI's client id, comma-separated",
    )
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const claimRaw = read.optional(CODEC_SERVER_OIDC_REQUIRED_CLAIM);
  let requiredClaim: OidcSettings['requiredClaim'];
  if (claimRaw !== undefined) {
    const match = /^([A-Za-z0-9_:./-]+)=(.+)$/.exec(claimRaw);
    if (!match) {
      throw new ConfigError(
        CODEC_SERVER_OIDC_REQUIRED_CLAIM,
        `must be claim=value, e.g. groups=payload-readers (got "${claimRaw}")`,
      );
    }
    requiredClaim = { claim: match[1]!, value: match[2]! };
  }
  return { jwksUrl, issuer, audiences, ...(requiredClaim && { requiredClaim }) };
}

function claimHolds(payload: JWTPayload, required: NonNullable<OidcSettings['requiredClaim']>): boolean {
  const value = payload[required.claim];
  return Array.isArray(value) ? value.includes(required.value) : value === required.value;
}

/** Why a token failed, in words that name the check and never quote the token. */
function problemOf(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the token has expired: sign in to the UI again';
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return `the token's ${err.claim} claim is not accepted`;
  if (
    err instanceof joseErrors.JWKSNoMatchingKey ||
    err instanceof joseErrors.JWSSignatureVerificationFailed
  ) {
    return "the token is not signed by a key of the identity provider's JWKS";
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return 'the token is signed with an algorithm that is not accepted';
  // jose's own errors are about the token; anything else came from fetching the keys.
  if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError)) {
    return "the identity provider's keys could not be fetched";
  }
  return 'the token is not a valid JWT';
}

export function createOidcBearerVerifier(settings: OidcSettings): BearerVerifier {
  // Keys are cached and refetched when a token names an unknown key id (the provider rotated).
  const keys = createRemoteJWKSet(new URL(settings.jwksUrl), { timeoutDuration: 5_000 });
  return {
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer: settings.issuer,
          audience: settings.audiences,
          algorithms: ALGORITHMS,
          clockTolerance: 30,
        });
        if (settings.requiredClaim && !claimHolds(payload, settings.requiredClaim)) {
          return {
            ok: false,
            problem: `the token lacks ${settings.requiredClaim.claim}=${settings.requiredClaim.value}: this engineer may not read payloads`,
          };
        }
        return { ok: true, subject: typeof payload.sub === 'string' ? payload.sub : '(no sub)' };
      } catch (err) {
        return { ok: false, problem: problemOf(err) };
      }
    },
  };
}
