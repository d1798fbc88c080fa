// The PIN travels through Temporal history only sealed under a key that workers alone hold.
// The payload codec (whose keys the UI's codec server also has) wraps it again, so decoding
// history in the UI still shows the sealed form, never the PIN.
import type { Keyring } from '../crypto/keyring';
import type { SealedPin } from '../workflows/messages';
import { PIN_PATTERN } from '../workflows/messages';

// Binding the phone-number id as associated data: a sealed PIN moved to another number's
// workflow fails to open instead of setting the wrong number's PIN.
const aadFor = (phoneNumberId: string) => Buffer.from(`two-step-pin:${phoneNumberId}`);

export function sealPin(keyring: Keyring, phoneNumberId: string, pin: string): SealedPin {
  const { kid, data } = keyring.encrypt(Buffer.from(pin, 'utf8'), aadFor(phoneNumberId));
  return { kid, sealed: data.toString('base64url') };
}

export function openPin(keyring: Keyring, phoneNumberId: string, sealed: SealedPin): string {
  const pin = keyring
    .decrypt(sealed.kid, Buffer.from(sealed.sealed, 'base64url'), aadFor(phoneNumberId))
    .toString('utf8');
  if (!PIN_PATTERN.test(pin)) throw new Error('sealed PIN opened to something that is not six digits');
  return pin;
}
