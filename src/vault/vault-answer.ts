// Reading fields out of the vault's JSON answers: a missing or mistyped field is the vault (or a
// proxy in front of it) misbehaving, reported as VaultUnavailable with the path it came from.
import { VaultError } from './vault-errors';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function stringOr(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export function malformed(path: string, what: string): VaultError {
  return new VaultError('VaultUnavailable', `the vault's answer to ${path} is malformed (${what})`, { path });
}

/** The `data` object every KV and sys answer wraps its content in. */
export function dataOf(body: unknown, path: string): Record<string, unknown> {
  if (!isRecord(body) || !isRecord(body.data)) throw malformed(path, 'no "data" object');
  return body.data;
}

export function numberField(obj: Record<string, unknown>, field: string, path: string): number {
  const value = obj[field];
  if (typeof value !== 'number') throw malformed(path, `no numeric "${field}"`);
  return value;
}
