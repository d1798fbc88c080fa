// The Graph sandbox on its own, over plain HTTP: Meta's shapes, the inspection and control endpoints,
// scenario parsing, and the CLI as a separate process (start, answer, stop on SIGTERM, busy port).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/env-reader';
import { SANDBOX_ACCESS_TOKEN } from '../src/graph/graph-config';
import { freePort } from '../src/local-stack/processes';
import {
  loadScenarioFile,
  parseScenario,
  parseScenarioMap,
  planFault,
  ScenarioError,
  scenariosFromEnv,
  type Scenario,
} from '../src/graph-sandbox/scenarios';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';
import { runTsx, type CapturedProcess } from './support/process-runner';
import { readAnswer, type HttpAnswer } from './support/http-answer';

const TOKEN = 'sandbox-test-token-5d1e';
const NUMBER = '109876543210987';

let sandbox: GraphSandbox;
let agent: Agent;
const logLines: string[] = [];

async function call(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  opts: { token?: string | null; body?: unknown; rawBody?: string; contentType?: string; base?: string } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const body = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  const res = await request(`${opts.base ?? sandbox.url}${path}`, {
    method,
    headers,
    body,
    dispatcher: agent,
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  return readAnswer(res);
}

function graphError(answer: HttpAnswer): Record<string, unknown> {
  const error = answer.json().error as Record<string, unknown> | undefined;
  expect(error).toBeDefined();
  expect(typeof error?.fbtrace_id).toBe('string');
  expect(typeof error?.message).toBe('string');
  expect(typeof error?.type).toBe('string');
  return error ?? {};
}

beforeAll(async () => {
  sandbox = await startGraphSandbox({ accessToken: TOKEN, log: (line) => logLines.push(line) });
  agent = new Agent();
});

afterAll(async () => {
  await agent?.close();
  await sandbox?.close();
});

beforeEach(() => sandbox.reset());

describe('Graph endpoints', () => {
  it('listens on loopback only, on a free port', () => {
    expect(sandbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sandbox.port).toBeGreaterThan(0);
  });

  it('sets a PIN: {"success":true}, stored exactly', async () => {
    const answer = await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '000123' } });
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ success: true });
    expect(answer.headers['x-fb-trace-id']).toBeTruthy();
    expect(sandbox.pinOf(NUMBER)).toBe('000123');
  });

  it('accepts the token as access_token query parameter, as Meta does', async () => {
    const answer = await call('POST', `/v24.0/${NUMBER}?access_token=${TOKEN}`, {
      token: null,
      body: { pin: '121212' },
    });
    expect(answer.status).toBe(200);
    // The request log keeps the path without its query (and so without the token).
    expect(sandbox.requests()[0]?.path).toBe(`/v24.0/${NUMBER}`);
  });

  it.each([
    ['missing', null],
    ['wrong', 'not-the-token'],
  ])('a %s token: code 190, HTTP 401, PIN untouched', async (_what, token) => {
    const answer = await call('POST', `/v25.0/${NUMBER}`, { token, body: { pin: '123456' } });
    expect(answer.status).toBe(401);
    const error = graphError(answer);
    expect(error.code).toBe(190);
    expect(error.type).toBe('OAuthException');
    expect(sandbox.pinOf(NUMBER)).toBeUndefined();
  });

  it.each(['v25', '25.0', 'latest', 'v25.0.1'])('a malformed version (%s) is refused', async (version) => {
    const answer = await call('POST', `/${version}/${NUMBER}`, { body: { pin: '123456' } });
    expect(answer.status).toBe(400);
    expect(graphError(answer).code).toBe(2500);
    expect(sandbox.pinOf(NUMBER)).toBeUndefined();
  });

  it.each([
    ['a number instead of a string', { pin: 123456 }],
    ['five digits', { pin: '12345' }],
    ['seven digits', { pin: '1234567' }],
    ['letters', { pin: '12a456' }],
    ['no pin at all', { other: 'x' }],
  ])('refuses %s with code 100', async (_what, body) => {
    const answer = await call('POST', `/v25.0/${NUMBER}`, { body });
    expect(answer.status).toBe(400);
    const error = graphError(answer);
    expect(error.code).toBe(100);
    expect(sandbox.pinOf(NUMBER)).toBeUndefined();
    expect(sandbox.numberState(NUMBER).posts).toBe(1);
  });

  it('refuses a body that is not JSON', async () => {
    const answer = await call('POST', `/v25.0/${NUMBER}`, {
      rawBody: '{pin:',
      contentType: 'application/json',
    });
    expect(graphError(answer).code).toBe(100);
  });

  it('accepts a form-encoded pin (Meta takes both)', async () => {
    const answer = await call('POST', `/v25.0/${NUMBER}`, {
      rawBody: 'pin=098765',
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(answer.status).toBe(200);
    expect(sandbox.pinOf(NUMBER)).toBe('098765');
  });

  it('an id that is not digits: code 803, HTTP 404', async () => {
    const answer = await call('POST', '/v25.0/acme-phone', { body: { pin: '123456' } });
    expect(answer.status).toBe(404);
    expect(graphError(answer).code).toBe(803);
  });

  it('GET /{version}/{id} describes the number and never shows the PIN', async () => {
    await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '314159' } });
    const answer = await call('GET', `/v25.0/${NUMBER}`);
    expect(answer.status).toBe(200);
    expect(answer.json()).toMatchObject({ id: NUMBER, code_verification_status: 'VERIFIED' });
    expect(answer.text).not.toContain('314159');
    const some = await call('GET', `/v25.0/${NUMBER}?fields=display_phone_number`);
    expect(Object.keys(some.json()).sort()).toEqual(['display_phone_number', 'id']);
  });

  it('an unsupported method is refused like Meta does', async () => {
    const answer = await call('DELETE', `/v25.0/${NUMBER}`);
    expect(answer.status).toBe(400);
    expect(graphError(answer).code).toBe(100);
  });
});

