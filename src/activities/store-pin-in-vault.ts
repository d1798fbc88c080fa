import { log } from '@temporalio/activity';
import { openPin } from '../pin/pin-sealer';
import type { SealedPin, VaultLocation } from '../workflows/messages';
import type { OnboardingQueueDeps } from './activity-deps';
import { classified } from './activity-failure';

export interface StorePinInput {
  phoneNumberId: string;
  workflowId: string;
  sealedPin: SealedPin;
  /** Fixed by the workflow, so a retried write is recognisably the same write. */
  createdAt: string;
}

/** Stores the PIN as a pending version, before anything is sent to Meta. */
export function createStorePinInVault(deps: OnboardingQueueDeps) {
  return async (input: StorePinInput): Promise<VaultLocation> =>
    classified(async () => {
      const pin = openPin(deps.sealingKeyring, input.phoneNumberId, input.sealedPin);
      const stored = await deps.vault.storePin({
        phoneNumberId: input.phoneNumberId,
        workflowId: input.workflowId,
        pin,
        createdAt: input.createdAt,
      });
      log.info('PIN stored as pending', { phoneNumberId: input.phoneNumberId, version: stored.version });
      return { path: stored.path, version: stored.version };
    });
}
