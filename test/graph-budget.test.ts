import { describe, expect, it } from 'vitest';
import { APP_USAGE_KEY } from '../src/graph/business-usage';
import { budgetedCalls, createGraphBudget, type BudgetBoard } from '../src/graph/graph-budget';
import { GraphError } from '../src/graph/graph-errors';
import type { PacerClock } from '../src/graph/graph-rate-pacer';
import { manualClock as startedClock } from './support/manual-clock';

const manualClock = (start = 1_000_000) => startedClock(start);

const WINDOW = 60_000;

/** A model of Meta's WABA budget: calls in the last window over `budget`, as a fraction. */
function metaModel(budget: number, clock: PacerClock) {
  const calls: number[] = [];
  return {
    call(): number {
      calls.push(clock.now());
      return this.usage();
    },
    usage(): number {
      return calls.filter((t) => t > clock.now() - WINDOW).length / budget;
    },
  };
}

describe('createGraphBudget', () => {
  it('lets calls through at once while the usage is under the threshold', async () => {
    const clock = manualClock();
    const budget = createGraphBudget({ clock, windowMs: WINDOW });
    budget.observe([{ key: '77', usage: 0.5, regainAccessMs: 0 }]);
    const t0 = clock.now();
    for (let i = 0; i < 20; i++) await budget.beforeCall({ wabaId: '77' });
    expect(clock.now()).toBe(t0);
    expect(budget.state('77')?.ownCallsInWindow).toBe(20);
  });

  it('above the threshold, spreads the headroom so Meta`s usage never reaches 100 %', async () => {
    const clock = manualClock();
    const meta = metaModel(100, clock);
    const budget = createGraphBudget({ clock, windowMs: WINDOW });
    let maxUsage = 0;
    let slowCalls = 0;
    // 300 calls as fast as the keeper allows: a naive caller would pass 100 % after 100.
    for (let i = 0; i < 300; i++) {
      await budget.beforeCall({ wabaId: '77' });
      const usage = meta.call();
      maxUsage = Math.max(maxUsage, usage);
      if (usage >= 0.8) slowCalls++;
      budget.observe([{ key: '77', usage, regainAccessMs: 0 }]);
    }
    expect(maxUsage).toBeLessThan(1);
    expect(slowCalls).toBeGreaterThan(10);
    // And it does not crawl: 300 calls at a budget of 100 a minute take a few minutes, not hours.
    expect(clock.now() - 1_000_000).toBeLessThan(6 * WINDOW);
  });

  it('spaces calls more when other callers share the budget (its own calls are fewer)', async () => {
    const clock = manualClock();
    const budget = createGraphBudget({ clock, windowMs: WINDOW, maxInlineWaitMs: 10 * WINDOW });
    for (let i = 0; i < 10; i++) await budget.beforeCall({ wabaId: '1' });
    for (let i = 0; i < 40; i++) await budget.beforeCall({ wabaId: '2' });
    // Same usage reported: WABA 1 is mostly someone else's calls, WABA 2 mostly ours.
    budget.observe([
      { key: '1', usage: 0.8, regainAccessMs: 0 },
      { key: '2', usage: 0.8, regainAccessMs: 0 },
    ]);
    const gap = async (wabaId: string) => {
      await budget.beforeCall({ wabaId });
      const t = clock.now();
      await budget.beforeCall({ wabaId });
      return clock.now() - t;
    };
    const gapOne = await gap('1');
    const gapTwo = await gap('2');
    expect(gapOne).toBeGreaterThan(3 * gapTwo);
  });

  it('holds every call for a WABA until the time Meta announced, and says when to try again', async () => {
    const clock = manualClock();
    const budget = createGraphBudget({ clock, windowMs: WINDOW });
    budget.observe([{ key: '77', usage: 1, regainAccessMs: 5 * 60_000 }]);
    const err = await budget.beforeCall({ wabaId: '77' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraphError);
    expect(err).toMatchObject({ type: 'GraphThrottled', retryable: true, nextRetryDelayMs: 5 * 60_000 });
    expect((err as Error).message).toMatch(/held back before calling Meta: WABA 77 is over its budget until/);
    // Another WABA is not held; the blocked one is again once the time has passed.
    await budget.beforeCall({ wabaId: '78' });
    clock.advance(5 * 60_000);
    await budget.beforeCall({ wabaId: '77' });
  });

  it('at 100 % with no time to regain access given, leaves the wait to the retry schedule', async () => {
    // An 80007 whose estimated_time_to_regain_access is 0: Meta has not said when, so no hold.
    const clock = manualClock();
    const budget = createGraphBudget({ clock, windowMs: WINDOW });
    await budget.beforeCall({ wabaId: '77' });
    budget.observe([{ key: '77', usage: 1, regainAccessMs: 0 }]);
    const started = clock.now();
    await budget.beforeCall({ wabaId: '77' });
    await budget.beforeCall({ wabaId: '77' });
    expect(clock.now()).toBe(started);
  });

  it('never spaces calls further apart than the window', async () => {
    const clock = manualClock();
    const budget = createGraphBudget({ clock, windowMs: WINDOW, maxInlineWaitMs: 2 * WINDOW });
    await budget.beforeCall({ wabaId: '77' });
    budget.observe([{ key: '77', usage: 0.999, regainAccessMs: 0 }]);
    const started = clock.now();
    await budget.beforeCall({ wabaId: '77' });
    await budget.beforeCall({ wabaId: '77' });
    expect(clock.now() - started).toBeLessThanOrEqual(WINDOW);
    expect(clock.now() - started).toBeGreaterThan(0);
  });

  it('an app-wide block holds every WABA', async () => {
    const clock = manualClock();
    const budget = createGraphBudget({ clock, windowMs: WINDOW });
    budget.observe([{ key: APP_USAGE_KEY, usage: 1, regainAccessMs: 60_000 }]);
    await expect(budget.beforeCall({ wabaId: '9' })).rejects.toThrow(/the app is over its budget/);
    await expect(budget.beforeCall({})).rejects.toThrow(/the app is over its budget/);
  });

  it('shares a block through the board: a worker that never saw Meta`s answer holds too', async () => {
    const clock = manualClock();
    const entries = new Map<string, number>();
    const board: BudgetBoard = {
      read: async (key) => entries.get(key),
      write: async (key, until) => {
        entries.set(key, until);
      },
    };
    const first = createGraphBudget({ clock, windowMs: WINDOW, board });
    const second = createGraphBudget({ clock, windowMs: WINDOW, board });
    await second.beforeCall({ wabaId: '77' });
    first.observe([{ key: '77', usage: 1, regainAccessMs: 120_000 }]);
    await Promise.resolve();
    expect(entries.get('77')).toBe(clock.now() + 120_000);
    clock.advance(3_000); // past the second worker's board refresh
    await expect(second.beforeCall({ wabaId: '77' })).rejects.toMatchObject({ type: 'GraphThrottled' });
  });

  it('a burst reaching a fresh worker waits for its first board read: none passes on the empty copy', async () => {
    const clock = manualClock();
    const until = clock.now() + 60_000;
    let reads = 0;
    let release: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => (release = resolve));
    const board: BudgetBoard = {
      read: async (key) => {
        reads++;
        await answered; // a vault slow to answer, as under load
        return key === '78' ? until : undefined;
      },
      write: async () => undefined,
    };
    const budget = createGraphBudget({ clock, windowMs: WINDOW, board });
    const burst = Array.from({ length: 5 }, () =>
      budget.beforeCall({ wabaId: '78' }).then(
        () => 'passed',
        (e: unknown) => (e as GraphError).type,
      ),
    );
    release();
    expect(await Promise.all(burst)).toEqual(Array(5).fill('GraphThrottled'));
    // One read per key served the whole burst: the app's and the WABA's.
    expect(reads).toBe(2);
  });

  it('does not hold an activity slot for a long wait: the attempt is retried when its turn comes', async () => {
    const clock = manualClock();
    const budget = createGraphBudget({ clock, windowMs: 3_600_000, maxInlineWaitMs: 20_000 });
    await budget.beforeCall({ wabaId: '5' });
    budget.observe([{ key: '5', usage: 0.9, regainAccessMs: 0 }]);
    await budget.beforeCall({ wabaId: '5' });
    const err = (await budget.beforeCall({ wabaId: '5' }).catch((e: unknown) => e)) as GraphError;
    expect(err.type).toBe('GraphThrottled');
    expect(err.nextRetryDelayMs).toBeGreaterThan(20_000);
    expect(err.message).toMatch(/WABA 5 has used 90 % of its hourly budget/);
  });

  it('callers queued for slots do not shorten the spacing: only calls made count', async () => {
    let now = 1_000_000;
    const wakes: number[] = [];
    // Sleeping records when the caller would wake and returns at once: all callers queue together.
    const clock = {
      now: () => now,
      sleep: async (ms: number) => {
        wakes.push(now + ms);
      },
    };
    const budget = createGraphBudget({ clock, windowMs: WINDOW, maxInlineWaitMs: 10 * WINDOW });
    for (let i = 0; i < 10; i++) await budget.beforeCall({ wabaId: '7' });
    now += 1_000;
    budget.observe([{ key: '7', usage: 0.8, regainAccessMs: 0 }]);
    await Promise.all(Array.from({ length: 20 }, () => budget.beforeCall({ wabaId: '7' })));
    // The first goes at once (11 made for 80 %), the other 19 wait: 60 s x (0.8 / 11) / 0.2 apart,
    // every one of them, however many are queued.
    expect(wakes).toHaveLength(19);
    const gaps = wakes.slice(1).map((t, i) => t - (wakes[i] ?? 0));
    for (const gap of gaps) expect(gap).toBeCloseTo((60_000 * (0.8 / 11)) / 0.2, 3);
  });

  it('keeps the budget for every call of a client, by the WABA its input names', async () => {
    const clock = manualClock();
    const budget = createGraphBudget({ clock, windowMs: WINDOW });
    budget.observe([{ key: '77', usage: 1, regainAccessMs: 60_000 }]);
    const calls: string[] = [];
    const api = budgetedCalls(
      {
        setTwoStepPin: async (input: { phoneNumberId: string; wabaId?: string }) => {
          calls.push(`set ${input.phoneNumberId}`);
        },
        getPhoneNumber: async (input: { phoneNumberId: string; wabaId?: string }) => {
          calls.push(`get ${input.phoneNumberId}`);
        },
      },
      budget,
    );
    await expect(api.getPhoneNumber({ phoneNumberId: '1', wabaId: '77' })).rejects.toThrow(/WABA 77/);
    await expect(api.setTwoStepPin({ phoneNumberId: '1', wabaId: '77' })).rejects.toThrow(/WABA 77/);
    await api.getPhoneNumber({ phoneNumberId: '2', wabaId: '78' });
    await api.setTwoStepPin({ phoneNumberId: '3' });
    expect(calls).toEqual(['get 2', 'set 3']);
  });
});