describe('inspection and the request log', () => {
  it('GET /_sandbox/numbers/{id} shows pin, pinSetAt and posts', async () => {
    const empty = (await call('GET', `/_sandbox/numbers/${NUMBER}`)).json();
    expect(empty).toMatchObject({ pin: null, pinSetAt: null, posts: 0 });
    await call('POST', `/v25.0/${NUMBER}`, { body: { pin: 1 } });
    await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '271828' } });
    const state = (await call('GET', `/_sandbox/numbers/${NUMBER}`)).json();
    expect(state).toMatchObject({ id: NUMBER, pin: '271828', posts: 2, pinSets: 1 });
    expect(Date.parse(state.pinSetAt as string)).not.toBeNaN();
  });

  it('the request log names method, path, number and status, never the token or the PIN', async () => {
    await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '161803' } });
    await call('POST', `/v25.0/${NUMBER}`, { token: 'leaked-token-xyz', body: { pin: '161803' } });
    const answer = await call('GET', '/_sandbox/requests');
    const { requests } = answer.json() as { requests: Array<Record<string, unknown>> };
    expect(requests).toHaveLength(2);
    expect(requests[0]).toMatchObject({
      method: 'POST',
      path: `/v25.0/${NUMBER}`,
      phoneNumberId: NUMBER,
      status: 200,
    });
    expect(requests[1]).toMatchObject({ status: 401, graphCode: 190 });
    expect(Date.parse(requests[0]?.at as string)).not.toBeNaN();
    for (const text of [answer.text, JSON.stringify(sandbox.requests()), ...logLines]) {
      expect(text).not.toContain('161803');
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain('leaked-token-xyz');
    }
    expect(logLines.some((line) => line.includes(`POST /v25.0/${NUMBER} -> 200`))).toBe(true);
  });

  it('control calls stay out of the Graph request log', async () => {
    await call('GET', `/_sandbox/numbers/${NUMBER}`);
    expect(sandbox.requests()).toHaveLength(0);
    expect((await call('GET', '/_sandbox/nothing-here')).status).toBe(404);
  });
});

