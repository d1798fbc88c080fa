// The onboarding trigger in-process on a free port, against the real dev server (stand-in
// workflow) and the Graph sandbox: authentication, Meta's handshake and signatures, PARTNER_ADDED
// onboarding a WABA's numbers, redelivery without duplicates, and 5xx when a start cannot be made.
import { randomBytes, randomInt } from 'node:crypto';
import { Client } from '@temporalio/client';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { createTriggerServer, type TriggerServer } from '../src/trigger/trigger-server';
import { webhookSignature } from '../src/trigger/webhook-signature';
import { workflowIdFor } from '../src/workflows/messages';
import { runsOf, startFixtureWorker, type FixtureWorker } from './fixtures/fixture-worker';
import { fixtureInputQuery } from './fixtures/starter-workflows';
import { sandboxGraphClient } from './support/sandbox-graph-client';
import { onboardingExists } from './support/workflow-polling';
import { readAnswer } from './support/http-answer';

const secrets = {
  sharedSecret: `shared-${randomBytes(16).toString('hex')}`,
  appSecret: `app-${randomBytes(16).toString('hex')}`,
  verifyToken: `verify-${randomBytes(8).toString('hex')}`,
};
const logged: string[] = [];
let fx: FixtureWorker;
let sandbox: GraphSandbox;
let trigger: TriggerServer;
let base: string;

function id(kind: string): string {
  return `${kind}${Date.now()}${randomInt(1_000_000).toString().padStart(6, '0')}`;
}

async function call(
  method: 'GET' | 'POST',
  path: string,
  opts: { body?: string; headers?: Record<string, string> } = {},
) {
  return readAnswer(await request(`${base}${path}`, { method, body: opts.body, headers: opts.headers }));
}

function postOnboarded(body: unknown, token = secrets.sharedSecret) {
  return call('POST', '/onboarded', {
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  });
}

function partnerAdded(wabaId: string, ownerBusinessId: string): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: wabaId,
        time: Math.floor(Date.now() / 1000),
        changes: [
          {
            field: 'account_update',
            value: {
              event: 'PARTNER_ADDED',
              waba_info: { waba_id: wabaId, owner_business_id: ownerBusinessId },
            },
          },
        ],
      },
    ],
  });
}

/** `signature` null sends no X-Hub-Signature-256 header. */
function postWebhook(body: string, signature: string | null = webhookSignature(body, secrets.appSecret)) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (signature !== null) headers['x-hub-signature-256'] = signature;
  return call('POST', '/webhooks/whatsapp', { body, headers });
}

const exists = (phoneNumberId: string) => onboardingExists(fx.client, phoneNumberId);

beforeAll(async () => {
  fx = await startFixtureWorker({ namespace: 'trigger' });
  sandbox = await startGraphSandbox({});
  trigger = createTriggerServer({
    client: fx.client,
    graph: sandboxGraphClient(sandbox),
    secrets,
    onboardingOptions: { manualResetDeadline: '7d' },
    log: {
      info: (m, a) => logged.push(`info ${m} ${JSON.stringify(a)}`),
      warn: (m, a) => logged.push(`warn ${m} ${JSON.stringify(a)}`),
      error: (m, a) => logged.push(`error ${m} ${JSON.stringify(a)}`),
    },
  });
  base = `http://127.0.0.1:${await trigger.listen(0)}`;
});

afterAll(async () => {
  await trigger?.close();
  await sandbox?.close();
  await fx?.stop();
});

