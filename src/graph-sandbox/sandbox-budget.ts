// Meta's budgets in the sandbox: each WABA (and, when given one, the app) may make so many calls in
// a rolling hour. Every answer carries X-Business-Use-Case-Usage for the WABA the object belongs to
// (X-App-Usage too when the app has a budget), with call_count as the percentage spent; a call
// over the budget is refused with code 80007 and estimated_time_to_regain_access in minutes, as
// Meta does. The hour can be compressed so tests see a whole window pass in seconds; the minutes
// in the header are then minutes of that compressed clock.
import { codedErrorClass } from '../cli/coded-error';

/** Meta's documented default for a WABA (reference/graph-api-errors.md): about 200 calls an hour. */
export const DEFAULT_WABA_CALLS_PER_HOUR = 200;
export const REAL_HOUR_MS = 3_600_000;

export interface SandboxBudgetOptions {
  /** Calls each WABA may make per hour (default DEFAULT_WABA_CALLS_PER_HOUR). */
  wabaCallsPerHour?: number;
  /** Per-WABA budgets that differ from the default. */
  wabaOverrides?: Record<string, number>;
  /** The app's budget per hour, shared by every WABA; none when absent (no X-App-Usage). */
  appCallsPerHour?: number;
  /** How long the sandbox's "hour" lasts, in ms (default a real hour). */
  hourMs?: number;
}

export interface BudgetAdmission {
  headers: Record<string, string>;
  /** Set when the call is refused: how long until the oldest counted call leaves the window. */
  refusedForMs?: number;
  /** Whose budget refused it: the WABA's (Meta code 80007) or the app's (code 4). */
  refusedBy?: 'waba' | 'app';
}

export interface SandboxBudget {
  /** Counts a call against `usageKey`'s (and the app's) budget, unless it is over budget. */
  admit(usageKey: string, now?: number): BudgetAdmission;
  /** Calls counted in the current window for a key ('app' for the app). */
  used(usageKey: string, now?: number): number;
  reset(): void;
}

export class SandboxBudgetError extends codedErrorClass('SANDBOX_BUDGET_INVALID') {}

function checkBudget(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new SandboxBudgetError(`${what} must be a whole number of calls, at least 1 (got ${value})`);
  }
  return value;
}

export function createSandboxBudget(opts: SandboxBudgetOptions = {}): SandboxBudget {
  const hourMs = opts.hourMs ?? REAL_HOUR_MS;
  if (!Number.isFinite(hourMs) || hourMs < 1_000) {
    throw new SandboxBudgetError(`the budget hour must be at least 1000 ms (got ${hourMs})`);
  }
  const wabaDefault = checkBudget(opts.wabaCallsPerHour ?? DEFAULT_WABA_CALLS_PER_HOUR, 'wabaCallsPerHour');
  const overrides = new Map(
    Object.entries(opts.wabaOverrides ?? {}).map(([id, n]) => [
      id,
      checkBudget(n, `the budget of WABA ${id}`),
    ]),
  );
  const app =
    opts.appCallsPerHour === undefined ? undefined : checkBudget(opts.appCallsPerHour, 'appCallsPerHour');
  // key -> times of the calls counted in the window, oldest first ('app' for the app's budget)
  const calls = new Map<string, number[]>();

  function windowOf(key: string, now: number): number[] {
    let list = calls.get(key);
    if (!list) calls.set(key, (list = []));
    while (list.length > 0 && (list[0] ?? 0) <= now - hourMs) list.shift();
    return list;
  }

  const percent = (count: number, budget: number) => Math.min(100, Math.round((100 * count) / budget));
  const minutesUntil = (ms: number) => Math.max(1, Math.ceil(ms / (hourMs / 60)));

  function bucHeader(key: string, pct: number, regainMinutes: number): string {
    return JSON.stringify({
      [key]: [
        {
          type: 'whatsapp_business_management',
          call_count: pct,
          total_cputime: Math.round(pct / 4),
          total_time: Math.round(pct / 3),
          estimated_time_to_regain_access: regainMinutes,
        },
      ],
    });
  }

  const appHeader = (pct: number) =>
    JSON.stringify({ call_count: pct, total_cputime: Math.round(pct / 4), total_time: Math.round(pct / 3) });

  return {
    admit(usageKey, now = Date.now()) {
      const budget = overrides.get(usageKey) ?? wabaDefault;
      const mine = windowOf(usageKey, now);
      const shared = app === undefined ? undefined : windowOf('app', now);
      const wabaFull = mine.length >= budget;
      const appFull = shared !== undefined && app !== undefined && shared.length >= app;
      if (wabaFull || appFull) {
        const oldest = Math.max(wabaFull ? (mine[0] ?? now) : 0, appFull ? (shared?.[0] ?? now) : 0);
        const refusedForMs = oldest + hourMs - now;
        const headers: Record<string, string> = {
          'x-business-use-case-usage': bucHeader(
            usageKey,
            percent(mine.length, budget),
            wabaFull ? minutesUntil(refusedForMs) : 0,
          ),
        };
        if (shared && app !== undefined) headers['x-app-usage'] = appHeader(percent(shared.length, app));
        return { headers, refusedForMs, refusedBy: wabaFull ? 'waba' : 'app' };
      }
      mine.push(now);
      shared?.push(now);
      const headers: Record<string, string> = {
        'x-business-use-case-usage': bucHeader(usageKey, percent(mine.length, budget), 0),
      };
      if (shared && app !== undefined) headers['x-app-usage'] = appHeader(percent(shared.length, app));
      return { headers };
    },
    used: (usageKey, now = Date.now()) => windowOf(usageKey, now).length,
    reset() {
      calls.clear();
    },
  };
}
