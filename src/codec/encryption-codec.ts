// The payload codec: every payload leaves the process (client or worker) encrypted, so Temporal's
// history holds ciphertext only. Metadata follows the conventions of Temporal's encryption samples
// (encoding "binary/encrypted", key id in "encryption-key-id") so the Web UI, the CLI and a codec
// server recognise these payloads.
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { KeyringError, type Keyring } from '../crypto/keyring';
import { quoteUntrusted } from '../text/quote-untrusted';
import { CodedError } from '../cli/coded-error';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_ENCRYPTION_KEY_ID = 'encryption-key-id';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export class PayloadDecryptionError extends CodedError<
  'UNKNOWN_KEY_ID' | 'DECRYPT_FAILED' | 'MALFORMED_PAYLOAD'
> {}

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly keyring: Keyring) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      // The whole payload (its metadata included) is encrypted: the original encoding and any
      // message type name are nobody's business but the reader's.
      const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
      const { kid, data } = this.keyring.encrypt(plaintext);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: utf8.encode(ENCRYPTED_ENCODING),
          [METADATA_ENCRYPTION_KEY_ID]: utf8.encode(kid),
        },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => (isEncrypted(payload) ? this.decrypt(payload) : payload));
  }

  private decrypt(payload: Payload): Payload {
    const kidBytes = payload.metadata?.[METADATA_ENCRYPTION_KEY_ID];
    if (!kidBytes || kidBytes.length === 0) {
      throw new PayloadDecryptionError(
        'MALFORMED_PAYLOAD',
        `encrypted payload has no "${METADATA_ENCRYPTION_KEY_ID}" metadata: cannot tell which key sealed it`,
      );
    }
    const kid = textOf(kidBytes, METADATA_ENCRYPTION_KEY_ID);
    let plaintext: Buffer;
    try {
      plaintext = this.keyring.decrypt(kid, payload.data ?? new Uint8Array());
    } catch (err) {
      if (err instanceof KeyringError && err.code === 'UNKNOWN_KEY_ID') {
        throw new PayloadDecryptionError(
          'UNKNOWN_KEY_ID',
          `payload was encrypted under key ${quoteUntrusted(kid)}, which is not in this keyring (known: ${this.keyring.kids.join(', ')}): ` +
            'keep retired keys listed in PAYLOAD_CODEC_KEYS until no history needs them',
          { cause: err },
        );
      }
      throw new PayloadDecryptionError(
        'DECRYPT_FAILED',
        `payload under key ${quoteUntrusted(kid)} failed authentication: it was altered or encrypted with a different key of that id`,
        { cause: err },
      );
    }
    try {
      const inner = temporal.api.common.v1.Payload.decode(plaintext);
      return { metadata: inner.metadata, data: inner.data };
    } catch (err) {
      // Authentic ciphertext that is not a Payload: encrypted by something other than this codec.
      throw new PayloadDecryptionError(
        'MALFORMED_PAYLOAD',
        `payload under key ${quoteUntrusted(kid)} decrypted but does not hold a Temporal Payload`,
        { cause: err },
      );
    }
  }
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
  return (
    encoding !== undefined && encoding !== null && Buffer.from(encoding).toString() === ENCRYPTED_ENCODING
  );
}

function textOf(bytes: Uint8Array, what: string): string {
  try {
    return fromUtf8.decode(bytes);
  } catch {
    throw new PayloadDecryptionError('MALFORMED_PAYLOAD', `"${what}" metadata is not UTF-8 text`);
  }
}
