// The PIN travels through Temporal history only sealed under a key that workers alone hold.
// The payload codec (whose keys the UI's codec server also has) wraps it again, so decoding
// history in the UI still shows the sealed form, never the PIN.
import { KeyringError, type Keyring } from '../crypto/keyring';
import type { SealedPin } from '../workflows/messages';
import { PIN_PATTERN } from '../workflows/messages';
import { PinSealError } from './pin-seal-error';
import { PIN_SEALING_KEYS } from './sealing-config';

// Binding the phone-number id as associated data: a sealed PIN moved to another number's
// workflow fails to open instead of setting the wrong number's PIN.
const aadFor = (phoneNumberId: string) => Buffer.from(`two-step-pin:${phoneNumberId}`);

export function sealPin(keyring: Keyring, phoneNumberId: string, pin: string): SealedPin {
  const { kid, data } = keyring.encrypt(Buffer.from(pin, 'utf8'), aadFor(phoneNumberId));
  return { kid, sealed: data.toString('base64url') };
}

/** Throws PinSealError, naming the key id, when this keyring cannot open what was sealed. */
export function openPin(keyring: Keyring, phoneNumberId: string, sealed: SealedPin): string {
  const { kid } = sealed;
  let pin: string;
  try {
    pin = keyring
      .decrypt(kid, Buffer.from(sealed.sealed, 'base64url'), aadFor(phoneNumberId))
      .toString('utf8');
  } catch (err) {
    if (!(err instanceof KeyringError)) throw err;
    throw new PinSealError(kid, cannotOpen(keyring, kid, err), { cause: err });
  }
  if (!PIN_PATTERN.test(pin)) {
    throw new PinSealError(
      kid,
      `the PIN sealed under key id "${kid}" opened to something that is not six digits: send retry only after checking ${PIN_SEALING_KEYS} on every worker`,
    );
  }
  return pin;
}

function cannotOpen(keyring: Keyring, kid: string, err: KeyringError): string {
  const holds = keyring.kids.map((k) => `"${k}"`).join(', ');
  if (err.code === 'UNKNOWN_KEY_ID') {
    return `the PIN was sealed under key id "${kid}", which this worker's ${PIN_SEALING_KEYS} does not hold (it holds ${holds}): add key "${kid}" back to ${PIN_SEALING_KEYS} on every worker, restart them, then send retry`;
  }
  return `the PIN sealed under key id "${kid}" does not open with this worker's key of that id: every worker's ${PIN_SEALING_KEYS} must hold the same key under "${kid}" as the worker that sealed it; fix it, restart them, then send retry`;
}
