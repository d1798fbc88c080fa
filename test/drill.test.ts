// The fault drills of `npm run drill`, small enough for the suite: the worker (a separate
// process, src/worker.ts) SIGKILLed mid-batch, and a third of Graph calls failing. Nothing may be
// lost or mismatched, and every number ends Completed or AwaitingManualReset with a reason.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  graphChaosDrill,
  openDrillContext,
  runDrill,
  workerKillDrill,
  type DrillContext,
  type DrillResult,
} from '../bench/drill-lib';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';

const SANDBOX_TOKEN = 'drill-test-graph-token';

function expectNothingLost(result: DrillResult) {
  const summary = JSON.stringify({ ...result, reasons: undefined });
  expect(result.started, summary).toBe(result.size);
  expect(result.lost, summary).toBe(0);
  expect(result.mismatched, summary).toBe(0);
  expect(result.withoutReason, summary).toBe(0);
  expect(result.completed + result.awaitingManualReset, summary).toBe(result.size);
}

describe('fault drills (small)', () => {
  let sandbox: GraphSandbox;
  let ctx: DrillContext;

  beforeAll(async () => {
    sandbox = await startGraphSandbox({ accessToken: SANDBOX_TOKEN });
    ctx = await openDrillContext(
      {
        temporalAddress: inject('temporalAddress'),
        namespace: 'drill',
        vaultAddress: inject('vaultAddress'),
        vaultToken: inject('vaultRootToken'),
        sandbox,
        sandboxToken: SANDBOX_TOKEN,
        logDir: inject('logDir'),
      },
      5,
    );
    await ctx.worker.start();
  });

  afterAll(async () => {
    await ctx?.close();
    await sandbox?.close();
  });

  it('the worker SIGKILLed twice mid-batch and restarted: nothing lost, nothing mismatched', async () => {
    const result = await runDrill(ctx, { ...workerKillDrill(30, 2), settleTimeoutMs: 110_000 });
    expectNothingLost(result);
    expect(result.workerKills).toBe(2);
    // Each kill happened before the batch was done.
    for (const note of result.notes.filter((n) => n.startsWith('SIGKILL'))) {
      const [, settled] = /at (\d+)\//.exec(note) ?? [];
      expect(Number(settled), note).toBeLessThan(result.size);
    }
  }, 150_000);

  it('a third of Graph calls failing or slow: nothing lost, nothing mismatched', async () => {
    const result = await runDrill(ctx, { ...graphChaosDrill(36, 11), settleTimeoutMs: 80_000 });
    expectNothingLost(result);
    const faults = sandbox.requests().filter((r) => r.fault !== undefined).length;
    expect(faults).toBeGreaterThan(5);
  }, 100_000);
});
