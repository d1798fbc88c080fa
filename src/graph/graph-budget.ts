// Meta's budgets, kept before Meta has to enforce them. Every Graph response says how much of a
// WABA's (and the app's) rolling-hour budget is spent (business-usage.ts). Below the threshold
// calls go out at the Graph cap. Above it, this worker spreads what is left of the budget over
// the hour: its calls for that WABA are spaced so that, even if nothing leaves the window,
// the usage only approaches 100 %. When Meta announces a block (estimated_time_to_regain_access),
// no call for that WABA leaves any worker until then: the block is written to a board every
// worker reads (the vault, graph-budget-board.ts) and each worker's own copy of it.
//
// How far apart: a worker estimates the cost of one call as usage / (its own calls in the last
// hour). Calls by other workers (or other apps) raise the usage but not its own count, so the
// estimate only errs high, and the spacing it gives is this worker's fair share of the headroom:
//     spacing = hour x (usage / own calls) / (1 - usage)
import { GraphError, GRAPH_FAILURE_TYPES } from './graph-errors';
import { APP_USAGE_KEY, type UsageReading } from './business-usage';
import type { PacerClock } from './graph-rate-pacer';
import { setTimeout as sleep } from 'node:timers/promises';

/** Blocks shared by every worker: key -> until when (ms since epoch) no call may go out. */
export interface BudgetBoard {
  read(key: string): Promise<number | undefined>;
  write(key: string, blockedUntilMs: number): Promise<void>;
}

export interface GraphBudgetOptions {
  /** Usage (fraction) from which calls are spread out; Meta throttles at 1. */
  threshold?: number;
  /** Meta's window: a rolling hour. */
  windowMs?: number;
  /** Longer waits are not spent holding an activity slot: the attempt is retried when its turn comes. */
  maxInlineWaitMs?: number;
  board?: BudgetBoard;
  /** How long a worker trusts its last read of the board for a key. */
  boardRefreshMs?: number;
  clock?: PacerClock;
  onBoardError?: (err: unknown) => void;
}

export interface BudgetState {
  key: string;
  usage: number;
  observedAt: number;
  blockedUntil: number;
  ownCallsInWindow: number;
}

interface KeyState {
  usage: number;
  observedAt: number;
  blockedUntil: number;
  /** This worker's calls for the key, oldest first, within the window. */
  calls: number[];
  nextSlotAt: number;
  boardReadAt: number;
  boardBlockedUntil: number;
  /** The board read under way: callers arriving meanwhile wait for it rather than pass on a stale copy. */
  boardReading?: Promise<number>;
}

const realClock: PacerClock = { now: () => Date.now(), sleep: (ms) => sleep(ms) };

export const DEFAULT_BUDGET_THRESHOLD = 0.8;
/** Past this many budgets remembered, idle ones are forgotten (Meta keys usage by WABA: few). */
const MAX_KEYS = 10_000;
export const META_USAGE_WINDOW_MS = 3_600_000;

export interface GraphBudget {
  /**
   * Waits until a call for this WABA (and the app) may go out, or throws a retryable
   * GraphThrottled saying when to try again. Counts the call it lets through.
   */
  beforeCall(input: { wabaId?: string }): Promise<void>;
  /** Takes in the usage readings of one response. */
  observe(readings: readonly UsageReading[]): void;
  state(key: string): BudgetState | undefined;
}

