import { log } from '@temporalio/activity';
import type { SecurityEventName } from '../workflows/messages';
import type { OnboardingQueueDeps } from './activity-deps';
import { classified } from './activity-failure';

export interface RecordSecurityEventInput {
  phoneNumberId: string;
  event: SecurityEventName;
  key: string;
  occurredAt?: string;
  requester?: string;
  /** Fixed by the workflow, so a retried write is the same write. */
  recordedAt: string;
}

export type RecordSecurityEventResult =
  | {
      recorded: true;
      duplicate: boolean;
      /** The version the vault said Meta held when the event arrived, with its logical path. */
      active?: { path: string; version: number };
      count: number;
    }
  | { recorded: false };

// Meta's security webhook said a person changed this number's PIN (or two-step) in WhatsApp
// Manager: keep it on the vault record, where whoever reads the PIN sees it (docs/pin-drift.md).
export function createRecordSecurityEvent(deps: OnboardingQueueDeps) {
  return async (input: RecordSecurityEventInput): Promise<RecordSecurityEventResult> =>
    classified(async () => {
      const result = await deps.vault.recordSecurityEvent(input);
      if (!result.recorded) {
        log.warn('security event for a number the vault has no record of', {
          phoneNumberId: input.phoneNumberId,
          event: input.event,
        });
        return result;
      }
      log.info('security event recorded on the vault record', {
        phoneNumberId: input.phoneNumberId,
        event: input.event,
        duplicate: result.duplicate,
        count: result.count,
      });
      const { activeVersion, ...rest } = result;
      return activeVersion === undefined
        ? rest
        : { ...rest, active: { path: deps.vault.logicalPath(input.phoneNumberId), version: activeVersion } };
    });
}