describe('scenarios through the control endpoint', () => {
  it('PUT sets a scenario for N requests, then the number behaves normally', async () => {
    const put = await call('PUT', `/_sandbox/scenarios/${NUMBER}`, {
      body: { kind: 'throttled', times: 2, code: 80007, regainAccessMinutes: 3 },
    });
    expect(put.status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const answer = await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '123123' } });
      expect(answer.status).toBe(400);
      expect(graphError(answer).code).toBe(80007);
      const usage = JSON.parse(String(answer.headers['x-business-use-case-usage'])) as Record<
        string,
        Array<{ estimated_time_to_regain_access: number }>
      >;
      expect(Object.values(usage)[0]?.[0]?.estimated_time_to_regain_access).toBe(3);
    }
    expect((await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '123123' } })).status).toBe(200);
    expect(sandbox.requests().map((r) => r.fault)).toEqual(['throttled 80007', 'throttled 80007', undefined]);
  });

  it('DELETE clears a scenario', async () => {
    await call('PUT', `/_sandbox/scenarios/${NUMBER}`, { body: { kind: 'expiredToken' } });
    expect((await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '123123' } })).status).toBe(401);
    expect((await call('DELETE', `/_sandbox/scenarios/${NUMBER}`)).status).toBe(200);
    expect((await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '123123' } })).status).toBe(200);
  });

  it('an invalid scenario is refused with a clear message', async () => {
    const answer = await call('PUT', `/_sandbox/scenarios/${NUMBER}`, {
      body: { kind: 'throttled', tims: 2 },
    });
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('unknown field \\"tims\\"');
    const badKey = await call('PUT', '/_sandbox/scenarios/abc', { body: { kind: 'html502' } });
    expect(badKey.status).toBe(400);
  });

  it('the "*" scenario applies to every number, a number\'s own scenario wins, counted per number', async () => {
    sandbox.setScenario('*', { kind: 'serverError', code: 133004, times: 1 });
    sandbox.setScenario('222', { kind: 'accountLocked' });
    const first = await call('POST', '/v25.0/111', { body: { pin: '123456' } });
    expect(first.status).toBe(503);
    expect(graphError(first).code).toBe(133004);
    expect((await call('POST', '/v25.0/111', { body: { pin: '123456' } })).status).toBe(200);
    // Another number gets its own fault from '*'.
    expect((await call('POST', '/v25.0/333', { body: { pin: '123456' } })).status).toBe(503);
    const locked = await call('POST', '/v25.0/222', { body: { pin: '123456' } });
    expect(locked.status).toBe(403);
    expect(graphError(locked).code).toBe(131031);
  });

  it('html502 and connectionReset', async () => {
    sandbox.setScenario(NUMBER, { kind: 'html502', times: 1 });
    const html = await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '123456' } });
    expect(html.status).toBe(502);
    expect(html.headers['content-type']).toContain('text/html');
    expect(html.text).toContain('<html>');
    sandbox.setScenario(NUMBER, { kind: 'connectionReset', times: 1 });
    await expect(call('POST', `/v25.0/${NUMBER}`, { body: { pin: '123456' } })).rejects.toMatchObject({
      code: expect.stringMatching(/UND_ERR_SOCKET|ECONNRESET/) as unknown,
    });
    expect((await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '123456' } })).status).toBe(200);
  });

  it("graphError injects any code with Meta's HTTP status for it", async () => {
    sandbox.setScenario(NUMBER, { kind: 'graphError', code: 133008, times: 1 });
    const answer = await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '123456' } });
    expect(answer.status).toBe(400);
    const error = graphError(answer);
    expect(error.code).toBe(133008);
    expect((error.error_data as { details?: string }).details).toMatch(/\d+ hours/);
    sandbox.setScenario(NUMBER, { kind: 'graphError', code: 10 });
    expect((await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '123456' } })).status).toBe(403);
  });

  it('transientUnknown carries is_transient: true', async () => {
    sandbox.setScenario(NUMBER, { kind: 'transientUnknown' });
    const error = graphError(await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '123456' } }));
    expect(error.is_transient).toBe(true);
  });

  it('reset forgets PINs, the log and runtime scenarios', async () => {
    sandbox.setScenario(NUMBER, { kind: 'expiredToken' });
    await call('POST', '/v25.0/555', { body: { pin: '123456' } });
    expect((await call('POST', '/_sandbox/reset')).status).toBe(200);
    expect(sandbox.pinOf('555')).toBeUndefined();
    expect(sandbox.requests()).toHaveLength(0);
    expect(sandbox.scenarios()).toEqual({});
  });
});

