// Authenticating callers of the trigger without leaking anything through timing: Meta's
// X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app secret) and plain shared secrets
// (bearer token, webhook verify token) are all compared in constant time.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const SIGNATURE_PREFIX = 'sha256=';

/** Equal strings, compared in time independent of where they differ and of their lengths. */
export function secretsEqual(given: string, expected: string): boolean {
  // Hashing first gives equal-length inputs, so not even the secret's length is revealed.
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The X-Hub-Signature-256 value Meta sends for `rawBody`. */
export function webhookSignature(rawBody: Buffer | string, appSecret: string): string {
  return SIGNATURE_PREFIX + createHmac('sha256', appSecret).update(rawBody).digest('hex');
}

/** Whether `header` is Meta's signature of exactly these bytes (the body before any parsing). */
export function webhookSignatureMatches(
  rawBody: Buffer,
  header: string | undefined,
  appSecret: string,
): boolean {
  if (!header?.startsWith(SIGNATURE_PREFIX)) return false;
  const hex = header.slice(SIGNATURE_PREFIX.length).trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) return false;
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  return timingSafeEqual(Buffer.from(hex, 'hex'), expected);
}

/** The token of an `Authorization: Bearer <token>` header, if it has that form. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