export function createGraphBudget(opts: GraphBudgetOptions = {}): GraphBudget {
  const threshold = opts.threshold ?? DEFAULT_BUDGET_THRESHOLD;
  const windowMs = opts.windowMs ?? META_USAGE_WINDOW_MS;
  const maxInlineWaitMs = opts.maxInlineWaitMs ?? 20_000;
  const boardRefreshMs = opts.boardRefreshMs ?? 2_000;
  const clock = opts.clock ?? realClock;
  const keys = new Map<string, KeyState>();

  function stateOf(key: string): KeyState {
    let s = keys.get(key);
    if (!s) {
      s = {
        usage: 0,
        observedAt: 0,
        blockedUntil: 0,
        calls: [],
        nextSlotAt: 0,
        boardReadAt: -Infinity,
        boardBlockedUntil: 0,
      };
      keys.set(key, s);
    }
    return s;
  }

  function trim(s: KeyState, now: number) {
    while (s.calls.length > 0 && (s.calls[0] ?? 0) <= now - windowMs) s.calls.shift();
  }

  /**
   * The board's block for the key, read at most once per refresh period. While a read is under
   * way, every caller waits for that same read: a burst of calls reaching a fresh worker must not
   * pass on the empty copy it had before the first read returned. A failed read keeps the last
   * known block (none on a fresh worker): Meta's own 80007 then announces the block again.
   */
  async function boardBlock(key: string, s: KeyState, now: number): Promise<number> {
    const board = opts.board;
    if (!board) return s.boardBlockedUntil;
    if (s.boardReading) return s.boardReading;
    if (now - s.boardReadAt < boardRefreshMs) return s.boardBlockedUntil;
    s.boardReadAt = now;
    const reading = (async () => {
      try {
        s.boardBlockedUntil = (await board.read(key)) ?? 0;
      } catch (err) {
        opts.onBoardError?.(err);
      } finally {
        s.boardReading = undefined;
      }
      return s.boardBlockedUntil;
    })();
    s.boardReading = reading;
    return reading;
  }

  function hold(key: string, waitMs: number, why: string): GraphError {
    const who = key === APP_USAGE_KEY ? 'the app' : `WABA ${key}`;
    return new GraphError({
      type: GRAPH_FAILURE_TYPES.GraphThrottled,
      retryable: true,
      nextRetryDelayMs: Math.max(1_000, Math.ceil(waitMs)),
      message: `held back before calling Meta: ${who} ${why}; next try in ${Math.ceil(waitMs / 1000)} s`,
    });
  }

  /**
   * Spacing between this worker's calls for the key while above the threshold; 0 below it. Never
   * more than the window: by then everything counted now has left it. At 100 % or more with no
   * time to regain access announced (an 80007 whose estimated_time_to_regain_access is 0), Meta
   * has not said when calls come back, so the activity's retry schedule decides, as it would
   * without budgets.
   */
  function spacing(s: KeyState, now: number): number {
    if (s.usage < threshold || s.usage >= 1) return 0;
    const perCall = s.usage / Math.max(1, madeCalls(s, now));
    return Math.min(windowMs, (windowMs * perCall) / (1 - s.usage));
  }

  /**
   * Calls this worker has made for the key in the window: not the slots reserved for later, which
   * Meta has not counted yet (counting them would shrink the spacing as callers queue up).
   */
  function madeCalls(s: KeyState, now: number): number {
    trim(s, now);
    let made = 0;
    for (const t of s.calls) if (t <= now) made++;
    return made;
  }

  /** Keys with nothing left to remember: last seen over a window ago, no block, no recent calls. */
  function forgetIdle(now: number) {
    for (const [key, s] of keys) {
      trim(s, now);
      const blocked = Math.max(s.blockedUntil, s.boardBlockedUntil) > now;
      if (!blocked && s.calls.length === 0 && now - s.observedAt > windowMs) keys.delete(key);
    }
  }

  async function throwIfBlocked(gating: readonly string[], now: number): Promise<void> {
    for (const key of gating) {
      const s = stateOf(key);
      const blockedUntil = Math.max(s.blockedUntil, await boardBlock(key, s, now));
      if (blockedUntil > now) {
        throw hold(
          key,
          blockedUntil - now,
          `is over its budget until ${new Date(blockedUntil).toISOString()}`,
        );
      }
    }
  }

  return {
    async beforeCall({ wabaId }) {
      const gating = [APP_USAGE_KEY, ...(wabaId ? [wabaId] : [])];
      const now = clock.now();
      await throwIfBlocked(gating, now);
      // The slot is taken before waiting for it, so callers waiting at once get successive slots.
      let at = now;
      let busiest = gating[0] ?? APP_USAGE_KEY;
      for (const key of gating) {
        const s = stateOf(key);
        if (spacing(s, now) > 0 && s.nextSlotAt > at) {
          at = s.nextSlotAt;
          busiest = key;
        }
      }
      if (at - now > maxInlineWaitMs) {
        throw hold(
          busiest,
          at - now,
          `has used ${Math.round(stateOf(busiest).usage * 100)} % of its hourly budget`,
        );
      }
      for (const key of gating) {
        const s = stateOf(key);
        insertInOrder(s.calls, at);
        s.nextSlotAt = at + spacing(s, now);
      }
      if (at > now) {
        await clock.sleep(at - now);
        await throwIfBlocked(gating, clock.now());
      }
    },

    observe(readings) {
      const now = clock.now();
      if (keys.size > MAX_KEYS) forgetIdle(now);
      for (const r of readings) {
        const s = stateOf(r.key);
        s.usage = r.usage;
        s.observedAt = now;
        if (r.regainAccessMs > 0) {
          const until = now + r.regainAccessMs;
          if (until > s.blockedUntil) {
            s.blockedUntil = until;
            opts.board?.write(r.key, until).catch((err: unknown) => opts.onBoardError?.(err));
          }
        }
      }
    },

    state(key) {
      const s = keys.get(key);
      if (!s) return undefined;
      trim(s, clock.now());
      return {
        key,
        usage: s.usage,
        observedAt: s.observedAt,
        blockedUntil: Math.max(s.blockedUntil, s.boardBlockedUntil),
        ownCallsInWindow: madeCalls(s, clock.now()),
      };
    },
  };
}

/** Keeps the call times sorted (a reserved slot may lie after a later caller's immediate call). */
function insertInOrder(times: number[], t: number): void {
  let i = times.length;
  while (i > 0 && (times[i - 1] ?? 0) > t) i--;
  times.splice(i, 0, t);
}

/**
 * The same client with Meta's budget kept before every call: the WABA comes from the call's input
 * (`wabaId`), the app's budget applies to all. A call added to the client later is covered too.
 */
export function budgetedCalls<T extends object>(api: T, budget: GraphBudget): T {
  return new Proxy(api, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]): Promise<unknown> => {
        const input = args[0] as { wabaId?: unknown } | undefined;
        await budget.beforeCall({ wabaId: typeof input?.wabaId === 'string' ? input.wabaId : undefined });
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