describe('registration', () => {
  const FRESH = '109876543210111';
  const register = (id: string, pin: string, extra: Record<string, unknown> = {}) =>
    call('POST', `/v25.0/${id}/register`, { body: { messaging_product: 'whatsapp', pin, ...extra } });

  it('a number fresh from signup is not on Cloud API: POST /{id} answers 133010, GET says so', async () => {
    sandbox.setupNumber(FRESH, { registered: false });
    const setPin = await call('POST', `/v25.0/${FRESH}`, { body: { pin: '123456' } });
    expect(setPin.status).toBe(400);
    expect(graphError(setPin).code).toBe(133010);
    const read = await call('GET', `/v25.0/${FRESH}?fields=platform_type,status,code_verification_status`);
    expect(read.json()).toEqual({
      id: FRESH,
      platform_type: 'NOT_APPLICABLE',
      status: 'PENDING',
      code_verification_status: 'VERIFIED',
    });
  });

  it('/register with a PIN registers the number and makes that PIN its two-step PIN', async () => {
    sandbox.setupNumber(FRESH, { registered: false });
    const answer = await register(FRESH, '246810');
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ success: true });
    expect(sandbox.numberState(FRESH)).toMatchObject({ registered: true, pin: '246810', registerCalls: 1 });
    expect((await call('GET', `/v25.0/${FRESH}?fields=platform_type`)).json().platform_type).toBe(
      'CLOUD_API',
    );
    // Now the two-step endpoint works, and /register must match the PIN it holds.
    expect((await call('POST', `/v25.0/${FRESH}`, { body: { pin: '135790' } })).status).toBe(200);
    const mismatch = await register(FRESH, '246810');
    expect(graphError(mismatch).code).toBe(133005);
    expect((await register(FRESH, '135790')).status).toBe(200);
  });

  it('a two-step PIN set by hand must be matched (133005); an unverified number gets 133006', async () => {
    sandbox.setupNumber(FRESH, { registered: false, twoStepPin: '111222' });
    expect(graphError(await register(FRESH, '999000')).code).toBe(133005);
    expect(sandbox.numberState(FRESH)).toMatchObject({ registered: false, pin: '111222' });
    sandbox.setupNumber(FRESH, { registered: false, verified: false });
    const unverified = await register(FRESH, '999000');
    expect(unverified.status).toBe(400);
    expect(graphError(unverified).code).toBe(133006);
    expect(
      (await call('GET', `/v25.0/${FRESH}?fields=code_verification_status`)).json().code_verification_status,
    ).toBe('NOT_VERIFIED');
  });

  it("Meta's budget: 10 register/deregister calls in 72 h, then 133016 and 72 h blocked", async () => {
    sandbox.setupNumber(FRESH, { registered: false });
    for (let i = 0; i < 5; i++) {
      expect((await register(FRESH, '808080')).status).toBe(200);
      expect((await call('POST', `/v25.0/${FRESH}/deregister`)).status).toBe(200);
    }
    expect(sandbox.numberState(FRESH)).toMatchObject({ registrationCallsInWindow: 10, registered: false });
    const spent = await register(FRESH, '808080');
    expect(graphError(spent).code).toBe(133016);
    expect(sandbox.numberState(FRESH).registrationBlockedUntil).not.toBeNull();
    // Still blocked 71 hours on, even though the first calls left the window; free after 72 hours.
    sandbox.advanceClock(71 * 3_600_000);
    expect(graphError(await register(FRESH, '808080')).code).toBe(133016);
    sandbox.advanceClock(3_600_000);
    expect((await register(FRESH, '808080')).status).toBe(200);
  });

  it('a budget spent elsewhere, set up through the control API', async () => {
    const setup = await call('PUT', `/_sandbox/numbers/${FRESH}`, {
      token: null,
      body: { registered: false, recentRegistrationCalls: 10 },
    });
    expect(setup.json()).toMatchObject({ registered: false, registrationCallsInWindow: 10 });
    expect(graphError(await register(FRESH, '121314')).code).toBe(133016);
    const bad = await call('PUT', `/_sandbox/numbers/${FRESH}`, { token: null, body: { registred: false } });
    expect(bad.status).toBe(400);
    expect(bad.json().reason).toContain('unknown field "registred"');
    const clock = await call('POST', '/_sandbox/clock', { token: null, body: { advanceMs: -1 } });
    expect(clock.status).toBe(400);
  });

  it('refuses a register body without messaging_product "whatsapp" or with a numeric PIN', async () => {
    sandbox.setupNumber(FRESH, { registered: false });
    expect(graphError(await register(FRESH, '123456', { messaging_product: 'sms' })).code).toBe(100);
    const numeric = await call('POST', `/v25.0/${FRESH}/register`, {
      body: { messaging_product: 'whatsapp', pin: 123456 },
    });
    expect(graphError(numeric).code).toBe(100);
    expect(sandbox.numberState(FRESH).registered).toBe(false);
  });

  // A scenario template for every registration code the product maps, with Meta's HTTP status.
  it.each([
    [133000, 500],
    [133005, 400],
    [133006, 400],
    [133008, 400],
    [133009, 400],
    [133010, 400],
    [133015, 400],
    [133016, 400],
    [131031, 403],
    [131045, 500],
    [131057, 500],
    [2494100, 400],
  ] as const)(
    'registration scenario %i answers /register with HTTP %i, other endpoints normally',
    async (code, status) => {
      sandbox.setScenario(NUMBER, { kind: 'registration', code, times: 1 });
      expect((await call('POST', `/v25.0/${NUMBER}`, { body: { pin: '565656' } })).status).toBe(200);
      const answer = await register(NUMBER, '565656');
      expect(answer.status).toBe(status);
      const error = graphError(answer);
      expect(error.code).toBe(code);
      expect((error.error_data as { details?: string } | undefined)?.details).toBeTruthy();
      // Served once: the next /register is Meta's normal answer.
      expect((await register(NUMBER, '565656')).status).toBe(200);
    },
  );

  it.each([
    [80008, 400],
    [131005, 403],
  ] as const)('code %i has a template too (HTTP %i), through graphError', async (code, status) => {
    sandbox.setScenario(NUMBER, { kind: 'graphError', code, endpoint: 'register' });
    const answer = await register(NUMBER, '575757');
    expect(answer.status).toBe(status);
    expect(graphError(answer).code).toBe(code);
  });

  it('unconfirmedSuccess answers 200 without {"success":true}', async () => {
    sandbox.setScenario(NUMBER, { kind: 'unconfirmedSuccess', body: 'ok', endpoint: 'register', times: 1 });
    const answer = await register(NUMBER, '585858');
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('ok');
    expect(parseScenario({ kind: 'registration', code: 133016 })).toEqual({
      kind: 'registration',
      code: 133016,
    });
    expect(() => parseScenario({ kind: 'registration', code: 190 })).toThrow(/must be one of 133000/);
    expect(() => parseScenario({ kind: 'expiredToken', endpoint: 'everywhere' })).toThrow(
      /"endpoint" must be one of/,
    );
  });
});

