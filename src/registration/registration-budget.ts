// Meta's registration budget for one number, as a pure calculation over the calls the product made
// (docs/registration.md). Two readings of Meta's pages exist, and a call is allowed only when it fits
// both: 10 register + deregister calls in any 72 hours; 10 register and 10 deregister calls in any
// 7 days. Also a 133016 block Meta announced. No I/O and no clock: the caller passes `now`, so the
// workflow, the activity and the operator CLI compute the same answer. Workflow-safe (no Node).

export const REGISTRATION_CALL_LIMIT = 10;
export const REGISTRATION_WINDOW_MS = 72 * 3_600_000;
export const REGISTRATION_WEEK_MS = 7 * 24 * 3_600_000;
/** Meta blocks a number for 72 hours after the call that found the budget spent (133016). */
export const REGISTRATION_BLOCK_MS = REGISTRATION_WINDOW_MS;

export type RegistrationCallKind = 'register' | 'deregister';

export interface RegistrationCall {
  kind: RegistrationCallKind;
  /** Epoch milliseconds (stored to the second). */
  at: number;
}

export interface RegistrationLedger {
  /** Oldest first. */
  calls: RegistrationCall[];
  /** Epoch ms until which Meta said the number cannot register (133016); absent when none. */
  blockedUntil?: number;
}

/** What the status query, the UI details and `ops show` print; every time is ISO 8601. */
export interface RegistrationBudget {
  limit: number;
  /** Register + deregister calls in the moving 72-hour window ending now. */
  usedInWindow: number;
  /** Register calls in the last 7 days (the older reading's count). */
  registersThisWeek: number;
  /** When the oldest call in the 72-hour window leaves it; absent when the window is empty. */
  nextFreesAt?: string;
  /** When the next register call is allowed: now when it is, else the later of every limit. */
  nextCallAllowedAt: string;
  /** True when a register call may be made now. */
  canRegisterNow: boolean;
  blockedUntil?: string;
}

function inWindow(
  calls: readonly RegistrationCall[],
  now: number,
  span: number,
  kind?: RegistrationCallKind,
) {
  return (
    calls
      // A call stamped after `now` (another worker's clock) still counts: erring on the safe side.
      .filter((c) => c.at > now - span && (kind === undefined || c.kind === kind))
      .map((c) => c.at)
      .sort((a, b) => a - b)
  );
}

/**
 * The earliest time from `now` on at which fewer than `limit` of these call times lie in the moving
 * window of `span` ending then: the (n - limit + 1)-th oldest must have left, i.e. be `span` old.
 */
function freeAt(times: readonly number[], now: number, span: number, limit: number): number {
  if (times.length < limit) return now;
  const leaving = times[times.length - limit];
  return leaving === undefined ? now : Math.max(now, leaving + span);
}

/** When a call of `kind` may be made, at `now` or later; `now` itself when it fits every limit. */
export function nextCallAllowedAt(
  ledger: RegistrationLedger,
  now: number,
  kind: RegistrationCallKind = 'register',
): number {
  const all = inWindow(ledger.calls, now, REGISTRATION_WINDOW_MS);
  const sameKindWeek = inWindow(ledger.calls, now, REGISTRATION_WEEK_MS, kind);
  return Math.max(
    now,
    freeAt(all, now, REGISTRATION_WINDOW_MS, REGISTRATION_CALL_LIMIT),
    freeAt(sameKindWeek, now, REGISTRATION_WEEK_MS, REGISTRATION_CALL_LIMIT),
    ledger.blockedUntil ?? now,
  );
}

export function registrationBudget(ledger: RegistrationLedger, now: number): RegistrationBudget {
  const window = inWindow(ledger.calls, now, REGISTRATION_WINDOW_MS);
  const allowedAt = nextCallAllowedAt(ledger, now, 'register');
  const oldest = window[0];
  const budget: RegistrationBudget = {
    limit: REGISTRATION_CALL_LIMIT,
    usedInWindow: window.length,
    registersThisWeek: inWindow(ledger.calls, now, REGISTRATION_WEEK_MS, 'register').length,
    nextCallAllowedAt: new Date(allowedAt).toISOString(),
    canRegisterNow: allowedAt <= now,
  };
  if (oldest !== undefined) budget.nextFreesAt = new Date(oldest + REGISTRATION_WINDOW_MS).toISOString();
  if (ledger.blockedUntil !== undefined && ledger.blockedUntil > now) {
    budget.blockedUntil = new Date(ledger.blockedUntil).toISOString();
  }
  return budget;
}

/** The ledger with this call added (and entries no limit can see any more dropped). */
export function withCall(ledger: RegistrationLedger, call: RegistrationCall): RegistrationLedger {
  return prune({ ...ledger, calls: [...ledger.calls, call] }, call.at);
}

/** Drops calls older than the longest window and a block that has ended: the metadata stays small. */
export function prune(ledger: RegistrationLedger, now: number): RegistrationLedger {
  const calls = ledger.calls.filter((c) => c.at > now - REGISTRATION_WEEK_MS).sort((a, b) => a.at - b.at);
  const out: RegistrationLedger = { calls };
  if (ledger.blockedUntil !== undefined && ledger.blockedUntil > now) out.blockedUntil = ledger.blockedUntil;
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The compact text form kept in the vault's custom_metadata (string values, 512 bytes at most each).

const KIND_CODE: Record<RegistrationCallKind, string> = { register: 'r', deregister: 'd' };
const CODE_KIND: Record<string, RegistrationCallKind> = { r: 'register', d: 'deregister' };

/** "r1764582000,d1764585600": kind letter and epoch seconds (rounded up: a call never looks older). */
export function formatCalls(calls: readonly RegistrationCall[]): string {
  return calls.map((c) => `${KIND_CODE[c.kind]}${Math.ceil(c.at / 1000)}`).join(',');
}

/**
 * Reads the stored form back. An entry that cannot be read is counted as a register call made at
 * `now`: a damaged ledger must make the product more careful, never spend calls it cannot see.
 */
export function parseCalls(text: string | undefined, now: number): RegistrationCall[] {
  if (text === undefined || text.trim() === '') return [];
  return text.split(',').map((entry) => {
    const match = /^([rd])(\d{1,12})$/.exec(entry.trim());
    const kind = match?.[1] === undefined ? undefined : CODE_KIND[match[1]];
    if (!match?.[2] || !kind) return { kind: 'register' as const, at: now };
    return { kind, at: Number(match[2]) * 1000 };
  });
}

export function formatEpochSeconds(ms: number): string {
  return String(Math.ceil(ms / 1000));
}

/** An unreadable block marker is taken as a block lasting the full 72 hours from `now`. */
export function parseEpochSeconds(text: string | undefined, now: number): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  return /^\d{1,12}$/.test(text.trim()) ? Number(text.trim()) * 1000 : now + REGISTRATION_BLOCK_MS;
}
