// The vault record of each number's two-step PIN (the "vault record" contract): KV v2 data
// { pin, phoneNumberId, workflowId, createdAt } at {mount}/data/{prefix}/{phoneNumberId}, one
// version per generated PIN, and the key's custom_metadata saying which version is
// pending (stored, not yet confirmed by Meta) and which is active (what Meta holds).
import {
  formatCalls,
  formatEpochSeconds,
  nextCallAllowedAt,
  parseCalls,
  parseEpochSeconds,
  prune,
  registrationBudget,
  withCall,
  type RegistrationBudget,
  type RegistrationCallKind,
  type RegistrationLedger,
} from '../registration/registration-budget';
import { RegistrationBudgetError } from '../registration/registration-budget-error';
import type { VaultLocation } from '../workflows/messages';
import { PHONE_NUMBER_ID_PATTERN, PIN_PATTERN } from '../workflows/messages';
import {
  createSecurityEventRecorder,
  type SecurityEventRecordInput,
  type SecurityEventRecordResult,
} from './security-event-record';
import type { VaultClient } from './vault-client';
import { VaultError, isVaultError } from './vault-errors';

export interface PinRecord {
  /** Always a string: "001234" must keep its leading zeros. */
  pin: string;
  phoneNumberId: string;
  workflowId: string;
  /** ISO timestamp from the workflow, so a retried write carries the same value. */
  createdAt: string;
}

export interface PinKeyState {
  currentVersion: number;
  activeVersion?: number;
  pendingVersion?: number;
}

/** The key's pending/active markers as one read saw them (custom_metadata, strings). */
export type PinMarkers = Record<string, string>;

/** Meta's registration budget, kept on the vault record's key metadata (docs/registration.md). */
export interface RegistrationLedgerStore {
  /** The register/deregister calls recorded for the number (empty when none, or no key yet). */
  readRegistrationLedger(phoneNumberId: string): Promise<RegistrationLedger>;
  /**
   * Records a register/deregister call about to be made at `now`, and returns the budget with it
   * counted. Throws RegistrationBudgetError, recording nothing, when the call would exceed a limit:
   * the check and the record sit right before the call, so a crash can at most over-count.
   */
  recordRegistrationCall(input: {
    phoneNumberId: string;
    kind: RegistrationCallKind;
    now: number;
  }): Promise<RegistrationBudget>;
  /** Records Meta's 133016 block (the number cannot register until `until`). */
  recordRegistrationBlock(input: {
    phoneNumberId: string;
    until: number;
    now: number;
  }): Promise<RegistrationBudget>;
}

export interface PinStore extends RegistrationLedgerStore {
  /** Stores the PIN as a new version (or finds the one a lost-response attempt already wrote). */
  storePin(record: PinRecord): Promise<VaultLocation>;
  /** Exactly that version's PIN; VaultNotFound when it is missing, deleted or destroyed. */
  readPin(ref: { phoneNumberId: string; version: number }): Promise<string>;
  /**
   * The PIN to send to Meta, with the key's markers from the same read, so that marking it active
   * afterwards needs no read of its own (one vault round trip less per number).
   */
  readPinToSend(ref: {
    phoneNumberId: string;
    version: number;
  }): Promise<{ pin: string; markers?: PinMarkers }>;
  /**
   * Records that Meta now holds this version's PIN. `markers` from readPinToSend spare the
   * metadata read; without them (or on a server that does not send them) it reads them first.
   */
  markActive(ref: { phoneNumberId: string; version: number; markers?: PinMarkers }): Promise<void>;
  /** The key's versions and markers; undefined when nothing was ever stored for the number. */
  describe(phoneNumberId: string): Promise<PinKeyState | undefined>;
  /** The PIN Meta should hold, for tests and operators; undefined when none is active. */
  readActivePin(phoneNumberId: string): Promise<{ pin: string; version: number } | undefined>;
  /** "{mount}/{prefix}/{phoneNumberId}", the path shown in the workflow's status. */
  logicalPath(phoneNumberId: string): string;
  /** Keeps one of Meta's security events on the number's record (docs/pin-drift.md). */
  recordSecurityEvent(input: SecurityEventRecordInput): Promise<SecurityEventRecordResult>;
}

export interface PinStoreOptions {
  vault: VaultClient;
  mount: string;
  prefix: string;
}

export const ACTIVE_VERSION_KEY = 'active_version';
export const PENDING_VERSION_KEY = 'pending_version';
/** The registration ledger (docs/registration.md): calls of the last 7 days, and Meta's block. */
export const REGISTER_CALLS_KEY = 'register_calls';
export const REGISTER_BLOCKED_UNTIL_KEY = 'register_blocked_until';

/** Each lost check-and-set race costs one more read; more than a few means something is looping. */
const MAX_CAS_ATTEMPTS = 4;

