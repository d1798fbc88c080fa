import { Context, log } from '@temporalio/activity';
import type { ActivityDeps, SetTwoStepPinInput } from './activity-deps';
import { classified } from './activity-failure';

export interface SetTwoStepPinResult {
  fbtraceId?: string;
}

// What is sent to Meta is read back from the vault, so the PIN Meta holds is always a version the
// vault has; only after Meta accepts it does that version become active.
export function createSetTwoStepPin(deps: ActivityDeps) {
  return async ({
    phoneNumberId,
    version,
    tenant,
    wabaId,
  }: SetTwoStepPinInput): Promise<SetTwoStepPinResult> =>
    classified(async () => {
      const { pin, markers } = await deps.vault.readPinToSend({ phoneNumberId, version });
      const { fbtraceId } = await deps.graph.setTwoStepPin({
        phoneNumberId,
        ...(tenant !== undefined ? { tenant } : {}),
        pin,
        wabaId,
        signal: Context.current().cancellationSignal,
      });
      await deps.vault.markActive({ phoneNumberId, version, markers });
      log.info('two-step PIN set on Meta and marked active', { phoneNumberId, version, fbtraceId });
      return { fbtraceId };
    });
}