describe('chaos', () => {
  const outcomes = (scenario: Scenario, id: string, n: number) =>
    Array.from(
      { length: n },
      (_, seen) => planFault(scenario, { objectId: id, usageKey: id, seen, served: 0 })?.label,
    );

  it('is reproducible from its seed and independent of other numbers', () => {
    const chaos: Scenario = { kind: 'chaos', probability: 0.5, seed: 42 };
    const a = outcomes(chaos, '100', 200);
    expect(outcomes(chaos, '100', 200)).toEqual(a);
    expect(outcomes({ ...chaos, seed: 43 }, '100', 200)).not.toEqual(a);
    const faults = a.filter((x) => x !== undefined).length;
    expect(faults).toBeGreaterThan(60);
    expect(faults).toBeLessThan(140);
    expect(new Set(a.filter((x) => x !== undefined)).size).toBeGreaterThan(3);
  });

  it('probability 0 never fails, 1 always fails, faults restricts the kinds', () => {
    expect(outcomes({ kind: 'chaos', probability: 0 }, '1', 50).every((x) => x === undefined)).toBe(true);
    const all = outcomes({ kind: 'chaos', probability: 1, faults: ['html502'] }, '1', 50);
    expect(all.every((x) => x === 'chaos: html 502')).toBe(true);
  });

  it('through the server, for every number under "*"', async () => {
    sandbox.setScenario('*', {
      kind: 'chaos',
      probability: 1,
      seed: 7,
      faults: ['serverError', 'throttled'],
    });
    for (const id of ['1001', '1002', '1003']) {
      const answer = await call('POST', `/v25.0/${id}`, { body: { pin: '123456' } });
      expect([400, 500, 503]).toContain(answer.status);
      expect([80007, 4, 131000, 133004]).toContain(graphError(answer).code);
    }
  });
});

