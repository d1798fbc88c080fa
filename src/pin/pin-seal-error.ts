// A sealed PIN this worker cannot open. Waiting never fixes that (the key is missing or differs
// from the sealing worker's), so the activity fails it as non-retryable PinSealError and the
// number parks at once, with a message naming the key id (ids only, never key material).
import { CodedError } from '../cli/coded-error';

export class PinSealError extends CodedError<'PinSealError'> {
  constructor(
    /** The key id the PIN was sealed under. */
    readonly kid: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('PinSealError', message, options);
  }
}
