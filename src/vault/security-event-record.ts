// What Meta's security webhook said about a number, kept on the number's vault record (the PIN
// key's custom_metadata), beside active_version: a person reading the vault sees at once that the
// active version may no longer be what Meta holds, when that was reported, and by whom. The last
// few event keys are kept too, so a redelivered event is recognised as the same event.
import type { KvV2 } from './kv-v2';
import { VaultError } from './vault-errors';

export const SECURITY_EVENT_METADATA = {
  event: 'last_security_event',
  occurredAt: 'last_security_event_at',
  requester: 'last_security_event_requester',
  recordedAt: 'last_security_event_recorded_at',
  count: 'security_event_count',
  keys: 'recent_security_event_keys',
} as const;

/** Custom metadata values are capped at 512 bytes: 8 keys of 24 hex characters fit well. */
const KEPT_EVENT_KEYS = 8;
const EVENT_KEY_PATTERN = /^[0-9a-f]{8,64}$/;

export interface SecurityEventRecordInput {
  phoneNumberId: string;
  event: string;
  key: string;
  occurredAt?: string;
  requester?: string;
  /** When the workflow recorded it (fixed by the workflow, so a retried write is the same write). */
  recordedAt: string;
}

export type SecurityEventRecordResult =
  | {
      recorded: true;
      /** True when this event's key was already on the record: a redelivery, nothing to do. */
      duplicate: boolean;
      /** The version the vault said Meta held when the event arrived. */
      activeVersion?: number;
      count: number;
    }
  /** Nothing was ever stored for this number: there is no vault record to keep the event on. */
  | { recorded: false };

export interface SecurityEventRecorderOptions {
  vault: Pick<KvV2, 'kvReadMetadata' | 'kvWriteCustomMetadata'>;
  mount: string;
  /** The PIN prefix: the record is the PIN key itself. */
  prefix: string;
}

export function recentEventKeys(value: string | undefined): string[] {
  return (value ?? '').split(',').filter((k) => EVENT_KEY_PATTERN.test(k));
}

export function createSecurityEventRecorder(opts: SecurityEventRecorderOptions) {
  return async function recordSecurityEvent(
    input: SecurityEventRecordInput,
  ): Promise<SecurityEventRecordResult> {
    if (!EVENT_KEY_PATTERN.test(input.key)) {
      throw new VaultError('VaultBadRequest', 'a security event key must be 8-64 lowercase hex characters');
    }
    const path = `${opts.prefix}/${input.phoneNumberId}`;
    const meta = await opts.vault.kvReadMetadata(opts.mount, path);
    if (!meta || meta.currentVersion === 0) return { recorded: false };
    const custom = meta.customMetadata;
    const active = /^[1-9][0-9]*$/.test(custom.active_version ?? '')
      ? Number(custom.active_version)
      : undefined;
    const keys = recentEventKeys(custom[SECURITY_EVENT_METADATA.keys]);
    const count = Number(custom[SECURITY_EVENT_METADATA.count] ?? '0') || 0;
    const base = active !== undefined ? { activeVersion: active } : {};
    if (keys.includes(input.key)) return { recorded: true, duplicate: true, count, ...base };
    const M = SECURITY_EVENT_METADATA;
    // One merge patch: entries not named here (active_version, pending_version, ...) stay as they are.
    await opts.vault.kvWriteCustomMetadata(opts.mount, path, {
      [M.event]: input.event,
      [M.occurredAt]: input.occurredAt ?? null,
      [M.requester]: input.requester ?? null,
      [M.recordedAt]: input.recordedAt,
      [M.count]: String(count + 1),
      [M.keys]: [...keys, input.key].slice(-KEPT_EVENT_KEYS).join(','),
    });
    return { recorded: true, duplicate: false, count: count + 1, ...base };
  };
}