describe('WABAs and phone_numbers', () => {
  it('POST /_sandbox/wabas/{id} defines numbers; the edge pages with cursors and no token in next', async () => {
    const numbers = ['401', '402', '403'].map((id) => ({ id, display_phone_number: `+1 555 0${id}` }));
    expect((await call('POST', '/_sandbox/wabas/900', { body: numbers })).status).toBe(200);
    const first = (await call('GET', '/v25.0/900/phone_numbers?limit=2')).json() as {
      data: Array<{ id: string; display_phone_number: string }>;
      paging: { next?: string; cursors: { after: string } };
    };
    expect(first.data.map((n) => n.id)).toEqual(['401', '402']);
    expect(first.data[0]?.display_phone_number).toBe('+1 555 0401');
    expect(first.paging.next).toBeDefined();
    expect(first.paging.next).not.toContain(TOKEN);
    const nextUrl = new URL(first.paging.next ?? '');
    const second = (await call('GET', `${nextUrl.pathname}${nextUrl.search}`)).json() as {
      data: Array<{ id: string }>;
      paging: { next?: string };
    };
    expect(second.data.map((n) => n.id)).toEqual(['403']);
    expect(second.paging.next).toBeUndefined();
  });

  it('accepts {phone_numbers:[...]} and refuses bad entries', async () => {
    expect(
      (await call('POST', '/_sandbox/wabas/901', { body: { phone_numbers: [{ id: '7' }] } })).status,
    ).toBe(200);
    expect((await call('POST', '/_sandbox/wabas/902', { body: [{ id: 7 }] })).status).toBe(400);
    expect((await call('POST', '/_sandbox/wabas/903', { body: { nope: 1 } })).status).toBe(400);
  });

  it("wabas given at start survive reset; a number's details come from its WABA", async () => {
    const local = await startGraphSandbox({
      wabas: { '77': [{ id: '5001', display_phone_number: '+44 20 7946 0001', verified_name: 'Tea Ltd' }] },
    });
    try {
      local.reset();
      const listed = await call('GET', '/v25.0/77/phone_numbers', {
        base: local.url,
        token: SANDBOX_ACCESS_TOKEN,
      });
      expect(listed.json()).toMatchObject({ data: [{ id: '5001', verified_name: 'Tea Ltd' }] });
      const info = await call('GET', '/v25.0/5001', { base: local.url, token: SANDBOX_ACCESS_TOKEN });
      expect(info.json()).toMatchObject({ display_phone_number: '+44 20 7946 0001' });
    } finally {
      await local.close();
    }
  });
});