describe('POST /onboarded', () => {
  it('starts a number with the right secret, and reports it on a second call', async () => {
    const phoneNumberId = id('1');
    const first = await postOnboarded({ phoneNumberId, wabaId: '102290129340398', tenant: 'acme' });
    expect(first.status).toBe(202);
    expect(first.json()).toMatchObject({ outcome: 'started', workflowId: workflowIdFor(phoneNumberId) });
    const handle = fx.client.workflow.getHandle(workflowIdFor(phoneNumberId));
    await handle.result();
    expect(await handle.query(fixtureInputQuery)).toEqual({
      phoneNumberId,
      wabaId: '102290129340398',
      tenant: 'acme',
      manualResetDeadline: '7d',
    });
    const second = await postOnboarded({ phoneNumberId });
    expect(second.status).toBe(202);
    expect(second.json()).toMatchObject({ outcome: 'already-completed' });
  });

  it('passes the register choice through to the workflow input', async () => {
    const phoneNumberId = id('4');
    const res = await postOnboarded({ phoneNumberId, register: 'never' });
    expect(res.status).toBe(202);
    const handle = fx.client.workflow.getHandle(workflowIdFor(phoneNumberId));
    await handle.result();
    expect(await handle.query(fixtureInputQuery)).toEqual({
      phoneNumberId,
      register: 'never',
      manualResetDeadline: '7d',
    });
  });

  it('refuses a wrong or missing secret with 401 and starts nothing', async () => {
    const phoneNumberId = id('1');
    const wrong = await postOnboarded({ phoneNumberId }, `${secrets.sharedSecret}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.json()).toMatchObject({ error: 'Unauthorized' });
    expect(wrong.headers['www-authenticate']).toBe('Bearer');
    const missing = await call('POST', '/onboarded', { body: JSON.stringify({ phoneNumberId }) });
    expect(missing.status).toBe(401);
    expect(await exists(phoneNumberId)).toBe(false);
  });

  it('refuses malformed or invalid bodies with 400 and a reason', async () => {
    const phoneNumberId = id('1');
    const cases: Array<[unknown, RegExp]> = [
      ['{"phoneNumberId": ', /not JSON/],
      ['[1,2]', /expected an object/],
      [{ phoneNumberId: 'abc' }, /phoneNumberId "abc" is not a phone-number id/],
      [{}, /phoneNumberId is missing/],
      [{ phoneNumberId, colour: 'blue' }, /unknown field "colour"/],
      [{ phoneNumberId, wabaId: 12 }, /wabaId 12 is not a WABA id/],
      [{ phoneNumberId, register: 'sometimes' }, /"register" must be one of always, never, auto/],
    ];
    for (const [body, reason] of cases) {
      const res = await postOnboarded(body);
      expect(res.status).toBe(400);
      expect(String(res.json().reason)).toMatch(reason);
    }
    expect(await exists(phoneNumberId)).toBe(false);
  });

  it('refuses a body over the size limit with 413', async () => {
    const res = await postOnboarded({ phoneNumberId: id('1'), tenant: 'x'.repeat(2 * 1024 * 1024) });
    expect(res.status).toBe(413);
  });
});

describe('Meta webhooks', () => {
  it('answers the verification handshake only with the right token', async () => {
    const ok = await call(
      'GET',
      `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${secrets.verifyToken}&hub.challenge=1158201444`,
    );
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toMatch(/^text\/plain/);
    expect(ok.text).toBe('1158201444');
    const wrongToken = await call(
      'GET',
      '/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1',
    );
    expect(wrongToken.status).toBe(403);
    const wrongMode = await call(
      'GET',
      `/webhooks/whatsapp?hub.mode=unsubscribe&hub.verify_token=${secrets.verifyToken}&hub.challenge=1`,
    );
    expect(wrongMode.status).toBe(403);
  });

  it('onboards every number of a WABA on PARTNER_ADDED, and a redelivery starts nothing twice', async () => {
    const wabaId = id('9');
    const numbers = [id('1'), id('3'), id('2')];
    sandbox.addWaba(
      wabaId,
      numbers.map((n, i) => ({ id: n, display_phone_number: `+1 555-010-000${i}` })),
    );
    const body = partnerAdded(wabaId, '5550001112223');
    const first = await postWebhook(body);
    expect(first.status).toBe(200);
    const outcomes = (
      first.json().onboarded as Array<{ numbers: Array<{ phoneNumberId: string; outcome: string }> }>
    )[0]?.numbers;
    expect(outcomes?.map((n) => [n.phoneNumberId, n.outcome])).toEqual(numbers.map((n) => [n, 'started']));
    const input = await fx.client.workflow
      .getHandle(workflowIdFor(numbers[1] ?? ''))
      .query(fixtureInputQuery);
    // Numbers from a WABA just shared with us are fresh from signup: registered by default.
    expect(input).toEqual({
      phoneNumberId: numbers[1],
      wabaId,
      displayPhoneNumber: '+1 555-010-0001',
      tenant: '5550001112223',
      register: 'always',
      manualResetDeadline: '7d',
    });

    const redelivered = await postWebhook(body);
    expect(redelivered.status).toBe(200);
    const again = (redelivered.json().onboarded as Array<{ numbers: Array<{ outcome: string }> }>)[0]
      ?.numbers;
    expect(again?.every((n) => n.outcome === 'already-running' || n.outcome === 'already-completed')).toBe(
      true,
    );
    for (const n of numbers) {
      let runs = await runsOf(fx.client, workflowIdFor(n));
      while (runs.length === 0) {
        await new Promise((r) => setTimeout(r, 100));
        runs = await runsOf(fx.client, workflowIdFor(n));
      }
      expect(runs).toHaveLength(1);
    }
    for (const n of numbers.slice(1))
      await fx.client.workflow.getHandle(workflowIdFor(n)).terminate('test cleanup');
  });

  it('refuses a missing or wrong signature with 401 and starts nothing', async () => {
    const wabaId = id('9');
    const phoneNumberId = id('1');
    sandbox.addWaba(wabaId, [{ id: phoneNumberId }]);
    const body = partnerAdded(wabaId, '5550001112223');
    const wrongKey = await postWebhook(body, webhookSignature(body, 'not-the-app-secret'));
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.json()).toMatchObject({ error: 'BadSignature' });
    // Signed, then altered: the signature covers the raw bytes.
    const tampered = await postWebhook(
      body.replace('PARTNER_ADDED', 'PARTNER_ADDED '),
      webhookSignature(body, secrets.appSecret),
    );
    expect(tampered.status).toBe(401);
    expect((await postWebhook(body, null)).status).toBe(401);
    expect((await postWebhook(body, 'sha256=zz')).status).toBe(401);
    expect(await exists(phoneNumberId)).toBe(false);
    expect(logged.join('\n')).not.toContain(secrets.appSecret);
  });

  it('answers 400 to a signed body that is not a webhook, and 200 to other events', async () => {
    expect((await postWebhook('not json')).status).toBe(400);
    expect((await postWebhook('{"object":"whatsapp_business_account"}')).status).toBe(400);
    const other = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: '1', changes: [{ field: 'account_update', value: { event: 'PARTNER_REMOVED' } }] }],
    });
    const res = await postWebhook(other);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ received: true, onboarded: [] });
  });

  it('answers 503 when Graph or Temporal fail, so Meta delivers the event again', async () => {
    // Graph does not know this WABA: nothing can be listed, so nothing is handed over.
    const unknownWaba = await postWebhook(partnerAdded(id('9'), '1'));
    expect(unknownWaba.status).toBe(503);

    // Temporal refuses the start (no such namespace): 503 as well, and a later delivery works.
    const wabaId = id('9');
    const phoneNumberId = id('1');
    sandbox.addWaba(wabaId, [{ id: phoneNumberId }]);
    const broken = createTriggerServer({
      client: new Client({ connection: fx.client.connection, namespace: 'no-such-namespace' }),
      graph: sandboxGraphClient(sandbox),
      secrets,
    });
    const brokenBase = `http://127.0.0.1:${await broken.listen(0)}`;
    try {
      const body = partnerAdded(wabaId, '1');
      const res = await request(`${brokenBase}/webhooks/whatsapp`, {
        method: 'POST',
        body,
        headers: { 'x-hub-signature-256': webhookSignature(body, secrets.appSecret) },
      });
      expect(res.statusCode).toBe(503);
      await res.body.dump();
      expect(await exists(phoneNumberId)).toBe(false);
      expect((await postWebhook(body)).status).toBe(200);
      expect(await exists(phoneNumberId)).toBe(true);
    } finally {
      await broken.close();
    }
  });
});
