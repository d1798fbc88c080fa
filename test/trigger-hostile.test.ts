// The onboarding trigger tried as an attacker would: the real server on a free port, against the
// real dev server (stand-in workflow, namespace trigger-hostile) and the Graph sandbox. Each row
// is one hostile or malformed request as raw bytes and the status it must get; afterwards the
// namespace holds exactly the workflows the legitimate requests started, so no refused request
// started anything. Then the poison PARTNER_ADDED, and the transport limits with short timeouts.
import { randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import type { HttpServerLimits } from '../src/http/http-server';
import { freePort } from '../src/local-stack/processes';
import {
  createTriggerServer,
  ONBOARDED_PATH,
  WEBHOOK_PATH,
  type TriggerLogger,
  type TriggerServer,
} from '../src/trigger/trigger-server';
import { webhookSignature } from '../src/trigger/webhook-signature';
import { workflowIdFor } from '../src/workflows/messages';
import { runsOf, startFixtureWorker, type FixtureWorker } from './fixtures/fixture-worker';
import { fixtureInputQuery } from './fixtures/starter-workflows';
import { sandboxGraphClient } from './support/sandbox-graph-client';
import { onboardingExists } from './support/workflow-polling';
import { checkHostileRequest, type HostileRequest } from './support/hostile-requests';
import { httpRequest, rawRequest } from './support/raw-http';
import { transportLimitTests } from './support/transport-limit-tests';

const secrets = {
  sharedSecret: `shared-${randomBytes(16).toString('hex')}`,
  appSecret: `app-${randomBytes(16).toString('hex')}`,
  verifyToken: `verify-${randomBytes(8).toString('hex')}`,
};
const WRONG_BEARER = `wrong-${randomBytes(12).toString('hex')}`;
/** The default, so the half-megabyte field below reaches validation. */
const MAX_BODY_BYTES = 1024 * 1024;

interface LogEntry {
  level: string;
  message: string;
  attrs: Record<string, unknown> | undefined;
}

function recordingLogger(into: LogEntry[]): TriggerLogger {
  const add = (level: string) => (message: string, attrs?: Record<string, unknown>) =>
    into.push({ level, message, attrs });
  return { info: add('info'), warn: add('warn'), error: add('error') };
}
const asLines = (entries: LogEntry[]) =>
  entries.map((e) => `${e.level} ${e.message} ${JSON.stringify(e.attrs ?? {})}`);

let fx: FixtureWorker;
let sandbox: GraphSandbox;
const logged: LogEntry[] = [];
/** Workflow ids legitimate requests of this file started; the namespace must hold no others. */
const expectedStarts = new Set<string>();

function id(kind: string): string {
  return `${kind}${Date.now()}${randomInt(1_000_000).toString().padStart(6, '0')}`;
}

function startTrigger(limits?: Partial<HttpServerLimits>, log: TriggerLogger = recordingLogger(logged)) {
  return createTriggerServer({
    client: fx.client,
    graph: sandboxGraphClient(sandbox),
    secrets,
    maxBodyBytes: MAX_BODY_BYTES,
    log,
    ...(limits ? { limits } : {}),
  });
}

const bearer = (token = secrets.sharedSecret) => ({ Authorization: `Bearer ${token}` });
const json = { 'Content-Type': 'application/json' };
const signed = (body: string) => ({
  ...json,
  'X-Hub-Signature-256': webhookSignature(body, secrets.appSecret),
});

function partnerAdded(changes: Array<{ wabaId: unknown; owner?: unknown }>): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: changes.map((c) => ({
      id: typeof c.wabaId === 'string' ? c.wabaId : '0',
      time: Math.floor(Date.now() / 1000),
      changes: [
        {
          field: 'account_update',
          value: {
            event: 'PARTNER_ADDED',
            waba_info: {
              waba_id: c.wabaId,
              ...(c.owner !== undefined ? { owner_business_id: c.owner } : {}),
            },
          },
        },
      ],
    })),
  });
}

const exists = (phoneNumberId: string) => onboardingExists(fx.client, phoneNumberId);

async function workflowIdsInNamespace(): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const info of fx.client.workflow.list()) ids.add(info.workflowId);
  return ids;
}

beforeAll(async () => {
  fx = await startFixtureWorker({ namespace: 'trigger-hostile' });
  sandbox = await startGraphSandbox({});
});

afterAll(async () => {
  await sandbox?.close();
  await fx?.stop();
});