export function createPinStore({ vault, mount, prefix }: PinStoreOptions): PinStore {
  const keyPath = (phoneNumberId: string) => `${prefix}/${checkedId(phoneNumberId)}`;
  const logicalPath = (phoneNumberId: string) => `${mount}/${keyPath(phoneNumberId)}`;

  async function setPending(phoneNumberId: string, version: number, custom: Record<string, string>) {
    if (custom[PENDING_VERSION_KEY] === String(version)) return;
    // A merge patch names only pending_version, so active_version stays as it is.
    await vault.kvWriteCustomMetadata(mount, keyPath(phoneNumberId), {
      [PENDING_VERSION_KEY]: String(version),
    });
  }

  async function readPinToSend({ phoneNumberId, version }: { phoneNumberId: string; version: number }) {
    checkVersion(version);
    const found = await vault.kvRead<Partial<PinRecord>>(mount, keyPath(phoneNumberId), { version });
    const where = `version ${version} of ${logicalPath(phoneNumberId)}`;
    if (!found) {
      throw new VaultError(
        'VaultNotFound',
        `${where} is missing, deleted or destroyed: the PIN cannot be read back; if Meta holds it, restore the version (kv undelete) or change the PIN in WhatsApp Manager`,
        { httpStatus: 404, path: `${mount}/data/${keyPath(phoneNumberId)}` },
      );
    }
    const { pin } = found.data;
    if (typeof pin !== 'string' || (found.data.phoneNumberId ?? phoneNumberId) !== phoneNumberId) {
      throw new VaultError('VaultNotFound', `${where} holds no PIN record for this number`, {
        path: `${mount}/data/${keyPath(phoneNumberId)}`,
      });
    }
    return { pin, markers: found.metadata.custom_metadata };
  }

  async function readPin(ref: { phoneNumberId: string; version: number }): Promise<string> {
    return (await readPinToSend(ref)).pin;
  }

  async function describe(phoneNumberId: string): Promise<PinKeyState | undefined> {
    const meta = await vault.kvReadMetadata(mount, keyPath(phoneNumberId));
    if (!meta) return undefined;
    const state: PinKeyState = { currentVersion: meta.currentVersion };
    const active = parseVersion(meta.customMetadata[ACTIVE_VERSION_KEY]);
    const pending = parseVersion(meta.customMetadata[PENDING_VERSION_KEY]);
    if (active !== undefined) state.activeVersion = active;
    if (pending !== undefined) state.pendingVersion = pending;
    return state;
  }

  async function readLedgerAt(phoneNumberId: string, now: number): Promise<RegistrationLedger> {
    const meta = await vault.kvReadMetadata(mount, keyPath(phoneNumberId));
    const custom = meta?.customMetadata ?? {};
    const ledger: RegistrationLedger = { calls: parseCalls(custom[REGISTER_CALLS_KEY], now) };
    const blockedUntil = parseEpochSeconds(custom[REGISTER_BLOCKED_UNTIL_KEY], now);
    if (blockedUntil !== undefined) ledger.blockedUntil = blockedUntil;
    return ledger;
  }

  async function writeLedger(phoneNumberId: string, ledger: RegistrationLedger): Promise<void> {
    // One merge patch carries both keys; null removes an entry (the vault refuses empty values).
    const calls = formatCalls(ledger.calls);
    await vault.kvWriteCustomMetadata(mount, keyPath(phoneNumberId), {
      [REGISTER_CALLS_KEY]: calls === '' ? null : calls,
      [REGISTER_BLOCKED_UNTIL_KEY]:
        ledger.blockedUntil === undefined ? null : formatEpochSeconds(ledger.blockedUntil),
    });
  }
  const recordEvent = createSecurityEventRecorder({ vault, mount, prefix });

  return {
    logicalPath,
    readPin,
    readPinToSend,
    describe,
    recordSecurityEvent: (input) => recordEvent({ ...input, phoneNumberId: checkedId(input.phoneNumberId) }),

    async readRegistrationLedger(phoneNumberId) {
      return readLedgerAt(phoneNumberId, Date.now());
    },

    async recordRegistrationCall({ phoneNumberId, kind, now }) {
      const ledger = prune(await readLedgerAt(phoneNumberId, now), now);
      if (nextCallAllowedAt(ledger, now, kind) > now) {
        throw new RegistrationBudgetError(phoneNumberId, registrationBudget(ledger, now));
      }
      const next = withCall(ledger, { kind, at: now });
      await writeLedger(phoneNumberId, next);
      return registrationBudget(next, now);
    },

    async recordRegistrationBlock({ phoneNumberId, until, now }) {
      const ledger = prune(await readLedgerAt(phoneNumberId, now), now);
      const next = prune({ ...ledger, blockedUntil: Math.max(until, ledger.blockedUntil ?? 0) }, now);
      await writeLedger(phoneNumberId, next);
      return registrationBudget(next, now);
    },

    async storePin(record) {
      checkPin(record.pin);
      const path = keyPath(record.phoneNumberId);
      const data: PinRecord = {
        pin: record.pin,
        phoneNumberId: record.phoneNumberId,
        workflowId: record.workflowId,
        createdAt: record.createdAt,
      };
      let lastMismatch: unknown;
      // Nearly every number is new: write blind with cas=0 (refused once any version exists), and
      // only on a mismatch read what is there. Saves a metadata read on the common path.
      try {
        const { version } = await vault.kvWrite(mount, path, { ...data }, { cas: 0 });
        await setPending(record.phoneNumberId, version, {});
        return { path: logicalPath(record.phoneNumberId), version };
      } catch (err) {
        if (!isVaultError(err, 'VaultCasMismatch')) throw err;
        lastMismatch = err;
      }
      for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
        const meta = await vault.kvReadMetadata(mount, path);
        const current = meta?.currentVersion ?? 0;
        if (current > 0) {
          // An earlier attempt may have written this very record and lost the response:
          // reusing its version keeps one PIN per attempt, and Meta gets that one.
          const latest = await vault.kvRead<Partial<PinRecord>>(mount, path, { version: current });
          if (latest && sameRecord(latest.data, data)) {
            await setPending(record.phoneNumberId, current, meta?.customMetadata ?? {});
            return { path: logicalPath(record.phoneNumberId), version: current };
          }
        }
        try {
          // cas = the version just checked: a concurrent writer makes this fail instead of
          // silently stacking a second PIN on top.
          const { version } = await vault.kvWrite(mount, path, { ...data }, { cas: current });
          await setPending(record.phoneNumberId, version, {});
          return { path: logicalPath(record.phoneNumberId), version };
        } catch (err) {
          if (!isVaultError(err, 'VaultCasMismatch')) throw err;
          lastMismatch = err;
        }
      }
      throw lastMismatch;
    },

    async markActive({ phoneNumberId, version, markers }) {
      checkVersion(version);
      const path = keyPath(phoneNumberId);
      // Markers read with the PIN moments ago, by this same attempt, are as good as a fresh read:
      // one live workflow per number, and nothing else writes these two markers (a security event's
      // record patches keys of its own).
      const meta = markers ? { customMetadata: markers } : await vault.kvReadMetadata(mount, path);
      if (!meta) {
        throw new VaultError(
          'VaultNotFound',
          `no PIN key at ${logicalPath(phoneNumberId)} to mark version ${version} active`,
          { httpStatus: 404, path: `${mount}/metadata/${path}` },
        );
      }
      // Set unconditionally, even if it moves active_version to an older version: this runs
      // right after Meta accepted this version's PIN, and Meta keeps whichever PIN was set
      // last. After a workflow reset an older version can legitimately be what Meta holds,
      // and refusing to record that would make the vault disagree with Meta.
      const patch: Record<string, string | null> = { [ACTIVE_VERSION_KEY]: String(version) };
      if (meta.customMetadata[PENDING_VERSION_KEY] === String(version)) patch[PENDING_VERSION_KEY] = null;
      if (meta.customMetadata[ACTIVE_VERSION_KEY] === String(version) && !(PENDING_VERSION_KEY in patch)) {
        return;
      }
      await vault.kvWriteCustomMetadata(mount, path, patch);
    },

    async readActivePin(phoneNumberId) {
      const state = await describe(phoneNumberId);
      if (state?.activeVersion === undefined) return undefined;
      const pin = await readPin({ phoneNumberId, version: state.activeVersion });
      return { pin, version: state.activeVersion };
    },
  };
}

