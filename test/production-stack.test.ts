// The production shape, small enough for the suite: PostgreSQL, the schema and namespace jobs of
// docker-compose.yml run for real, the real Temporal server (frontend, history, matching and worker
// services as four processes) with the compose file's dynamic config, OpenBao in server mode, the
// stand-alone Web UI, and two worker processes. One worker is SIGKILLed mid-batch; nothing may be
// lost or mismatched, and the parked numbers are found through the server's SQL visibility. The
// stack's own worker process (`--production --workers`), in a namespace of its own, is SIGKILLed
// too: its supervisor starts it again, and the new process completes a number.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDrillContext, runDrill, workerLossDrill, type DrillContext } from '../bench/drill-lib';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { freePort } from '../src/local-stack/processes';
import { productionPins, requireProductionBinaries } from '../src/local-stack/production-binaries';
import { graphSandboxService, workerAppRoleService } from '../src/local-stack/product-services';
import { startProductionStack, type ProductionStack } from '../src/local-stack/production-stack';
import { TEMPORAL_DATABASES } from '../src/local-stack/temporal-server';
import { ONBOARDING_TASK_QUEUE, WORKFLOW_TYPE, workflowIdFor } from '../src/workflows/messages';

const NAMESPACE = 'prod-smoke';
/** The stack's own worker polls here, apart from the drill's workers and their sandbox. */
const STACK_NAMESPACE = 'prod-smoke-stack';
const SANDBOX_TOKEN = 'prod-smoke-graph-token';
const SIZE = 50;
const PARKED = 5;

