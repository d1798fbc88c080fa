import { join } from 'node:path';
import { ConfigError, EnvReader, type Env } from '../config/env-reader';
import { loadOrCreateLocalKeyring, parseKeyring, type Keyring } from '../crypto/keyring';
import { dataDir } from '../local-stack/server-binaries';

export const PIN_SEALING_KEYS = 'PIN_SEALING_KEYS';

/**
 * The worker-only key that seals PINs in Temporal history. In the local stack it is generated
 * once into the git-ignored data folder; anywhere else a missing key stops the worker at start.
 */
export function loadPinSealingKeyring(env: Env, opts: { local: boolean }): Keyring {
  const value = new EnvReader(env).optional(PIN_SEALING_KEYS);
  if (value) return parseKeyring(PIN_SEALING_KEYS, value);
  if (opts.local) return loadOrCreateLocalKeyring(PIN_SEALING_KEYS, join(dataDir, 'pin-sealing.keys'));
  throw new ConfigError(
    PIN_SEALING_KEYS,
    'is not set: give "kid:base64key" with a 32-byte key (openssl rand -base64 32); see docs/secrets.md',
  );
}