function sameRecord(stored: Partial<PinRecord>, wanted: PinRecord): boolean {
  return (
    stored.pin === wanted.pin &&
    stored.phoneNumberId === wanted.phoneNumberId &&
    stored.workflowId === wanted.workflowId &&
    stored.createdAt === wanted.createdAt
  );
}

function parseVersion(value: string | undefined): number | undefined {
  return value !== undefined && /^[1-9][0-9]*$/.test(value) ? Number(value) : undefined;
}

/** The id becomes a path segment: only digits, so nothing can climb out of the prefix. */
function checkedId(phoneNumberId: string): string {
  if (!PHONE_NUMBER_ID_PATTERN.test(phoneNumberId)) {
    throw new VaultError(
      'VaultBadRequest',
      `phone number id "${phoneNumberId.slice(0, 40)}" is not 1-32 digits: refusing to build a vault path from it`,
    );
  }
  return phoneNumberId;
}

function checkPin(pin: unknown): void {
  // Meta's two-step PIN is exactly six digits; the message never repeats what was given.
  if (typeof pin !== 'string' || !PIN_PATTERN.test(pin)) {
    throw new VaultError('VaultBadRequest', 'refusing to store a PIN that is not a string of six digits');
  }
}

function checkVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new VaultError('VaultBadRequest', `KV version must be a positive integer (got ${version})`);
  }
}