describe('production shape: the real Temporal server on PostgreSQL', () => {
  let dir: string;
  let sandbox: GraphSandbox;
  let stack: ProductionStack;
  let ctx: DrillContext;
  const supervisorLines: string[] = [];

  beforeAll(async () => {
    requireProductionBinaries();
    dir = mkdtempSync(join(tmpdir(), 'production-stack-test-'));
    // PostgreSQL runs as its own user when the suite runs as root: it must be able to enter here.
    chmodSync(dir, 0o711);
    sandbox = await startGraphSandbox({ accessToken: SANDBOX_TOKEN });
    stack = await startProductionStack({
      dataDir: dir,
      temporalPort: await freePort(),
      uiPort: await freePort(),
      vaultPort: await freePort(),
      namespace: STACK_NAMESPACE,
      extraNamespaces: [NAMESPACE],
      layout: 'split',
      extraServices: [workerAppRoleService(), graphSandboxService({ port: await freePort() })],
      workers: 1,
      report: (line) => supervisorLines.push(line),
      workerSupervisor: { backoffMs: [500], graceMs: 200 },
    });
    ctx = await openDrillContext(
      {
        temporalAddress: stack.temporalAddress,
        namespace: NAMESPACE,
        vaultAddress: stack.vaultAddress,
        vaultToken: stack.vaultToken,
        sandbox,
        sandboxToken: SANDBOX_TOKEN,
        logDir: stack.logDir,
      },
      20,
      { workers: 2 },
    );
  }, 240_000);

  afterAll(async () => {
    await ctx?.close();
    await stack?.stop();
    await sandbox?.close();
    if (dir && !process.env.KEEP_TEST_LOGS) rmSync(dir, { recursive: true, force: true });
    // Everything this file started is gone.
    for (const p of [...(stack?.processes ?? []), ...(stack?.workers ?? [])]) {
      expect(() => process.kill(p.pid ?? 0, 0), `${p.name} pid ${p.pid}`).toThrow();
    }
  }, 120_000);

  it('runs the pinned server version as four processes, with the dynamic config the compose file mounts', async () => {
    const info = await ctx.connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBe(productionPins().temporalServer);
    expect(stack.temporal.processes.map((p) => p.name)).toEqual([
      'temporal-frontend',
      'temporal-history',
      'temporal-matching',
      'temporal-worker',
    ]);
    // deploy/temporal-dynamicconfig.yaml sets limit.maxIDLength to 255 (the server's default is 1000).
    const refused = await ctx.client.workflow
      .start(WORKFLOW_TYPE, {
        workflowId: 'x'.repeat(256),
        taskQueue: ONBOARDING_TASK_QUEUE,
        args: [{ phoneNumberId: '1' }],
      })
      .then(
        () => undefined,
        (err: Error) => err,
      );
    expect((refused?.cause as Error | undefined)?.message).toMatch(/256\/255/);
  });

  it('two workers, one SIGKILLed mid-batch: nothing lost, and SQL visibility finds the parked numbers', async () => {
    let parked: string[] = [];
    const result = await runDrill(ctx, {
      ...workerLossDrill(SIZE, 0.2),
      prepare(drill, ids) {
        parked = ids.slice(0, PARKED);
        for (const id of parked) drill.sandbox.setScenario(id, { kind: 'unknownNumber' });
      },
      settleTimeoutMs: 150_000,
    });
    const summary = JSON.stringify({ ...result, reasons: undefined });
    expect(result.started, summary).toBe(SIZE);
    expect(result.lost, summary).toBe(0);
    expect(result.mismatched, summary).toBe(0);
    expect(result.withoutReason, summary).toBe(0);
    expect(result.workerKills, summary).toBe(1);
    expect(result.completed, summary).toBe(SIZE - PARKED);
    expect(result.awaitingManualReset, summary).toBe(PARKED);
    const killNote = result.notes.find((n) => n.startsWith('SIGKILL')) ?? '';
    expect(Number(/at (\d+)\//.exec(killNote)?.[1]), killNote).toBeLessThan(SIZE);

    // The list query the operator runs, answered by the server's SQL visibility store...
    const listed: string[] = [];
    for await (const wf of ctx.client.workflow.list({ query: 'OnboardingStatus="AwaitingManualReset"' })) {
      listed.push(wf.workflowId);
    }
    expect(listed.sort()).toEqual(parked.map(workflowIdFor).sort());

    // ...whose rows are in PostgreSQL: OnboardingStatus is a Keyword column of executions_visibility.
    const ns = await ctx.connection.workflowService.describeNamespace({ namespace: NAMESPACE });
    const aliases = ns.config?.customSearchAttributeAliases ?? {};
    const column = Object.keys(aliases).find((field) => aliases[field] === 'OnboardingStatus');
    expect(column, JSON.stringify(aliases)).toMatch(/^Keyword\d+$/);
    const rows = await stack.postgres.query(
      TEMPORAL_DATABASES.visibility,
      `SELECT workflow_id FROM executions_visibility WHERE namespace_id = '${ns.namespaceInfo?.id ?? ''}' ` +
        `AND ${column ?? 'missing'} = 'AwaitingManualReset' ORDER BY workflow_id`,
    );
    expect(rows.split('\n')).toEqual(parked.map(workflowIdFor).sort());

    // And the stand-alone Web UI, pointed at this frontend, shows the same list.
    const query = encodeURIComponent('OnboardingStatus="AwaitingManualReset"');
    const res = await request(`${stack.uiUrl}/api/v1/namespaces/${NAMESPACE}/workflows?query=${query}`);
    const body = (await res.body.json()) as { executions?: Array<{ execution?: { workflowId?: string } }> };
    expect(res.statusCode).toBe(200);
    expect((body.executions ?? []).map((e) => e.execution?.workflowId).sort()).toEqual(
      parked.map(workflowIdFor).sort(),
    );
  }, 200_000);

  it('keeps the stack`s worker process running: SIGKILLed, it is started again and does the work', async () => {
    const [worker] = stack.workers;
    const killed = worker?.pid;
    expect(worker?.name).toBe('worker-1');
    expect(killed).toBeGreaterThan(0);
    process.kill(killed ?? 0, 'SIGKILL');
    await expect
      .poll(() => supervisorLines.some((l) => l.includes('running again')), { timeout: 90_000 })
      .toBe(true);
    expect(supervisorLines[0]).toMatch(
      new RegExp(`^stack: worker-1 \\(pid ${killed}\\) was killed by SIGKILL`),
    );
    const restarted = worker?.pid;
    expect(restarted).not.toBe(killed);
    expect(() => process.kill(restarted ?? 0, 0)).not.toThrow();

    const connection = await Connection.connect({ address: stack.temporalAddress });
    try {
      const handle = await new Client({ connection, namespace: STACK_NAMESPACE }).workflow.start(
        WORKFLOW_TYPE,
        {
          taskQueue: ONBOARDING_TASK_QUEUE,
          workflowId: 'after-worker-restart',
          args: [{ phoneNumberId: '15550003333' }],
        },
      );
      await expect
        .poll(async () => (await handle.describe()).status.name, { timeout: 60_000 })
        .toBe('COMPLETED');
    } finally {
      await connection.close();
    }
  }, 180_000);
});
