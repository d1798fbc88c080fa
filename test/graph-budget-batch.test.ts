// Meta's budget kept across a whole batch, on the real dev server and OpenBao: 300 numbers of one
// WABA against the sandbox's budget of 90 calls in a compressed hour of 6 s. Calling at the Graph
// cap is refused at the 91st call; the worker reads the usage on every answer, holds the WABA while
// the shared board says it is blocked, slows down above 80 % and finishes without a single refusal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageReading } from '../src/graph/business-usage';
import { createGraphBudget } from '../src/graph/graph-budget';
import { createGraphClient, type GraphClient } from '../src/graph/graph-client';
import { isGraphError } from '../src/graph/graph-errors';
import { createRatePacer } from '../src/graph/graph-rate-pacer';
import { workflowIdFor } from '../src/workflows/messages';
import { startOnboarding } from '../src/onboarding/start-onboarding';
import { createVaultBudgetBoard } from '../src/vault/graph-budget-board';
import { pool } from '../bench/common';
import {
  phoneNumberIds,
  startOnboardingHarness,
  TEST_GRAPH_TOKEN,
  type OnboardingHarness,
} from './support/onboarding-harness';

const HOUR_MS = 6_000;
const BUDGET = 90;
const CAP = 50;
const WABA = '777000';
const NAIVE_WABA = '777001';
const BLOCK_MS = 12_000;
const ids = phoneNumberIds(300);
const others = phoneNumberIds(100);
const wabaNumbers = new Set(ids);

let h: OnboardingHarness;

function graphClient(onUsage?: (r: UsageReading[]) => void): GraphClient {
  return createGraphClient({
    baseUrl: h.sandbox.url,
    apiVersion: 'v25.0',
    accessToken: TEST_GRAPH_TOKEN,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
    onUsage,
  });
}

beforeAll(async () => {
  h = await startOnboardingHarness({
    namespace: 'budget',
    sandbox: {
      wabas: {
        [WABA]: ids.map((id) => ({ id })),
        [NAIVE_WABA]: others.map((id) => ({ id })),
      },
      budget: { wabaCallsPerHour: BUDGET, hourMs: HOUR_MS },
    },
  });
});

afterAll(async () => {
  await h?.close();
});

describe('a 300-number batch for one WABA against its hourly budget', () => {
  it('calling at the Graph cap without reading the usage is refused long before 300 calls', async () => {
    const naive = graphClient();
    const pacer = createRatePacer(CAP);
    let refusedAt: number | undefined;
    for (const [i, id] of others.entries()) {
      await pacer.wait();
      const err = await naive.setTwoStepPin({ phoneNumberId: id, pin: '123456' }).catch((e: unknown) => e);
      if (isGraphError(err) && err.graphCode === 80007) {
        refusedAt = i;
        break;
      }
    }
    expect(refusedAt).toBe(BUDGET);
  });

  it('the worker holds the WABA while it is blocked, then slows down before Meta throttles: not one refusal', async () => {
    const seen: number[] = [];
    const board = createVaultBudgetBoard({ vault: h.vault, mount: 'secret', prefix: h.vaultPrefix });
    const budget = createGraphBudget({ windowMs: HOUR_MS, board });
    const graph = graphClient((readings) => {
      for (const r of readings) if (r.key === WABA) seen.push(r.usage);
      budget.observe(readings);
    });
    await h.startWorkers({ graphMaxRequestsPerSecond: CAP, deps: { graph }, graphBudget: budget });

    // Another worker was told by Meta that the WABA is blocked for a while, and wrote it down:
    // every number reaches its Graph step meanwhile and waits, so the batch meets the budget at once.
    const blockedUntil = Date.now() + BLOCK_MS;
    await board.write(WABA, blockedUntil);

    // register: never, so every call to Meta is the PIN's: 300 calls against a budget of 90.
    const starts = await pool(ids, 20, (id) =>
      startOnboarding(h.client, { phoneNumberId: id, wabaId: WABA, register: 'never' }),
    );
    expect(starts.filter((s) => s.outcome !== 'started')).toEqual([]);
    await Promise.all(ids.map((id) => h.client.workflow.getHandle(workflowIdFor(id)).result()));

    const answers = h.sandbox.requests().filter((r) => r.phoneNumberId && wabaNumbers.has(r.phoneNumberId));
    expect(answers.filter((r) => r.status !== 200)).toEqual([]);
    expect(answers.length).toBe(ids.length);
    expect(Math.min(...answers.map((r) => Date.parse(r.at)))).toBeGreaterThanOrEqual(blockedUntil);
    // The budget did bind: the usage went past the threshold.
    expect(Math.max(...seen)).toBeGreaterThanOrEqual(0.8);
    for (const id of ids.slice(0, 20))
      expect(h.sandbox.pinOf(id)).toBe((await h.pinStore.readActivePin(id))?.pin);
  }, 300_000);
});
