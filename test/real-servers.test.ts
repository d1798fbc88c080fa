// Proves each real server is there: these fail if a server is missing or is a stand-in.
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { request } from 'undici';
import { describe, expect, inject, it } from 'vitest';

describe('Temporal CLI dev server', () => {
  it('reports its system info and the registered OnboardingStatus search attribute', async () => {
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toMatch(/^\d+\.\d+\.\d+/);
      expect(info.capabilities?.signalAndQueryHeader).toBe(true);
      const attrs = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      // 2 is INDEXED_VALUE_TYPE_KEYWORD in Temporal's API.
      expect(attrs.customAttributes['OnboardingStatus']).toBe(2);
    } finally {
      await connection.close();
    }
  });

  it('serves its Web UI', async () => {
    const res = await request(inject('temporalUiUrl'));
    const body = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(body).toContain('<html');
  });
});

describe('Temporal time-skipping test server', () => {
  it('completes a timer of three days on its own clock while far less wall time passes', async () => {
    const env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: inject('timeSkippingServerPath') } },
    });
    try {
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue: 'timer-probe',
        workflowsPath: join(__dirname, 'fixtures', 'sleeping-workflow.ts'),
      });
      const threeDaysMs = 3 * 24 * 3600 * 1000;
      const serverBefore = await env.currentTimeMs();
      const { workflowMs, wallMs } = await worker.runUntil(async () => {
        const started = Date.now();
        const result: number = await env.client.workflow.execute<() => Promise<number>>('sleepThreeDays', {
          taskQueue: 'timer-probe',
          workflowId: 'timer-probe',
        });
        return { workflowMs: result, wallMs: Date.now() - started };
      });
      const serverAdvanceMs = (await env.currentTimeMs()) - serverBefore;
      // The workflow's clock and the server's both moved three days on...
      expect(workflowMs).toBeGreaterThanOrEqual(threeDaysMs);
      expect(serverAdvanceMs).toBeGreaterThanOrEqual(threeDaysMs);
      // ...and the wall clock did not: a real server would have taken those three days. The bound
      // is a ratio (a thousandth of the skipped time, about 4 minutes), so a machine under load
      // that takes seconds for the round trip still passes, and a server that waits cannot.
      expect(wallMs).toBeLessThan(threeDaysMs / 1000);
      expect(wallMs).toBeLessThan(serverAdvanceMs / 1000);
    } finally {
      await env.teardown();
    }
  });
});

describe('OpenBao dev server', () => {
  it('writes then reads a KV v2 secret with its version number', async () => {
    const base = inject('vaultAddress');
    const headers = { 'x-vault-token': inject('vaultRootToken'), 'content-type': 'application/json' };
    const path = `${base}/v1/secret/data/probe/${Date.now()}`;
    const write1 = await request(path, {
      method: 'POST',
      headers,
      body: JSON.stringify({ data: { v: 'one' } }),
    });
    expect(write1.statusCode).toBe(200);
    expect(((await write1.body.json()) as { data: { version: number } }).data.version).toBe(1);
    const write2 = await request(path, {
      method: 'POST',
      headers,
      body: JSON.stringify({ data: { v: 'two' } }),
    });
    expect(((await write2.body.json()) as { data: { version: number } }).data.version).toBe(2);
    const read = await request(`${path}?version=1`, { headers });
    const body = (await read.body.json()) as { data: { data: { v: string }; metadata: { version: number } } };
    expect(body.data.data.v).toBe('one');
    expect(body.data.metadata.version).toBe(1);
    const health = await request(`${base}/v1/sys/health`);
    const healthBody = (await health.body.json()) as { version: string; sealed: boolean };
    expect(healthBody.sealed).toBe(false);
    expect(healthBody.version).toMatch(/^2\./);
  });
});
