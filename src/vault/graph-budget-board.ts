// The Graph budget blocks every worker must honour, kept in the vault next to the PINs: one KV v2
// key per budget, {mount}/data/{PIN prefix}/graph-budget/{WABA id or "app"}, holding until when
// Meta said calls would be refused. The worker's policy already covers it ({PIN prefix}/*), and
// no PIN path can collide with it (PIN keys are phone-number ids: digits only).
import type { BudgetBoard } from '../graph/graph-budget';
import type { VaultClient } from './vault-client';
import { VaultError } from './vault-errors';

export const GRAPH_BUDGET_SEGMENT = 'graph-budget';

interface BoardRecord {
  blockedUntil?: unknown;
}

export function createVaultBudgetBoard(opts: {
  vault: VaultClient;
  mount: string;
  prefix: string;
}): BudgetBoard {
  const pathOf = (key: string) => {
    if (!/^(\d{1,32}|app)$/.test(key)) {
      throw new VaultError(
        'VaultBadRequest',
        `budget key "${key.slice(0, 40)}" is neither a WABA id nor "app"`,
      );
    }
    return `${opts.prefix}/${GRAPH_BUDGET_SEGMENT}/${key}`;
  };
  return {
    async read(key) {
      const found = await opts.vault.kvRead<BoardRecord>(opts.mount, pathOf(key));
      const until = found?.data.blockedUntil;
      const ms = typeof until === 'string' ? Date.parse(until) : Number.NaN;
      return Number.isFinite(ms) ? ms : undefined;
    },
    async write(key, blockedUntilMs) {
      await opts.vault.kvWrite(opts.mount, pathOf(key), {
        blockedUntil: new Date(blockedUntilMs).toISOString(),
        writtenAt: new Date().toISOString(),
      });
    },
  };
}
