// The sandbox's hourly budgets, as Meta keeps them: usage headers on every answer, code 80007 past
// the WABA's budget (code 4 past the app's), access back once the rolling window has moved on.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageReading } from '../src/graph/business-usage';
import { createGraphClient, type GraphClient } from '../src/graph/graph-client';
import { GraphError } from '../src/graph/graph-errors';
import { createSandboxBudget, SandboxBudgetError } from '../src/graph-sandbox/sandbox-budget';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';

describe('createSandboxBudget', () => {
  it('counts calls per WABA over a rolling hour and refuses the one past the budget', () => {
    const budget = createSandboxBudget({ wabaCallsPerHour: 4, hourMs: 60_000 });
    const t = 1_000_000;
    const pct = (h: Record<string, string>) =>
      (JSON.parse(h['x-business-use-case-usage'] ?? '{}') as Record<string, { call_count: number }[]>)[
        '9'
      ]?.[0]?.call_count;
    expect([t, t + 1, t + 2, t + 3].map((now) => pct(budget.admit('9', now).headers))).toEqual([
      25, 50, 75, 100,
    ]);
    const refused = budget.admit('9', t + 30_000);
    expect(refused.refusedBy).toBe('waba');
    expect(refused.refusedForMs).toBe(30_000);
    // 30 s of a 60 s "hour" is 30 of its minutes.
    expect(refused.headers['x-business-use-case-usage']).toContain('"estimated_time_to_regain_access":30');
    expect(budget.used('9', t + 30_000)).toBe(4);
    // Another WABA has a budget of its own; the first call leaves the window after an hour.
    expect(budget.admit('8', t + 30_000).refusedBy).toBeUndefined();
    expect(budget.admit('9', t + 60_001).refusedBy).toBeUndefined();
  });

  it('keeps the app`s budget across WABAs when it has one, and says so in X-App-Usage', () => {
    const budget = createSandboxBudget({ wabaCallsPerHour: 100, appCallsPerHour: 2 });
    expect(budget.admit('1', 1).headers['x-app-usage']).toBe(
      '{"call_count":50,"total_cputime":13,"total_time":17}',
    );
    budget.admit('2', 2);
    expect(budget.admit('3', 3).refusedBy).toBe('app');
  });

  it('refuses a budget that is not a whole number of calls, or an hour under a second', () => {
    expect(() => createSandboxBudget({ wabaCallsPerHour: 0 })).toThrow(SandboxBudgetError);
    expect(() => createSandboxBudget({ wabaOverrides: { '5': 2.5 } })).toThrow(/WABA 5/);
    expect(() => createSandboxBudget({ hourMs: 10 })).toThrow(/at least 1000 ms/);
  });
});

describe('the sandbox over HTTP with a budget', () => {
  let sandbox: GraphSandbox;
  let graph: GraphClient;
  const readings: UsageReading[] = [];
  const token = 'budget-test-token';

  beforeAll(async () => {
    sandbox = await startGraphSandbox({
      accessToken: token,
      wabas: { '900': [{ id: '9001' }, { id: '9002' }] },
      budget: { wabaCallsPerHour: 3, hourMs: 2_000 },
    });
    graph = createGraphClient({
      baseUrl: sandbox.url,
      apiVersion: 'v25.0',
      accessToken: token,
      headersTimeoutMs: 2_000,
      bodyTimeoutMs: 2_000,
      onUsage: (r) => readings.push(...r),
    });
  });
  afterAll(() => sandbox.close());

  it('reports the WABA`s usage on successes, then throttles with 80007 and a wait, then lets calls through again', async () => {
    await graph.setTwoStepPin({ phoneNumberId: '9001', pin: '123456' });
    await graph.setTwoStepPin({ phoneNumberId: '9002', pin: '123456' });
    await graph.setTwoStepPin({ phoneNumberId: '9001', pin: '654321' });
    expect(readings.map((r) => [r.key, r.usage])).toEqual([
      ['900', 0.33],
      ['900', 0.67],
      ['900', 1],
    ]);
    const err = await graph.setTwoStepPin({ phoneNumberId: '9002', pin: '111111' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraphError);
    expect(err).toMatchObject({ type: 'GraphThrottled', graphCode: 80007, retryable: true });
    expect(readings.at(-1)).toMatchObject({ key: '900', usage: 1 });
    expect(readings.at(-1)?.regainAccessMs).toBeGreaterThan(0);
    expect(sandbox.requests().at(-1)).toMatchObject({
      status: 400,
      graphCode: 80007,
      fault: 'over the waba budget',
    });
    await sleep(2_100);
    await graph.setTwoStepPin({ phoneNumberId: '9002', pin: '111111' });
    expect(sandbox.pinOf('9002')).toBe('111111');
    expect(sandbox.pinOf('9001')).toBe('654321');
  });

  it('counts a number outside any WABA under its own id', async () => {
    readings.length = 0;
    await graph.setTwoStepPin({ phoneNumberId: '123', pin: '123456' });
    expect(readings).toEqual([{ key: '123', usage: 0.33, regainAccessMs: 0 }]);
  });
});
