// Which tokens "Meta" accepts in the sandbox, and for which WABAs. The partner's own token (the
// sandbox's accessToken) reaches every WABA; a client business's token reaches only the WABAs that
// client shared, as with Meta's App-Only install, where any other token is refused with code 200.
// The request log names each call's token by a fingerprint, never by the token itself.
import { createHash } from 'node:crypto';

/** Token -> the WABA ids it may act on ('*': all of them). */
export type SandboxTokenGrants = Record<string, readonly string[] | '*'>;

export type TokenVerdict = 'ok' | 'unknown-token' | 'not-granted';

export interface SandboxTokens {
  /** Whether `token` may act on an object of `wabaId` (undefined: no WABA known for the object). */
  verdict(token: string, wabaId: string | undefined): TokenVerdict;
  grant(token: string, wabas: readonly string[] | '*'): void;
  revoke(token: string): void;
  reset(): void;
}

/** 12 hex characters of SHA-256: enough to tell tokens apart in a log, useless to call with. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 12);
}

export function createSandboxTokens(initial: SandboxTokenGrants): SandboxTokens {
  let grants = new Map(Object.entries(initial));
  return {
    verdict(token, wabaId) {
      const granted = grants.get(token);
      if (granted === undefined) return 'unknown-token';
      if (granted === '*') return 'ok';
      // An object of no known WABA (a number never added to one) is reachable by no client token.
      return wabaId !== undefined && granted.includes(wabaId) ? 'ok' : 'not-granted';
    },
    grant(token, wabas) {
      grants.set(token, wabas === '*' ? '*' : [...wabas]);
    },
    revoke(token) {
      grants.delete(token);
    },
    reset() {
      grants = new Map(Object.entries(initial));
    },
  };
}

/** Client businesses as the sandbox CLI reads them: token -> WABA id -> the WABA's phone-number ids. */
export type SandboxTenants = Record<string, Record<string, string[]>>;

/** Grants and WABAs from a `--tenants` file; throws with the place of the first problem. */
export function parseSandboxTenants(
  value: unknown,
  where: string,
): {
  grants: SandboxTokenGrants;
  wabas: Record<string, Array<{ id: string }>>;
} {
  const fail = (what: string): never => {
    throw new Error(`${where}: ${what} (expected {"<token>": {"<waba id>": ["<phone-number id>", ...]}})`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not an object');
  const grants: SandboxTokenGrants = {};
  const wabas: Record<string, Array<{ id: string }>> = {};
  for (const [token, byWaba] of Object.entries(value as Record<string, unknown>)) {
    if (!/^[\x21-\x7e]+$/.test(token)) fail('a token has spaces or non-printable characters');
    if (typeof byWaba !== 'object' || byWaba === null || Array.isArray(byWaba))
      fail('a token maps to no WABAs');
    for (const [wabaId, ids] of Object.entries(byWaba as Record<string, unknown>)) {
      if (!/^\d{1,32}$/.test(wabaId)) fail(`WABA id "${wabaId.slice(0, 40)}" is not digits`);
      if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' && /^\d{1,32}$/.test(id))) {
        fail(`WABA ${wabaId} must list phone-number ids (digits)`);
      }
      wabas[wabaId] = (ids as string[]).map((id) => ({ id }));
    }
    grants[token] = Object.keys(byWaba as Record<string, unknown>);
  }
  return { grants, wabas };
}