describe('scenario parsing', () => {
  it('GRAPH_SANDBOX_SCENARIOS: a JSON object keyed by id or "*"', () => {
    const map = scenariosFromEnv({
      GRAPH_SANDBOX_SCENARIOS: JSON.stringify({
        '*': { kind: 'chaos', probability: 0.1, seed: 3 },
        '123': { kind: 'slow', delayMs: 250, times: 2 },
        '456': { kind: 'unknownNumber', code: 803 },
      }),
    });
    expect(map).toEqual({
      '*': { kind: 'chaos', probability: 0.1, seed: 3 },
      '123': { kind: 'slow', delayMs: 250, times: 2 },
      '456': { kind: 'unknownNumber', code: 803 },
    });
    expect(scenariosFromEnv({})).toBeUndefined();
  });

  it.each([
    ['not JSON', '{oops', /GRAPH_SANDBOX_SCENARIOS is not valid JSON/],
    ['an unknown kind', '{"1":{"kind":"flaky"}}', /"kind" must be one of/],
    ['a bad key', '{"abc":{"kind":"html502"}}', /key "abc"/],
    ['a list', '[1]', /must be a JSON object/],
    ['a wrong code for the kind', '{"1":{"kind":"throttled","code":190}}', /"code" for kind throttled/],
    ['times zero', '{"1":{"kind":"html502","times":0}}', /"times" must be a whole number/],
    ['slow without delay', '{"1":{"kind":"slow"}}', /"delayMs"/],
    ['chaos probability 2', '{"*":{"kind":"chaos","probability":2}}', /"probability"/],
  ])('GRAPH_SANDBOX_SCENARIOS with %s is a ConfigError naming the variable', (_what, value, pattern) => {
    let caught: unknown;
    try {
      scenariosFromEnv({ GRAPH_SANDBOX_SCENARIOS: value });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe('GRAPH_SANDBOX_SCENARIOS');
    expect((caught as Error).message).toMatch(pattern);
  });

  it('parseScenario names where the problem is', () => {
    expect(() => parseScenario({ kind: 'graphError' }, 'drill.json["9"]')).toThrow(
      /drill\.json\["9"\]: "code" is required/,
    );
    expect(() => parseScenarioMap({ '1': { kind: 'html502', extra: 1 } })).toThrow(ScenarioError);
  });

  it('loadScenarioFile reads a file and names it in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'graph-scenarios-'));
    try {
      const good = join(dir, 'good.json');
      writeFileSync(good, JSON.stringify({ '42': { kind: 'connectionReset', times: 1 } }));
      expect(loadScenarioFile(good)).toEqual({ '42': { kind: 'connectionReset', times: 1 } });
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, '{"42":');
      expect(() => loadScenarioFile(bad)).toThrow(/bad\.json is not valid JSON/);
      expect(() => loadScenarioFile(join(dir, 'missing.json'))).toThrow(
        /cannot read scenarios file .*missing\.json/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the CLI (npm run graph-sandbox)', () => {
  const running: CapturedProcess[] = [];
  let holder: Server | undefined;

  interface Run {
    proc: CapturedProcess;
    /** stdout then stderr. */
    output: () => string;
    exited: Promise<number | NodeJS.Signals>;
  }

  function runCli(args: string[], env: Record<string, string> = {}): Run {
    const proc = runTsx({
      name: 'graph sandbox CLI',
      script: 'src/graph-sandbox/cli.ts',
      args,
      env: {
        ...process.env,
        GRAPH_ACCESS_TOKEN: '',
        GRAPH_SANDBOX_SCENARIOS: '',
        GRAPH_SANDBOX_NUMBERS: '',
        GRAPH_SANDBOX_PORT: '',
        ...env,
      },
    });
    running.push(proc);
    return { proc, output: () => proc.stdout() + proc.stderr(), exited: proc.exited };
  }

  afterEach(async () => {
    for (const proc of running.splice(0)) await proc.stop(0, 'SIGKILL');
    if (holder) await new Promise((r) => holder?.close(r));
    holder = undefined;
  });

  it('starts, prints how to point the worker at it, answers, applies scenarios, stops on SIGTERM', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'graph-cli-'));
    const file = join(dir, 'scenarios.json');
    writeFileSync(file, JSON.stringify({ '500': { kind: 'accountLocked' } }));
    try {
      const run = runCli(['--port', String(port), '--scenarios', file], {
        GRAPH_SANDBOX_SCENARIOS: JSON.stringify({ '600': { kind: 'expiredToken' } }),
      });
      const base = `http://127.0.0.1:${port}`;
      await expect
        .poll(() => run.output(), { timeout: 20_000, interval: 100 })
        .toContain(`GRAPH_BASE_URL=${base}`);
      expect(run.output()).not.toContain(SANDBOX_ACCESS_TOKEN);
      const opts = { base, token: SANDBOX_ACCESS_TOKEN, body: { pin: '246810' } };
      expect((await call('POST', '/v25.0/100', opts)).status).toBe(200);
      expect((await call('POST', '/v25.0/500', opts)).status).toBe(403);
      expect((await call('POST', '/v25.0/600', opts)).status).toBe(401);
      expect((await call('GET', '/_sandbox/numbers/100', { base })).json()).toMatchObject({ pin: '246810' });

      run.proc.signal('SIGTERM');
      expect(await run.exited).toBe(0);
      expect(run.output()).not.toContain('246810');
      await expect(call('GET', '/_sandbox/health', { base })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a busy port exits non-zero with one line naming the port', async () => {
    const port = await freePort();
    holder = createServer();
    await new Promise<void>((r) => holder?.listen(port, '127.0.0.1', () => r()));
    const run = runCli(['--port', String(port)]);
    expect(await run.exited).not.toBe(0);
    const lines = run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`port ${port}`);
    expect(lines[0]).toContain('already in use');
  });

  it('--help exits 0 and explains the options', async () => {
    const run = runCli(['--help']);
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('--scenarios FILE');
    expect(run.output()).toContain('GRAPH_SANDBOX_SCENARIOS');
  });

  it('a bad scenarios file is a configuration error (exit 2) naming the file', async () => {
    const run = runCli(['--port', '0', '--scenarios', '/nonexistent/scenarios.json']);
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain('/nonexistent/scenarios.json');
  });

  it('--numbers and GRAPH_SANDBOX_NUMBERS set how numbers start out; a bad setup exits 2 naming it', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'graph-cli-'));
    const file = join(dir, 'numbers.json');
    writeFileSync(file, JSON.stringify({ '700': { registered: false } }));
    try {
      const run = runCli(['--port', String(port), '--numbers', file], {
        GRAPH_SANDBOX_NUMBERS: JSON.stringify({ '800': { registered: false, twoStepPin: '135024' } }),
      });
      const base = `http://127.0.0.1:${port}`;
      await expect
        .poll(() => run.output(), { timeout: 20_000, interval: 100 })
        .toContain('Number setups for:');
      const opts = { base, token: SANDBOX_ACCESS_TOKEN, body: { pin: '246810' } };
      expect(graphError(await call('POST', '/v25.0/700', opts)).code).toBe(133010);
      const register = { ...opts, body: { messaging_product: 'whatsapp', pin: '246810' } };
      expect(graphError(await call('POST', '/v25.0/800/register', register)).code).toBe(133005);
      expect((await call('POST', '/v25.0/700/register', register)).status).toBe(200);
      run.proc.signal('SIGTERM');
      expect(await run.exited).toBe(0);
      expect(run.output()).not.toContain('135024');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const bad = runCli(['--port', '0'], { GRAPH_SANDBOX_NUMBERS: '{"900":{"registred":false}}' });
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toMatch(/GRAPH_SANDBOX_NUMBERS.*unknown field "registred"/);
  });
});
