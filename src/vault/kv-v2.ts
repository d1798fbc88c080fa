// The KV version 2 secrets engine: versioned reads and check-and-set writes under
// {mount}/data/{path}, and the key's metadata (versions, custom_metadata) under
// {mount}/metadata/{path}. Requests go through whatever performs them authenticated.
import { dataOf, isRecord, numberField, stringOr } from './vault-answer';
import { VaultError, isVaultError } from './vault-errors';
import { encodeVaultPath, type VaultRequest, type VaultResponse } from './vault-transport';

export interface KvVersionMetadata {
  version: number;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
  /** The key's custom metadata as of this read (Vault 1.9+ and OpenBao send it with the data). */
  custom_metadata?: Record<string, string>;
}

export interface KvReadResult<T = Record<string, unknown>> {
  data: T;
  metadata: KvVersionMetadata;
}

export interface KvVersionInfo {
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

export interface KvKeyMetadata {
  currentVersion: number;
  oldestVersion: number;
  /** Vault keeps custom metadata as string values only. */
  customMetadata: Record<string, string>;
  /** By version number ("1", "2", ...). */
  versions: Record<string, KvVersionInfo>;
  maxVersions: number;
  casRequired: boolean;
}

export interface KvV2 {
  kvRead<T = Record<string, unknown>>(
    mount: string,
    path: string,
    opts?: { version?: number },
  ): Promise<KvReadResult<T> | undefined>;
  kvWrite(
    mount: string,
    path: string,
    data: Record<string, unknown>,
    opts?: { cas?: number },
  ): Promise<{ version: number }>;
  kvReadMetadata(mount: string, path: string): Promise<KvKeyMetadata | undefined>;
  /**
   * Merges `custom` into the key's custom_metadata (a null value removes that entry); other
   * entries stay. The key must exist.
   */
  kvWriteCustomMetadata(mount: string, path: string, custom: Record<string, string | null>): Promise<void>;
}

type Perform = (req: VaultRequest) => Promise<VaultResponse>;

/** Vault keeps custom metadata as strings; anything else in it is dropped. */
function stringsOf(record: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) if (typeof v === 'string') out[k] = v;
  return out;
}

const kvPath = (mount: string, kind: 'data' | 'metadata', path: string) =>
  `${encodeVaultPath(mount)}/${kind}/${encodeVaultPath(path)}`;

export function createKvV2(perform: Perform): KvV2 {
  async function kvReadMetadata(mount: string, path: string): Promise<KvKeyMetadata | undefined> {
    const apiPath = kvPath(mount, 'metadata', path);
    const res = await perform({ method: 'GET', path: apiPath, absentOk: true });
    if (res.statusCode === 404) return undefined;
    const data = dataOf(res.body, apiPath);
    const custom = isRecord(data.custom_metadata) ? stringsOf(data.custom_metadata) : {};
    const versions: Record<string, KvVersionInfo> = {};
    if (isRecord(data.versions)) {
      for (const [k, v] of Object.entries(data.versions)) {
        if (!isRecord(v)) continue;
        versions[k] = {
          created_time: stringOr(v.created_time),
          deletion_time: stringOr(v.deletion_time),
          destroyed: v.destroyed === true,
        };
      }
    }
    return {
      currentVersion: numberField(data, 'current_version', apiPath),
      oldestVersion: typeof data.oldest_version === 'number' ? data.oldest_version : 0,
      customMetadata: custom,
      versions,
      maxVersions: typeof data.max_versions === 'number' ? data.max_versions : 0,
      casRequired: data.cas_required === true,
    };
  }

  return {
    async kvRead<T = Record<string, unknown>>(
      mount: string,
      path: string,
      readOpts: { version?: number } = {},
    ): Promise<KvReadResult<T> | undefined> {
      const apiPath = kvPath(mount, 'data', path);
      const res = await perform({
        method: 'GET',
        path: apiPath,
        absentOk: true,
        ...(readOpts.version !== undefined ? { query: { version: readOpts.version } } : {}),
      });
      // 404 without errors: never written, or that version deleted or destroyed.
      if (res.statusCode === 404) return undefined;
      const data = dataOf(res.body, apiPath);
      const metadata = isRecord(data.metadata) ? data.metadata : {};
      return {
        data: (isRecord(data.data) ? data.data : {}) as T,
        metadata: {
          version: numberField(metadata, 'version', apiPath),
          created_time: stringOr(metadata.created_time),
          deletion_time: stringOr(metadata.deletion_time),
          destroyed: metadata.destroyed === true,
          ...(isRecord(metadata.custom_metadata)
            ? { custom_metadata: stringsOf(metadata.custom_metadata) }
            : {}),
        },
      };
    },

    async kvWrite(mount, path, data, writeOpts = {}) {
      const apiPath = kvPath(mount, 'data', path);
      const res = await perform({
        method: 'POST',
        path: apiPath,
        body: { data, options: writeOpts.cas !== undefined ? { cas: writeOpts.cas } : {} },
      });
      return { version: numberField(dataOf(res.body, apiPath), 'version', apiPath) };
    },

    kvReadMetadata,

    async kvWriteCustomMetadata(mount, path, custom) {
      const apiPath = kvPath(mount, 'metadata', path);
      try {
        // JSON merge patch (Vault 1.9+, OpenBao): one request, entries not named stay as they are.
        await perform({
          method: 'PATCH',
          path: apiPath,
          body: { custom_metadata: custom },
          contentType: 'application/merge-patch+json',
        });
        return;
      } catch (err) {
        if (!isVaultError(err, 'VaultMethodNotAllowed')) throw err;
      }
      // Older servers without PATCH: read, merge, write the whole map back.
      const current = await kvReadMetadata(mount, path);
      if (!current) {
        throw new VaultError('VaultNotFound', `no key at ${apiPath} to attach custom metadata to`, {
          httpStatus: 404,
          path: apiPath,
        });
      }
      const merged: Record<string, string> = { ...current.customMetadata };
      for (const [k, v] of Object.entries(custom)) {
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
      await perform({ method: 'POST', path: apiPath, body: { custom_metadata: merged } });
    },
  };
}
