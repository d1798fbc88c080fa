// AES-256 keyrings with key ids: one current key encrypts, every listed key decrypts, so keys
// rotate by putting a new key first and keeping the old ones until nothing sealed under them
// is still running.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../config/env-reader';
import { CodedError } from '../cli/coded-error';

const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class KeyringError extends CodedError<'UNKNOWN_KEY_ID' | 'DECRYPT_FAILED'> {}

export interface Keyring {
  readonly currentKid: string;
  readonly kids: readonly string[];
  /** iv | ciphertext | tag under the current key. */
  encrypt(plaintext: Uint8Array, aad?: Uint8Array): { kid: string; data: Buffer };
  /** Throws KeyringError for an unknown key id or any tampering: never returns garbage. */
  decrypt(kid: string, data: Uint8Array, aad?: Uint8Array): Buffer;
}

export function createKeyring(keys: ReadonlyArray<{ kid: string; key: Buffer }>): Keyring {
  const first = keys[0];
  if (!first) throw new Error('a keyring needs at least one key');
  const byKid = new Map(keys.map((k) => [k.kid, k.key]));
  return {
    currentKid: first.kid,
    kids: keys.map((k) => k.kid),
    encrypt(plaintext, aad) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', first.key, iv);
      if (aad) cipher.setAAD(aad);
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return { kid: first.kid, data: Buffer.concat([iv, body, cipher.getAuthTag()]) };
    },
    decrypt(kid, data, aad) {
      const key = byKid.get(kid);
      if (!key) throw new KeyringError('UNKNOWN_KEY_ID', `no key with id "${kid}" is configured`);
      if (data.length < IV_BYTES + TAG_BYTES) {
        throw new KeyringError('DECRYPT_FAILED', 'ciphertext is too short');
      }
      const buf = Buffer.from(data);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, IV_BYTES));
        if (aad) decipher.setAAD(aad);
        decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
        return Buffer.concat([
          decipher.update(buf.subarray(IV_BYTES, buf.length - TAG_BYTES)),
          decipher.final(),
        ]);
      } catch {
        throw new KeyringError('DECRYPT_FAILED', `ciphertext under key "${kid}" failed authentication`);
      }
    },
  };
}

/**
 * Parses "kid1:BASE64KEY,kid2:BASE64KEY" (first = current). Each key is 32 random bytes in
 * base64 (`openssl rand -base64 32`). Errors name the variable and never echo a key.
 */
export function parseKeyring(variable: string, value: string): Keyring {
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0)
    throw new ConfigError(variable, 'holds no keys: expected "kid:base64key[,kid:base64key...]"');
  const keys = entries.map((entry, i) => {
    const sep = entry.indexOf(':');
    const kid = sep > 0 ? entry.slice(0, sep) : '';
    if (!KEY_ID_PATTERN.test(kid)) {
      throw new ConfigError(
        variable,
        `entry ${i + 1} has no valid key id: expected "kid:base64key" with kid of letters, digits, . _ -`,
      );
    }
    const key = Buffer.from(entry.slice(sep + 1), 'base64');
    if (key.length !== 32) {
      throw new ConfigError(
        variable,
        `key "${kid}" is ${key.length} bytes once base64-decoded: AES-256 needs exactly 32 (openssl rand -base64 32)`,
      );
    }
    return { kid, key };
  });
  const seen = new Set<string>();
  for (const { kid } of keys) {
    if (seen.has(kid)) throw new ConfigError(variable, `lists key id "${kid}" twice`);
    seen.add(kid);
  }
  return createKeyring(keys);
}

export function generateKeyringValue(kid: string): string {
  return `${kid}:${randomBytes(32).toString('base64')}`;
}

/** Local stack only: a keyring generated once into the git-ignored data folder. */
export function loadOrCreateLocalKeyring(variable: string, file: string): Keyring {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${generateKeyringValue(`local-${Date.now().toString(36)}`)}\n`, { mode: 0o600 });
  }
  return parseKeyring(`${variable} (from ${file})`, readFileSync(file, 'utf8'));
}
