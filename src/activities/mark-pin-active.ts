import { log } from '@temporalio/activity';
import type { OnboardingQueueDeps, PinVersionInput } from './activity-deps';
import { classified } from './activity-failure';

/** After an operator set the stored PIN by hand in WhatsApp Manager. */
export function createMarkPinActive(deps: OnboardingQueueDeps) {
  return async ({ phoneNumberId, version }: PinVersionInput): Promise<void> =>
    classified(async () => {
      await deps.vault.markActive({ phoneNumberId, version });
      log.info('PIN version marked active after a manual reset', { phoneNumberId, version });
    });
}
