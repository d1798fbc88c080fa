// The VaultError a vault call fails with, for tests that check its type, status and words.
import { VaultError } from '../../src/vault/vault-errors';

/** Awaits `promise` and returns its VaultError; any other outcome fails the test. */
export async function vaultFailure(promise: Promise<unknown>): Promise<VaultError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof VaultError) return err;
    throw err;
  }
  throw new Error('expected a VaultError, but the call succeeded');
}
