// The PIN store against the real OpenBao dev server: the contract's record shape, idempotent
// storing (a retry after a lost response), exact-version reads and the active/pending markers.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPinStore, type PinRecord, type PinStore } from '../src/vault/pin-store';
import { createVaultClient, type VaultClient } from '../src/vault/vault-client';
import { RegistrationBudgetError } from '../src/registration/registration-budget-error';
import { VaultError } from '../src/vault/vault-errors';

const prefix = `test-pins-${randomBytes(6).toString('hex')}/two-step-pins`;
let nextId = 100_000_000_000_000;
/** A phone-number id of its own for every test. */
const freshNumber = () => String(nextId++);

function record(phoneNumberId: string, pin: string, createdAt = '2026-01-02T03:04:05.000Z'): PinRecord {
  return { phoneNumberId, pin, workflowId: `register-number-${phoneNumberId}`, createdAt };
}

describe('PIN store', () => {
  let vault: VaultClient;
  let store: PinStore;
  beforeAll(() => {
    vault = createVaultClient({
      address: inject('vaultAddress'),
      auth: { kind: 'token', token: inject('vaultRootToken') },
      timeoutMs: 5_000,
    });
    store = createPinStore({ vault, mount: 'secret', prefix });
  });
  afterAll(async () => {
    await vault.close();
  });

  it('stores the contract record with the PIN as a string and marks the version pending', async () => {
    const id = freshNumber();
    const stored = await store.storePin(record(id, '001234'));
    expect(stored).toEqual({ path: `secret/${prefix}/${id}`, version: 1 });
    const raw = await vault.kvRead('secret', `${prefix}/${id}`, { version: 1 });
    expect(raw?.data).toEqual({
      pin: '001234',
      phoneNumberId: id,
      workflowId: `register-number-${id}`,
      createdAt: '2026-01-02T03:04:05.000Z',
    });
    expect(typeof raw?.data.pin).toBe('string');
    const meta = await vault.kvReadMetadata('secret', `${prefix}/${id}`);
    expect(meta?.customMetadata).toEqual({ pending_version: '1' });
    expect(await store.describe(id)).toEqual({ currentVersion: 1, pendingVersion: 1 });
    expect(await store.readPin({ phoneNumberId: id, version: 1 })).toBe('001234');
  });

  it('returns the same version to a retry with the same input, leaving exactly one version', async () => {
    const id = freshNumber();
    const first = await store.storePin(record(id, '482913'));
    const again = await store.storePin(record(id, '482913'));
    expect(again).toEqual(first);
    const meta = await vault.kvReadMetadata('secret', `${prefix}/${id}`);
    expect(meta?.currentVersion).toBe(1);
    expect(Object.keys(meta?.versions ?? {})).toEqual(['1']);
  });

  it('finishes the job of an attempt whose write landed but whose response was lost', async () => {
    const id = freshNumber();
    // The earlier attempt's write reached the vault; it never got to set pending_version.
    await vault.kvWrite('secret', `${prefix}/${id}`, { ...record(id, '555010') }, { cas: 0 });
    const stored = await store.storePin(record(id, '555010'));
    expect(stored.version).toBe(1);
    expect(await store.describe(id)).toEqual({ currentVersion: 1, pendingVersion: 1 });
  });

  it('lets concurrent identical attempts converge on one version through check-and-set', async () => {
    const id = freshNumber();
    const results = await Promise.all([1, 2, 3].map(() => store.storePin(record(id, '123123'))));
    expect(new Set(results.map((r) => r.version))).toEqual(new Set([1]));
    expect((await vault.kvReadMetadata('secret', `${prefix}/${id}`))?.currentVersion).toBe(1);
  });

  it('writes a new version for a new PIN, and readPin still reads exactly the older one', async () => {
    const id = freshNumber();
    expect((await store.storePin(record(id, '111111'))).version).toBe(1);
    // Same PIN but another attempt (new createdAt) is a new record too.
    expect((await store.storePin(record(id, '222222', '2026-01-03T00:00:00.000Z'))).version).toBe(2);
    expect((await store.storePin(record(id, '222222', '2026-01-04T00:00:00.000Z'))).version).toBe(3);
    expect(await store.readPin({ phoneNumberId: id, version: 1 })).toBe('111111');
    expect(await store.readPin({ phoneNumberId: id, version: 2 })).toBe('222222');
    expect(await store.describe(id)).toEqual({ currentVersion: 3, pendingVersion: 3 });
  });

  it('fails readPin with VaultNotFound for a version that does not exist or was deleted', async () => {
    const id = freshNumber();
    await store.storePin(record(id, '909090'));
    const missing = await store.readPin({ phoneNumberId: id, version: 2 }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(VaultError);
    expect((missing as VaultError).type).toBe('VaultNotFound');
    expect((missing as VaultError).retryable).toBe(false);
    expect((missing as VaultError).message).toContain(`version 2 of secret/${prefix}/${id}`);
    await vault.request({ method: 'POST', path: `secret/delete/${prefix}/${id}`, body: { versions: [1] } });
    const deleted = await store.readPin({ phoneNumberId: id, version: 1 }).catch((e: unknown) => e);
    expect((deleted as VaultError).type).toBe('VaultNotFound');
    expect((deleted as VaultError).message).not.toContain('909090');
  });

  it('markActive sets active_version, clears a matching pending_version, and is idempotent', async () => {
    const id = freshNumber();
    const v1 = await store.storePin(record(id, '314159'));
    await store.markActive({ phoneNumberId: id, version: v1.version });
    expect(await store.describe(id)).toEqual({ currentVersion: 1, activeVersion: 1 });
    await store.markActive({ phoneNumberId: id, version: v1.version });
    expect(await store.describe(id)).toEqual({ currentVersion: 1, activeVersion: 1 });

    // A new PIN is pending while the old one stays active, until Meta accepts the new one.
    const v2 = await store.storePin(record(id, '271828', '2026-02-01T00:00:00.000Z'));
    expect(await store.describe(id)).toEqual({ currentVersion: 2, activeVersion: 1, pendingVersion: 2 });
    expect(await store.readActivePin(id)).toEqual({ pin: '314159', version: 1 });
    await store.markActive({ phoneNumberId: id, version: v2.version });
    expect(await store.describe(id)).toEqual({ currentVersion: 2, activeVersion: 2 });
    expect(await store.readActivePin(id)).toEqual({ pin: '271828', version: 2 });

    // After a workflow reset Meta may hold the older PIN again: recorded as it is.
    await store.markActive({ phoneNumberId: id, version: 1 });
    expect((await store.describe(id))?.activeVersion).toBe(1);
  });

  it('readPinToSend hands over the markers of the same read, and markActive uses them without a read', async () => {
    const id = freshNumber();
    const v1 = await store.storePin(record(id, '161803'));
    const sent = await store.readPinToSend({ phoneNumberId: id, version: v1.version });
    expect(sent).toEqual({ pin: '161803', markers: { pending_version: '1' } });
    // The metadata endpoint is not asked again: markActive only patches.
    const requests: string[] = [];
    const counting = createPinStore({
      vault: {
        ...vault,
        kvReadMetadata: async (...args) => {
          requests.push('read metadata');
          return vault.kvReadMetadata(...args);
        },
      },
      mount: 'secret',
      prefix,
    });
    await counting.markActive({ phoneNumberId: id, version: v1.version, markers: sent.markers });
    expect(requests).toEqual([]);
    expect(await store.describe(id)).toEqual({ currentVersion: 1, activeVersion: 1 });
    // Without markers it reads them first, as before.
    await counting.markActive({ phoneNumberId: id, version: v1.version });
    expect(requests).toEqual(['read metadata']);
  });

  it('has nothing to describe for an unknown number, and refuses ids and PINs of the wrong shape', async () => {
    expect(await store.describe(freshNumber())).toBeUndefined();
    expect(await store.readActivePin(freshNumber())).toBeUndefined();
    const badId = await store.storePin(record('../other', '123456')).catch((e: unknown) => e);
    expect((badId as VaultError).type).toBe('VaultBadRequest');
    const badPin = await store.storePin(record(freshNumber(), '12345')).catch((e: unknown) => e);
    expect((badPin as VaultError).type).toBe('VaultBadRequest');
    expect((badPin as VaultError).message).not.toContain('12345');
  });
  describe('registration ledger (key metadata)', () => {
    const HOUR = 3_600_000;
    const T0 = Date.parse('2026-12-01T00:00:00Z');

    it('records each call before it is made, compactly, next to the PIN markers', async () => {
      const id = freshNumber();
      await store.storePin(record(id, '424242'));
      expect(await store.readRegistrationLedger(id)).toEqual({ calls: [] });
      const budget = await store.recordRegistrationCall({ phoneNumberId: id, kind: 'register', now: T0 });
      expect(budget).toMatchObject({ usedInWindow: 1, canRegisterNow: true });
      await store.recordRegistrationCall({ phoneNumberId: id, kind: 'deregister', now: T0 + HOUR });
      const meta = await vault.kvReadMetadata('secret', `${prefix}/${id}`);
      expect(meta?.customMetadata).toEqual({
        pending_version: '1',
        register_calls: `r${T0 / 1000},d${(T0 + HOUR) / 1000}`,
      });
      expect((await store.readRegistrationLedger(id)).calls).toEqual([
        { kind: 'register', at: T0 },
        { kind: 'deregister', at: T0 + HOUR },
      ]);
      // The PIN markers are untouched by ledger writes, and the other way round.
      await store.markActive({ phoneNumberId: id, version: 1 });
      expect((await vault.kvReadMetadata('secret', `${prefix}/${id}`))?.customMetadata.register_calls).toBe(
        `r${T0 / 1000},d${(T0 + HOUR) / 1000}`,
      );
    });

    it('refuses the 11th call in 72 hours, writing nothing, and says when the next is allowed', async () => {
      const id = freshNumber();
      await store.storePin(record(id, '515151'));
      for (let i = 0; i < 5; i++) {
        await store.recordRegistrationCall({ phoneNumberId: id, kind: 'register', now: T0 + i * HOUR });
        await store.recordRegistrationCall({
          phoneNumberId: id,
          kind: 'deregister',
          now: T0 + i * HOUR + 1000,
        });
      }
      const before = (await vault.kvReadMetadata('secret', `${prefix}/${id}`))?.customMetadata.register_calls;
      const refused = await store
        .recordRegistrationCall({ phoneNumberId: id, kind: 'register', now: T0 + 10 * HOUR })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RegistrationBudgetError);
      const err = refused as RegistrationBudgetError;
      expect(err.type).toBe('RegisterBudgetSpent');
      expect(err.budget.usedInWindow).toBe(10);
      expect(err.budget.nextCallAllowedAt).toBe(new Date(T0 + 72 * HOUR).toISOString());
      expect(err.message).toContain('10 of 10');
      expect((await vault.kvReadMetadata('secret', `${prefix}/${id}`))?.customMetadata.register_calls).toBe(
        before,
      );
      // Once the oldest call is 72 hours old, the next one is allowed (and old calls are pruned a week on).
      const later = await store.recordRegistrationCall({
        phoneNumberId: id,
        kind: 'register',
        now: T0 + 72 * HOUR,
      });
      expect(later.usedInWindow).toBe(10);
    });

    it("keeps Meta's 133016 block until it ends, and counts it in the budget", async () => {
      const id = freshNumber();
      await store.storePin(record(id, '616161'));
      const budget = await store.recordRegistrationBlock({
        phoneNumberId: id,
        until: T0 + 72 * HOUR,
        now: T0,
      });
      expect(budget).toMatchObject({
        canRegisterNow: false,
        blockedUntil: new Date(T0 + 72 * HOUR).toISOString(),
      });
      expect(
        (await vault.kvReadMetadata('secret', `${prefix}/${id}`))?.customMetadata.register_blocked_until,
      ).toBe(String((T0 + 72 * HOUR) / 1000));
      const refused = await store
        .recordRegistrationCall({ phoneNumberId: id, kind: 'register', now: T0 + HOUR })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RegistrationBudgetError);
      // After the block the call goes through and the ended block is removed from the metadata.
      await store.recordRegistrationCall({ phoneNumberId: id, kind: 'register', now: T0 + 72 * HOUR });
      const custom = (await vault.kvReadMetadata('secret', `${prefix}/${id}`))?.customMetadata ?? {};
      expect(custom.register_blocked_until).toBeUndefined();
      expect(custom.register_calls).toBe(`r${(T0 + 72 * HOUR) / 1000}`);
    });
  });
});
