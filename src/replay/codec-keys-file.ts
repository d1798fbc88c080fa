// A payload codec keyring kept in a file rather than in PAYLOAD_CODEC_KEYS: the committed replay
// fixtures' key (test/histories/codec-keys.txt), or a key an engineer saved to replay histories
// downloaded from another deployment.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/env-reader';
import { parseKeyring, type Keyring } from '../crypto/keyring';

/** "kid:base64key" entries separated by commas or lines; lines starting with '#' are comments. */
export function readCodecKeysFile(path: string): Keyring {
  const what = `--codec-keys-file ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(what, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const value = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .join(',');
  return parseKeyring(what, value);
}
