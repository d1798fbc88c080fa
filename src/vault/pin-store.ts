// The vault record of each number's two-step PIN (the "vault record" contract): KV v2 data
// { pin, phoneNumberId, workflowId, createdAt } at {mount}/data/{prefix}/{phoneNumberId}, one
// version per generated PIN, and the key's custom_metadata saying which version is
// pending (stored, not yet confirmed by Meta) and which is active (what Meta holds).
import type { VaultLocation } from '../workflows/messages';
import { PHONE_NUMBER_ID_PATTERN, PIN_PATTERN } from '../workflows/messages';
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

export interface PinStore {
  /** Stores the PIN as a new version (or finds the one a lost-response attempt already wrote). */
  storePin(record: PinRecord): Promise<VaultLocation>;
  /** Exactly that version's PIN; VaultNotFound when it is missing, deleted or destroyed. */
  readPin(ref: { phoneNumberId: string; version: number }): Promise<string>;
  /** Records that Meta now holds this version's PIN. */
  markActive(ref: { phoneNumberId: string; version: number }): Promise<void>;
  /** The key's versions and markers; undefined when nothing was ever stored for the number. */
  describe(phoneNumberId: string): Promise<PinKeyState | undefined>;
  /** The PIN Meta should hold, for tests and operators; undefined when none is active. */
  readActivePin(phoneNumberId: string): Promise<{ pin: string; version: number } | undefined>;
  /** "{mount}/{prefix}/{phoneNumberId}", the path shown in the workflow's status. */
  logicalPath(phoneNumberId: string): string;
}

export interface PinStoreOptions {
  vault: VaultClient;
  mount: string;
  prefix: string;
}

export const ACTIVE_VERSION_KEY = 'active_version';
export const PENDING_VERSION_KEY = 'pending_version';

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

  async function readPin({ phoneNumberId, version }: { phoneNumberId: string; version: number }) {
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
    return pin;
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

  return {
    logicalPath,
    readPin,
    describe,

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

    async markActive({ phoneNumberId, version }) {
      checkVersion(version);
      const path = keyPath(phoneNumberId);
      const meta = await vault.kvReadMetadata(mount, path);
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
