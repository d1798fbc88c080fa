// Each client business's own Graph token, end to end on the dev server, OpenBao and the Graph sandbox
// (which accepts a client's token for that client's WABAs only, as Meta does with App-Only
// installs): two tenants' numbers reach Meta with their own tokens; a tenant with none parks at once
// with the vault path to fill, and `retry` after filling it completes; a token rotated in the vault
// is used once the cache time has passed, with the same worker; the trigger lists a shared WABA's
// numbers with its owner's token; and Meta refusing a tenant's token (190) names that tenant's path.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphClient } from '../src/graph/graph-client';
import { vaultTokenSource } from '../src/graph/graph-token-source';
import { createTenantGraph, type TenantGraph } from '../src/graph/tenant-graph';
import { tenantGraphApi } from '../src/graph/tenant-graph-api';
import { tokenFingerprint } from '../src/graph-sandbox/sandbox-tokens';
import { createTriggerServer, type TriggerServer } from '../src/trigger/trigger-server';
import { webhookSignature } from '../src/trigger/webhook-signature';
import {
  ONBOARDING_TASK_QUEUE,
  WORKFLOW_TYPE,
  retrySignal,
  workflowIdFor,
  type RegisterNumberResult,
} from '../src/workflows/messages';
import { phoneNumberIds, startOnboardingHarness, type OnboardingHarness } from './support/onboarding-harness';
import { waitForStage } from './support/workflow-polling';

const run = randomBytes(4).toString('hex');
const tokenPrefix = `test-tenants-${run}/graph-tokens`;
const CACHE_MS = 2_000;
const WABA = {
  acme: '102290129388001',
  bluebird: '102290129388002',
  corner: '102290129388003',
  shared: '102290129388004',
};
const TOKEN = {
  acme: `acme-${run}`,
  bluebird: `bluebird-${run}`,
  corner: `corner-${run}`,
  owner: `owner-${run}`,
};
const OWNER_BUSINESS = '777000111222333';
const [acme1, acme2, bluebird1, corner1, shared1, shared2, ...acmeLater] = phoneNumberIds(14) as [
  string,
  string,
  string,
  string,
  string,
  string,
  ...string[],
];
const appSecret = `app-${run}`;

let h: OnboardingHarness;
let graph: TenantGraph;
let trigger: TriggerServer;
let triggerUrl: string;

function put(tenant: string, token: string) {
  return h.vault.kvWrite('secret', `${tokenPrefix}/tenants/${tenant}`, { access_token: token });
}

beforeAll(async () => {
  h = await startOnboardingHarness({
    namespace: 'tenants',
    sandbox: {
      wabas: {
        [WABA.acme]: [acme1, acme2, ...acmeLater].map((id) => ({ id })),
        [WABA.bluebird]: [{ id: bluebird1 }],
        [WABA.corner]: [{ id: corner1 }],
        [WABA.shared]: [{ id: shared1 }, { id: shared2 }],
      },
      tokenGrants: {
        [TOKEN.acme]: [WABA.acme],
        [TOKEN.bluebird]: [WABA.bluebird],
        [TOKEN.owner]: [WABA.shared],
      },
    },
  });
  await put('acme', TOKEN.acme);
  await put('bluebird', TOKEN.bluebird);
  await put(OWNER_BUSINESS, TOKEN.owner);
  const tokens = vaultTokenSource({
    vault: h.vault,
    mount: 'secret',
    config: { prefix: tokenPrefix, cacheMs: CACHE_MS },
  });
  graph = createTenantGraph({
    tokens,
    clientFor: (accessToken) =>
      createGraphClient({
        baseUrl: h.sandbox.url,
        apiVersion: 'v25.0',
        accessToken,
        headersTimeoutMs: 5_000,
        bodyTimeoutMs: 5_000,
      }),
  });
  await h.startWorkers({ deps: { graph: tenantGraphApi(graph) } });
  trigger = createTriggerServer({
    client: h.client,
    graph,
    tokens,
    secrets: { sharedSecret: `shared-${run}-0123456789`, appSecret, verifyToken: 'v' },
  });
  triggerUrl = `http://127.0.0.1:${await trigger.listen(0)}`;
});

afterAll(async () => {
  await trigger?.close();
  await h?.close();
});

function onboard(phoneNumberId: string, tenant: string, wabaId: string): Promise<RegisterNumberResult> {
  return h.client.workflow.execute(WORKFLOW_TYPE, {
    taskQueue: ONBOARDING_TASK_QUEUE,
    workflowId: workflowIdFor(phoneNumberId),
    args: [{ phoneNumberId, wabaId, tenant }],
  }) as Promise<RegisterNumberResult>;
}

/** The token fingerprints of every Graph call the sandbox received for a number. */
function tokensSeenFor(phoneNumberId: string): string[] {
  return h.sandbox
    .requests()
    .filter((r) => r.phoneNumberId === phoneNumberId)
    .map((r) => r.tokenId ?? 'none');
}

