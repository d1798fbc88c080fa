// The example batch's client businesses in the local stack: each tenant of examples/numbers.csv
// gets a Graph token of its own in the vault (with its WABAs in the index), and the Graph sandbox
// accepts that token for exactly those WABAs, as Meta does with an App-Only install. The tokens
// mean nothing outside the sandbox; they are derived from the tenant name so a restarted stack
// seeds the same ones.
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { readRows } from '../batch/read-rows';
import { RowValidator } from '../batch/validate-row';
import type { SandboxPhoneNumber } from '../graph-sandbox/sandbox-state';
import { DEFAULT_GRAPH_TOKEN_PREFIX } from '../graph/graph-token-config';
import type { KvV2 } from '../vault/kv-v2';
import { createVaultClient } from '../vault/vault-client';
import type { ExtraServiceStarter } from './stack';

export interface ExampleTenant {
  tenant: string;
  /** WABA id -> its numbers, as the sandbox lists them. */
  wabas: Record<string, SandboxPhoneNumber[]>;
}

/** The sandbox token of a local tenant: printable, no spaces, obviously not Meta's. */
export function localTenantToken(tenant: string): string {
  return `local-sandbox-token-${tenant}`;
}

/** Tenants with their WABAs and numbers, from a batch file's valid rows that name both. */
export async function readExampleTenants(batchFile: string): Promise<ExampleTenant[]> {
  const tenants = new Map<string, ExampleTenant>();
  const validator = new RowValidator();
  for await (const row of readRows(createReadStream(batchFile, 'utf8'), 'csv')) {
    const verdict = validator.validate(row);
    if (!verdict.valid) continue;
    const { tenant, wabaId, phoneNumberId, displayPhoneNumber } = verdict.input;
    if (tenant === undefined || wabaId === undefined) continue;
    const entry = tenants.get(tenant) ?? { tenant, wabas: {} };
    (entry.wabas[wabaId] ??= []).push({
      id: phoneNumberId,
      ...(displayPhoneNumber !== undefined ? { display_phone_number: displayPhoneNumber } : {}),
    });
    tenants.set(tenant, entry);
  }
  return [...tenants.values()];
}

/** Writes each tenant's token and WABA index entries (a no-op for values already there). */
export async function seedTenantTokens(opts: {
  vault: Pick<KvV2, 'kvRead' | 'kvWrite'>;
  mount: string;
  prefix: string;
  tenants: readonly ExampleTenant[];
}): Promise<number> {
  let written = 0;
  const put = async (path: string, data: Record<string, string>) => {
    const current = await opts.vault.kvRead<Record<string, unknown>>(opts.mount, path);
    if (current && Object.entries(data).every(([k, v]) => current.data[k] === v)) return;
    await opts.vault.kvWrite(opts.mount, path, data);
    written++;
  };
  for (const { tenant, wabas } of opts.tenants) {
    await put(`${opts.prefix}/tenants/${tenant}`, { access_token: localTenantToken(tenant) });
    for (const wabaId of Object.keys(wabas)) await put(`${opts.prefix}/wabas/${wabaId}`, { tenant });
  }
  return written;
}

/** The example batch that `npm start` onboards and whose tenants the local stack seeds. */
export const EXAMPLE_BATCH_FILE = join(__dirname, '..', '..', 'examples', 'numbers.csv');

let examples: Promise<ExampleTenant[]> | undefined;
/** The example batch's tenants, read once per process. */
export function exampleTenants(): Promise<ExampleTenant[]> {
  examples ??= readExampleTenants(EXAMPLE_BATCH_FILE);
  return examples;
}

/** Sandbox grants: each example tenant's token reaches that tenant's WABAs only. */
export function sandboxGrantsOf(tenants: readonly ExampleTenant[]): Record<string, string[]> {
  return Object.fromEntries(tenants.map((t) => [localTenantToken(t.tenant), Object.keys(t.wabas)]));
}

/**
 * Seeds a Graph token per example tenant (and the WABA index) under the default token prefix, so
 * `GRAPH_TOKEN_SOURCE=vault npm run worker -- --local` calls the sandbox with each tenant's own.
 */
export function exampleTenantTokensService(opts: { mount: string; prefix?: string }): ExtraServiceStarter {
  return async (stack) => {
    const prefix = opts.prefix ?? DEFAULT_GRAPH_TOKEN_PREFIX;
    const vault = createVaultClient({
      address: stack.vaultAddress,
      auth: { kind: 'token', token: stack.vaultToken },
      timeoutMs: 10_000,
    });
    try {
      const tenants = await exampleTenants();
      await seedTenantTokens({ vault, mount: opts.mount, prefix, tenants });
      return {
        name: 'tenant Graph tokens',
        url: `${stack.vaultAddress}/v1/${opts.mount}/data/${prefix}/tenants/`,
        notes: [
          `A sandbox Graph token per example tenant (${tenants.map((t) => t.tenant).join(', ')}) at ${opts.mount}/${prefix}/tenants/<tenant>: ` +
            'GRAPH_TOKEN_SOURCE=vault makes the worker use them',
        ],
        stop: async () => {},
      };
    } finally {
      await vault.close();
    }
  };
}
