import { generateTwoStepPin } from '../pin/pin-generator';
import { sealPin } from '../pin/pin-sealer';
import type { SealedPin } from '../workflows/messages';
import type { OnboardingQueueDeps } from './activity-deps';
import { classified } from './activity-failure';

export interface GeneratePinInput {
  phoneNumberId: string;
}

/** A fresh PIN from the CSPRNG, returned sealed: only sealed does it enter Temporal history. */
export function createGeneratePin(deps: OnboardingQueueDeps) {
  return async ({ phoneNumberId }: GeneratePinInput): Promise<SealedPin> =>
    classified(async () => sealPin(deps.sealingKeyring, phoneNumberId, generateTwoStepPin()));
}
