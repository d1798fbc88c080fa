// The PIN store against the real OpenBao dev server: the contract's record shape, idempotent
// storing (a retry after a lost response), exact-version reads and the active/pending markers.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPinStore, type PinRecord, type PinStore } from '../src/vault/pin-store';
import { createVaultClient, type VaultClient } from '../src/vault/vault-client';
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

  it('has nothing to describe for an unknown number, and refuses ids and PINs of the wrong shape', async () => {
    expect(await store.describe(freshNumber())).toBeUndefined();
    expect(await store.readActivePin(freshNumber())).toBeUndefined();
    const badId = await store.storePin(record('../other', '123456')).catch((e: unknown) => e);
    expect((badId as VaultError).type).toBe('VaultBadRequest');
    const badPin = await store.storePin(record(freshNumber(), '12345')).catch((e: unknown) => e);
    expect((badPin as VaultError).type).toBe('VaultBadRequest');
    expect((badPin as VaultError).message).not.toContain('12345');
  });
});