describe('a Graph token per tenant', () => {
  it("two tenants: the sandbox sees each number's calls with its own tenant's token", async () => {
    const [a, b] = await Promise.all([
      onboard(acme1, 'acme', WABA.acme),
      onboard(bluebird1, 'bluebird', WABA.bluebird),
    ]);
    expect([a.outcome, b.outcome]).toEqual(['Completed', 'Completed']);
    const acmeCalls = tokensSeenFor(acme1);
    const bluebirdCalls = tokensSeenFor(bluebird1);
    expect(acmeCalls.length).toBeGreaterThan(0);
    expect(new Set(acmeCalls)).toEqual(new Set([tokenFingerprint(TOKEN.acme)]));
    expect(new Set(bluebirdCalls)).toEqual(new Set([tokenFingerprint(TOKEN.bluebird)]));
    expect(h.sandbox.pinOf(acme1)).toBe((await h.pinStore.readActivePin(acme1))?.pin);
  });

  it('a tenant with no token parks at once with the exact vault path; retry after filling it completes', async () => {
    const started = h.client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: ONBOARDING_TASK_QUEUE,
      workflowId: workflowIdFor(corner1),
      args: [{ phoneNumberId: corner1, wabaId: WABA.corner, tenant: 'corner' }],
    });
    await started;
    const parked = await waitForStage(h.client, corner1, 'AwaitingManualReset');
    expect(parked.lastError).toMatchObject({
      step: 'setTwoStepPin',
      type: 'TenantTokenMissing',
      attempts: 1,
    });
    expect(parked.lastError?.message).toContain(`secret/${tokenPrefix}/tenants/corner`);
    expect(parked.lastError?.tokenPath).toBe(`secret/${tokenPrefix}/tenants/corner`);
    expect(parked.runbook).toBe('tenant-token');
    expect(parked.procedure).toContain(
      `bao kv put secret/${tokenPrefix}/tenants/corner access_token=@token.txt`,
    );
    expect(tokensSeenFor(corner1)).toEqual([]);

    await put('corner', TOKEN.corner);
    h.sandbox.grantToken(TOKEN.corner, [WABA.corner]);
    const handle = h.client.workflow.getHandle(workflowIdFor(corner1));
    await handle.signal(retrySignal, { operator: 'test', note: 'token written' });
    expect(((await handle.result()) as RegisterNumberResult).outcome).toBe('Completed');
    expect(new Set(tokensSeenFor(corner1))).toEqual(new Set([tokenFingerprint(TOKEN.corner)]));
  });

  it('a token rotated in the vault is used within the cache time, by the same worker', async () => {
    const rotated = `acme-rotated-${run}`;
    h.sandbox.grantToken(rotated, [WABA.acme]);
    await onboard(acme2, 'acme', WABA.acme);
    expect(new Set(tokensSeenFor(acme2))).toEqual(new Set([tokenFingerprint(TOKEN.acme)]));
    await put('acme', rotated);
    const rotatedAt = Date.now();
    // Numbers onboarded one after another until a call goes out with the new token.
    for (const id of acmeLater) {
      await onboard(id, 'acme', WABA.acme);
      if (tokensSeenFor(id).includes(tokenFingerprint(rotated))) break;
      await sleep(250);
    }
    const calls = h.sandbox
      .requests()
      .filter((r) => acmeLater.includes(r.phoneNumberId ?? '') && Date.parse(r.at) >= rotatedAt);
    const firstNew = calls.find((r) => r.tokenId === tokenFingerprint(rotated));
    expect(firstNew).toBeDefined();
    console.log(
      `rotation in use ${Date.parse(firstNew?.at ?? '') - rotatedAt} ms after the vault write (cache ${CACHE_MS} ms)`,
    );
    // Every call made once the cache time had passed used the new token.
    for (const r of calls.filter((c) => Date.parse(c.at) > rotatedAt + CACHE_MS)) {
      expect(r.tokenId).toBe(tokenFingerprint(rotated));
    }
  });

  it("Meta refusing a tenant's token (190) parks with that tenant's path, not GRAPH_ACCESS_TOKEN", async () => {
    const id = acmeLater[acmeLater.length - 1] ?? '';
    await put('bluebird', `revoked-${run}`);
    // Past the cache time, the worker reads the revoked token; the sandbox knows no such token.
    await sleep(CACHE_MS + 100);
    h.sandbox.addWaba(WABA.bluebird, [{ id: bluebird1 }, { id }]);
    await h.client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: ONBOARDING_TASK_QUEUE,
      workflowId: workflowIdFor(id),
      args: [{ phoneNumberId: id, wabaId: WABA.bluebird, tenant: 'bluebird' }],
    });
    const parked = await waitForStage(h.client, id, 'AwaitingManualReset');
    expect(parked.lastError).toMatchObject({ type: 'GraphAuthError', graphCode: 190 });
    expect(parked.lastError?.message).toContain(
      `tenant "bluebird"'s token from vault secret/${tokenPrefix}/tenants/bluebird`,
    );
    expect(parked.lastError?.message).not.toContain('GRAPH_ACCESS_TOKEN');
    expect(parked.procedure).toContain(`secret/${tokenPrefix}/tenants/bluebird`);
    expect(parked.procedure).not.toContain('restart the workers');
    await h.client.workflow.getHandle(workflowIdFor(id)).terminate('test done');
  });

  it("the trigger lists a shared WABA's numbers with its owner business's token (PARTNER_ADDED)", async () => {
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: WABA.shared,
          time: Math.floor(Date.now() / 1000),
          changes: [
            {
              field: 'account_update',
              value: {
                event: 'PARTNER_ADDED',
                waba_info: { waba_id: WABA.shared, owner_business_id: OWNER_BUSINESS },
              },
            },
          ],
        },
      ],
    });
    const res = await fetch(`${triggerUrl}/webhooks/whatsapp`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': webhookSignature(body, appSecret),
      },
    });
    expect(res.status).toBe(200);
    const listing = h.sandbox.requests().filter((r) => r.path.endsWith(`/${WABA.shared}/phone_numbers`));
    expect(listing.map((r) => r.tokenId)).toEqual([tokenFingerprint(TOKEN.owner)]);
    for (const id of [shared1, shared2]) {
      const result = (await h.client.workflow.getHandle(workflowIdFor(id)).result()) as RegisterNumberResult;
      expect(result.outcome).toBe('Completed');
      expect(new Set(tokensSeenFor(id))).toEqual(new Set([tokenFingerprint(TOKEN.owner)]));
    }
  });
});