/** A request naming this phone-number id must not have started it. */
const notStarted = (phoneNumberId: string) => async () => expect(await exists(phoneNumberId)).toBe(false);

const pid = id('1');
const longId = '7'.repeat(512_000 - 20) + 'x'.repeat(20);
const unknownFields = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`f${i}\n`, i]));
const uncheckedWebhook = partnerAdded([{ wabaId: '4455667788' }]);
const rows: HostileRequest[] = [
  // Credentials: refused before the body is read, the connection closed, nothing started.
  ...[
    ['no Authorization', {}],
    ['a wrong bearer', bearer(WRONG_BEARER)],
    ['the secret under Basic', { Authorization: `Basic ${secrets.sharedSecret}` }],
    ['the secret with a suffix', bearer(`${secrets.sharedSecret}x`)],
  ].map(([what, auth]): HostileRequest => ({
    name: `POST /onboarded with ${what as string}`,
    request: () =>
      httpRequest(
        'POST',
        ONBOARDED_PATH,
        { ...json, ...(auth as object) },
        JSON.stringify({ phoneNumberId: pid }),
      ),
    status: 401,
    closes: true,
    headers: { 'www-authenticate': 'Bearer' },
    after: notStarted(pid),
  })),
  {
    name: 'POST /onboarded with a wrong bearer and an 8 MB body: refused unread',
    request: () =>
      httpRequest('POST', ONBOARDED_PATH, {
        ...json,
        ...bearer(WRONG_BEARER),
        'Content-Length': String(8 << 20),
      }),
    streamChunk: Buffer.alloc(64 * 1024, 0x20),
    status: 401,
    closes: true,
  },
  // Bodies the trigger will not read or cannot use.
  {
    name: 'POST /onboarded as text/plain',
    request: () =>
      httpRequest(
        'POST',
        ONBOARDED_PATH,
        { ...bearer(), 'Content-Type': 'text/plain' },
        JSON.stringify({ phoneNumberId: pid }),
      ),
    status: 415,
    closes: true,
    after: notStarted(pid),
  },
  {
    name: 'POST /onboarded without a Content-Type',
    request: () => httpRequest('POST', ONBOARDED_PATH, bearer(), JSON.stringify({ phoneNumberId: pid })),
    status: 415,
    closes: true,
    after: notStarted(pid),
  },
  {
    name: 'POST /onboarded declaring 2 MiB (limit 1 MiB)',
    request: () =>
      httpRequest('POST', ONBOARDED_PATH, { ...bearer(), ...json, 'Content-Length': String(2 << 20) }),
    streamChunk: Buffer.alloc(64 * 1024, 0x20),
    status: 413,
    closes: true,
  },
  {
    name: 'POST /onboarded chunked, without end: cut at the limit',
    request: () =>
      httpRequest('POST', ONBOARDED_PATH, { ...bearer(), ...json, 'Transfer-Encoding': 'chunked' }),
    streamChunk: Buffer.from(`10000\r\n${' '.repeat(0x10000)}\r\n`),
    status: 413,
    closes: true,
  },
  {
    name: 'POST /onboarded that is not JSON',
    request: () => httpRequest('POST', ONBOARDED_PATH, { ...bearer(), ...json }, '{"phoneNumberId":\n"1'),
    status: 400,
    body: /MalformedBody/,
  },
  {
    name: 'POST /onboarded with a 512,000-character phoneNumberId: quoted short',
    request: () =>
      httpRequest(
        'POST',
        ONBOARDED_PATH,
        { ...bearer(), ...json },
        JSON.stringify({ phoneNumberId: longId }),
      ),
    status: 400,
    maxBodyChars: 400,
    body: /\.\.\. \(512000 characters\)/,
  },
  {
    name: 'POST /onboarded with a newline and quotes in phoneNumberId: escaped',
    request: () =>
      httpRequest(
        'POST',
        ONBOARDED_PATH,
        { ...bearer(), ...json },
        JSON.stringify({ phoneNumberId: '12\nINFO forged "line"' }),
      ),
    status: 400,
    reason: 'phoneNumberId "12\\nINFO forged \\"line\\"" is not a phone-number id',
  },
  {
    name: 'POST /onboarded with 1,000 unknown fields: five named',
    request: () =>
      httpRequest(
        'POST',
        ONBOARDED_PATH,
        { ...bearer(), ...json },
        JSON.stringify({ phoneNumberId: pid, ...unknownFields }),
      ),
    status: 400,
    body: /and 995 more/,
    maxBodyChars: 400,
    after: notStarted(pid),
  },
  ...[
    '[acme](https://evil.example)',
    '<img src=x onerror=alert(1)>',
    'see `rm -rf`',
    'https://evil.example',
  ].map((tenant): HostileRequest => ({
    name: `POST /onboarded with tenant ${JSON.stringify(tenant)}`,
    request: () =>
      httpRequest(
        'POST',
        ONBOARDED_PATH,
        { ...bearer(), ...json },
        JSON.stringify({ phoneNumberId: pid, tenant }),
      ),
    status: 400,
    body: /tenant .* holds markup/,
    after: notStarted(pid),
  })),
  // Methods and paths.
  {
    name: 'GET /onboarded',
    request: () => httpRequest('GET', ONBOARDED_PATH),
    status: 405,
    headers: { allow: 'POST' },
  },
  {
    name: 'PUT /webhooks/whatsapp',
    request: () => httpRequest('PUT', WEBHOOK_PATH, json, '{}'),
    status: 405,
    headers: { allow: 'GET, POST' },
  },
  ...[
    '/webhooks/whatsapp/%2e%2e/%2e%2e/onboarded',
    '/webhooks/whatsapp/../../onboarded',
    '/webhooks/whatsapp/%2E%2E/%2e%2E/onboarded',
    '/x/./../onboarded',
    '//onboarded',
    'http://evil.example/onboarded',
  ].map((target): HostileRequest => ({
    name: `POST ${target} with the right bearer: refused, not routed`,
    request: () =>
      httpRequest('POST', target, { ...bearer(), ...json }, JSON.stringify({ phoneNumberId: pid })),
    status: 400,
    body: /NonCanonicalPath/,
    after: notStarted(pid),
  })),
  ...['/onboarded/', '/Onboarded', '/onboarded%2F', '/onboarded;x'].map((target): HostileRequest => ({
    name: `POST ${target}`,
    request: () =>
      httpRequest('POST', target, { ...bearer(), ...json }, JSON.stringify({ phoneNumberId: pid })),
    status: 404,
    after: notStarted(pid),
  })),
  {
    name: 'GET a 6,000-character path: quoted short',
    request: () => httpRequest('GET', `/${'p'.repeat(6_000)}`),
    status: 404,
    maxBodyChars: 300,
  },
  // Meta's signatures.
  {
    name: 'webhook without a signature',
    request: () => httpRequest('POST', WEBHOOK_PATH, json, uncheckedWebhook),
    status: 401,
    body: /BadSignature/,
  },
  ...[
    ['under another key', webhookSignature(uncheckedWebhook, 'not-the-app-secret')],
    ['of other bytes', webhookSignature(`${uncheckedWebhook} `, secrets.appSecret)],
    ['not hex', `sha256=${'z'.repeat(64)}`],
    ['too short', 'sha256=abcd'],
    ['as sha1', `sha1=${'a'.repeat(40)}`],
    ['empty', ''],
  ].map(([what, signature]): HostileRequest => ({
    name: `webhook with a signature ${what}`,
    request: () =>
      httpRequest(
        'POST',
        WEBHOOK_PATH,
        { ...json, 'X-Hub-Signature-256': signature ?? '' },
        uncheckedWebhook,
      ),
    status: 401,
  })),
  {
    name: 'webhook with the signature twice',
    request: () => {
      const sig = webhookSignature(uncheckedWebhook, secrets.appSecret);
      return Buffer.from(
        httpRequest('POST', WEBHOOK_PATH, { ...json, 'X-Hub-Signature-256': sig }, uncheckedWebhook)
          .toString('latin1')
          .replace('\r\n\r\n', `\r\nX-Hub-Signature-256: ${sig}\r\n\r\n`),
        'latin1',
      );
    },
    status: 401,
  },
  {
    name: 'webhook over the body limit',
    request: () =>
      httpRequest('POST', WEBHOOK_PATH, { ...json, 'Content-Length': String(MAX_BODY_BYTES + 1) }),
    streamChunk: Buffer.alloc(16 * 1024, 0x20),
    status: 413,
    closes: true,
  },
  {
    name: 'webhook signed but not JSON',
    request: () => httpRequest('POST', WEBHOOK_PATH, signed('not json\n'), 'not json\n'),
    status: 400,
    body: /MalformedBody/,
  },
  {
    name: 'webhook signed but not a notification',
    request: () => httpRequest('POST', WEBHOOK_PATH, signed('{"object":"x"}'), '{"object":"x"}'),
    status: 400,
  },
  {
    name: 'webhook signed in upper-case hex, of another event: accepted',
    request: () => {
      const body = JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [{ id: '1', changes: [{ field: 'account_update', value: { event: 'PARTNER_REMOVED' } }] }],
      });
      const sig = `sha256=${webhookSignature(body, secrets.appSecret).slice(7).toUpperCase()}`;
      return httpRequest('POST', WEBHOOK_PATH, { ...json, 'X-Hub-Signature-256': sig }, body);
    },
    status: 200,
    body: /"onboarded":\[\]/,
  },
  // The subscription handshake reflects digits only.
  {
    name: 'hub.challenge of digits',
    request: () =>
      httpRequest(
        'GET',
        `${WEBHOOK_PATH}?hub.mode=subscribe&hub.verify_token=${secrets.verifyToken}&hub.challenge=1158201444`,
      ),
    status: 200,
    headers: { 'content-type': /^text\/plain/, 'x-content-type-options': 'nosniff' },
    body: /^1158201444$/,
  },
  ...[
    ['HTML', encodeURIComponent('<script>alert(1)</script>')],
    ['CRLF and a header', '1%0d%0aSet-Cookie:%20x=1'],
    ['7,000 digits', '9'.repeat(7_000)],
    ['nothing', ''],
  ].map(([what, challenge]): HostileRequest => ({
    name: `hub.challenge of ${what}`,
    request: () =>
      httpRequest(
        'GET',
        `${WEBHOOK_PATH}?hub.mode=subscribe&hub.verify_token=${secrets.verifyToken}&hub.challenge=${challenge}`,
      ),
    status: 400,
    body: /BadChallenge/,
    maxBodyChars: 200,
  })),
  {
    name: 'hub.verify_token wrong',
    request: () =>
      httpRequest('GET', `${WEBHOOK_PATH}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1`),
    status: 403,
  },
  { name: 'GET /healthz', request: () => httpRequest('GET', '/healthz'), status: 200 },
];

