// Meta's registration budget as arithmetic: both readings of the limit, the moving windows, Meta's
// 133016 block, and the compact text kept in the vault. Pure: no servers.
import { describe, expect, it } from 'vitest';
import {
  formatCalls,
  nextCallAllowedAt,
  parseCalls,
  parseEpochSeconds,
  prune,
  registrationBudget,
  REGISTRATION_WEEK_MS,
  REGISTRATION_WINDOW_MS,
  withCall,
  type RegistrationCall,
  type RegistrationLedger,
} from '../src/registration/registration-budget';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-12-01T00:00:00Z');

function calls(kind: RegistrationCall['kind'], ...hoursAfterT0: number[]): RegistrationCall[] {
  return hoursAfterT0.map((h) => ({ kind, at: T0 + h * HOUR }));
}

describe('registrationBudget', () => {
  it('an empty ledger allows a call now and has nothing to free', () => {
    const budget = registrationBudget({ calls: [] }, T0);
    expect(budget).toEqual({
      limit: 10,
      usedInWindow: 0,
      registersThisWeek: 0,
      nextCallAllowedAt: new Date(T0).toISOString(),
      canRegisterNow: true,
    });
  });

  it('nine calls in 72 h leave one; the oldest frees 72 h after it was made', () => {
    const ledger = { calls: calls('register', 0, 1, 2, 3, 4, 5, 6, 7, 8) };
    const budget = registrationBudget(ledger, T0 + 10 * HOUR);
    expect(budget.usedInWindow).toBe(9);
    expect(budget.canRegisterNow).toBe(true);
    expect(budget.nextFreesAt).toBe(new Date(T0 + REGISTRATION_WINDOW_MS).toISOString());
  });

  it('ten calls in 72 h: no 11th until the oldest has left the moving window', () => {
    const ledger = { calls: [...calls('deregister', 0, 1, 2, 3, 4), ...calls('register', 5, 6, 7, 8, 9)] };
    const now = T0 + 10 * HOUR;
    expect(registrationBudget(ledger, now).canRegisterNow).toBe(false);
    expect(nextCallAllowedAt(ledger, now)).toBe(T0 + REGISTRATION_WINDOW_MS);
    // At the exact moment the oldest is 72 h old it has left the window (half-open window).
    expect(registrationBudget(ledger, T0 + REGISTRATION_WINDOW_MS).canRegisterNow).toBe(true);
    expect(registrationBudget(ledger, T0 + REGISTRATION_WINDOW_MS - 1).canRegisterNow).toBe(false);
  });

  it('ten register calls in 72 h also spend the weekly reading: the next waits a week', () => {
    const ledger = { calls: calls('register', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9) };
    const budget = registrationBudget(ledger, T0 + 10 * HOUR);
    expect(budget.nextFreesAt).toBe(new Date(T0 + REGISTRATION_WINDOW_MS).toISOString());
    expect(budget.nextCallAllowedAt).toBe(new Date(T0 + REGISTRATION_WEEK_MS).toISOString());
  });

  it('register and deregister calls share the 72-hour budget', () => {
    const ledger = { calls: [...calls('register', 0, 1, 2, 3, 4), ...calls('deregister', 5, 6, 7, 8, 9)] };
    const budget = registrationBudget(ledger, T0 + 10 * HOUR);
    expect(budget.usedInWindow).toBe(10);
    expect(budget.registersThisWeek).toBe(5);
    expect(budget.canRegisterNow).toBe(false);
  });

  it('the older "10 registrations per week" reading holds even when every 72-hour window is fine', () => {
    // Five calls at the start, five at 3.5 days: never 10 in 72 h, but 10 registers within 7 days.
    const ledger = { calls: calls('register', 0, 1, 2, 3, 4, 84, 85, 86, 87, 88) };
    const now = T0 + 100 * HOUR;
    const budget = registrationBudget(ledger, now);
    expect(budget.usedInWindow).toBe(5);
    expect(budget.registersThisWeek).toBe(10);
    expect(budget.canRegisterNow).toBe(false);
    expect(budget.nextCallAllowedAt).toBe(new Date(T0 + REGISTRATION_WEEK_MS).toISOString());
  });

  it('deregister calls do not count against the weekly register reading', () => {
    const ledger = {
      calls: [...calls('deregister', 0, 1, 2, 3, 4), ...calls('register', 84, 85, 86, 87, 88)],
    };
    expect(registrationBudget(ledger, T0 + 100 * HOUR).canRegisterNow).toBe(true);
    expect(nextCallAllowedAt(ledger, T0 + 100 * HOUR, 'deregister')).toBe(T0 + 100 * HOUR);
  });

  it("Meta's 133016 block wins over an empty ledger, and shows until when", () => {
    const ledger: RegistrationLedger = { calls: [], blockedUntil: T0 + 50 * HOUR };
    const budget = registrationBudget(ledger, T0);
    expect(budget.canRegisterNow).toBe(false);
    expect(budget.blockedUntil).toBe(new Date(T0 + 50 * HOUR).toISOString());
    expect(budget.nextCallAllowedAt).toBe(budget.blockedUntil);
    expect(registrationBudget(ledger, T0 + 50 * HOUR).canRegisterNow).toBe(true);
  });

  it('a call stamped in the future (another clock) still counts', () => {
    const ledger = { calls: calls('register', 1, 1, 1, 1, 1, 1, 1, 1, 1, 1) };
    expect(registrationBudget(ledger, T0).usedInWindow).toBe(10);
    expect(registrationBudget(ledger, T0).canRegisterNow).toBe(false);
  });
});

describe('ledger upkeep', () => {
  it('withCall appends in order and prune drops what no limit can see and an ended block', () => {
    const old: RegistrationLedger = { calls: calls('register', 0), blockedUntil: T0 + HOUR };
    const now = T0 + REGISTRATION_WEEK_MS + HOUR;
    expect(withCall(old, { kind: 'deregister', at: now })).toEqual({
      calls: [{ kind: 'deregister', at: now }],
    });
    expect(prune({ calls: calls('register', 5, 2) }, T0 + 6 * HOUR).calls.map((c) => c.at)).toEqual([
      T0 + 2 * HOUR,
      T0 + 5 * HOUR,
    ]);
  });

  it('the stored text is compact, rounds up to the second and reads back', () => {
    const list: RegistrationCall[] = [
      { kind: 'register', at: T0 + 1 },
      { kind: 'deregister', at: T0 + 2_000 },
    ];
    const text = formatCalls(list);
    expect(text).toBe(`r${T0 / 1000 + 1},d${T0 / 1000 + 2}`);
    expect(parseCalls(text, T0)).toEqual([
      { kind: 'register', at: T0 + 1_000 },
      { kind: 'deregister', at: T0 + 2_000 },
    ]);
    // Twenty calls (the most the limits let the week hold) stay far below Vault's 512-byte value cap.
    expect(formatCalls(calls('register', ...Array.from({ length: 20 }, (_, i) => i))).length).toBeLessThan(
      300,
    );
  });

  it('an unreadable entry counts as a call made now; an unreadable block as a full block', () => {
    expect(parseCalls('r1764547200,garbage', T0)).toEqual([
      { kind: 'register', at: 1_764_547_200_000 },
      { kind: 'register', at: T0 },
    ]);
    expect(parseCalls('', T0)).toEqual([]);
    expect(parseEpochSeconds('soon', T0)).toBe(T0 + REGISTRATION_WINDOW_MS);
    expect(parseEpochSeconds(undefined, T0)).toBeUndefined();
  });
});