describe('trigger: hostile and malformed requests', () => {
  let trigger: TriggerServer;
  let port: number;

  beforeAll(async () => {
    trigger = startTrigger();
    port = await trigger.listen(await freePort());
  });
  afterAll(async () => {
    await trigger?.close();
  });

  it.each(rows.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    await checkHostileRequest(port, row);
  });

  it('logs refused bearers and signatures, never the value presented, and no unexpected error', () => {
    const lines = asLines(logged).join('\n');
    expect(lines).toMatch(
      /onboarded request refused: missing or wrong bearer token.*"presented":"a wrong bearer token"/,
    );
    expect(lines).toMatch(/"presented":"none"/);
    expect(lines).toMatch(/"presented":"not a bearer token"/);
    expect(lines).toMatch(/webhook with a missing or wrong signature refused/);
    expect(lines).toMatch(/webhook verification refused: hub.challenge is not digits/);
    for (const secret of [WRONG_BEARER, secrets.sharedSecret, secrets.appSecret, secrets.verifyToken]) {
      expect(lines).not.toContain(secret);
    }
    expect(lines).not.toMatch(/unexpected/);
    for (const entry of logged) expect(JSON.stringify(entry.attrs ?? {}).length).toBeLessThan(2_000);
  });
});

describe('trigger: a poison PARTNER_ADDED', () => {
  it('gets 200, onboards the usable numbers under the WABA id, logs once in one escaped line, and a redelivery starts nothing twice', async () => {
    const wabas = [id('91'), id('92'), id('93')];
    const numbers = wabas.map((w, i) => [id(`${i + 1}`), id(`${i + 4}`)] as const);
    wabas.forEach((w, i) =>
      sandbox.addWaba(
        w,
        numbers[i]!.map((n) => ({ id: n })),
      ),
    );
    const longOwner = `${'5'.repeat(100)}${'b'.repeat(50)}`;
    const body = partnerAdded([
      { wabaId: wabas[0], owner: longOwner },
      { wabaId: wabas[1], owner: '1234\nERROR forged log line' },
      { wabaId: wabas[2], owner: '[Acme](https://evil.example)' },
      { wabaId: 'not-a-waba\n' },
    ]);
    const entries: LogEntry[] = [];
    const trigger = startTrigger(undefined, recordingLogger(entries));
    const port = await trigger.listen(await freePort());
    try {
      const first = await rawRequest(port, httpRequest('POST', WEBHOOK_PATH, signed(body), body), {
        firstAnswerOnly: true,
      });
      expect(first.status).toBe(200);
      const answer = JSON.parse(first.body) as {
        onboarded: Array<{ wabaId: string; numbers: Array<{ phoneNumberId: string; outcome: string }> }>;
        ignored: string[];
      };
      expect(answer.ignored).toHaveLength(4);
      expect(answer.onboarded.map((o) => o.wabaId)).toEqual(wabas);
      for (const [i, wabaId] of wabas.entries()) {
        const started = answer.onboarded[i]!.numbers;
        expect(started.map((n) => [n.phoneNumberId, n.outcome])).toEqual(
          numbers[i]!.map((n) => [n, 'started']),
        );
        for (const n of numbers[i]!) {
          expectedStarts.add(workflowIdFor(n));
          const input = await fx.client.workflow.getHandle(workflowIdFor(n)).query(fixtureInputQuery);
          expect(input).toMatchObject({ phoneNumberId: n, wabaId, tenant: wabaId });
        }
      }

      const setAside = entries.filter((e) => /set aside/.test(e.message));
      expect(setAside).toHaveLength(1);
      const line = asLines(setAside)[0]!;
      const problems = String(setAside[0]!.attrs?.problems);
      expect(setAside[0]!.attrs?.count).toBe(4);
      expect(problems).not.toMatch(/[\n\r]/);
      expect(problems).toContain(`"${'5'.repeat(64)}"... (150 characters)`);
      expect(problems).toContain('"1234\\nERROR forged log line"');
      expect(problems).toContain('"[Acme](https://evil.example)"');
      expect(problems).toContain('waba_id "not-a-waba\\n" is not a WABA id');
      expect(line).not.toContain(longOwner);
      expect(line.length).toBeLessThan(1_500);
      expect(trigger.stats().webhookPartsIgnored).toBe(4);

      const again = await rawRequest(port, httpRequest('POST', WEBHOOK_PATH, signed(body), body), {
        firstAnswerOnly: true,
      });
      expect(again.status).toBe(200);
      const redelivered = JSON.parse(again.body) as typeof answer;
      for (const o of redelivered.onboarded) {
        for (const n of o.numbers) expect(['already-running', 'already-completed']).toContain(n.outcome);
      }
      expect(entries.filter((e) => /set aside/.test(e.message))).toHaveLength(2);
      for (const n of numbers.flat()) {
        let runs = await runsOf(fx.client, workflowIdFor(n));
        for (let i = 0; runs.length === 0 && i < 50; i++) {
          await sleep(100);
          runs = await runsOf(fx.client, workflowIdFor(n));
        }
        expect(runs).toHaveLength(1);
      }
    } finally {
      await trigger.close();
    }
  });

  it('still answers 503 when Graph cannot list the WABA, so Meta delivers again', async () => {
    const body = partnerAdded([{ wabaId: id('94'), owner: '1' }]);
    const trigger = startTrigger();
    const port = await trigger.listen(await freePort());
    try {
      const answer = await rawRequest(port, httpRequest('POST', WEBHOOK_PATH, signed(body), body), {
        firstAnswerOnly: true,
      });
      expect(answer.status).toBe(503);
      expect(answer.body).toMatch(/NotHandedOver/);
    } finally {
      await trigger.close();
    }
  });
});

describe('trigger: nothing refused was started', () => {
  it('holds exactly the workflows the legitimate requests started', async () => {
    // Visibility trails the starts a little: wait for the expected ones, then look once more.
    let ids = await workflowIdsInNamespace();
    for (let i = 0; i < 50 && [...expectedStarts].some((w) => !ids.has(w)); i++) {
      await sleep(100);
      ids = await workflowIdsInNamespace();
    }
    await sleep(500);
    ids = await workflowIdsInNamespace();
    expect([...ids].sort()).toEqual([...expectedStarts].sort());
  });
});

transportLimitTests({
  async start(limits) {
    const lines: LogEntry[] = [];
    const trigger = startTrigger(limits, recordingLogger(lines));
    const port = await trigger.listen(await freePort());
    return { port, logLines: () => asLines(lines), close: () => trigger.close() };
  },
  probe: httpRequest('GET', '/healthz'),
  probeStatus: 200,
  bodyRequestHead: (length) =>
    httpRequest('POST', ONBOARDED_PATH, { ...bearer(), ...json, 'Content-Length': String(length) }),
});
