// The Graph client against the real Graph sandbox (a node:http server on a free loopback port), one
// scenario at a time: what Meta can do to the call, and what the activity will see.
import { Agent } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/env-reader';
import { createGraphClient, type GraphClient } from '../src/graph/graph-client';
import { loadGraphConfig, SANDBOX_ACCESS_TOKEN } from '../src/graph/graph-config';
import { GRAPH_FAILURE_TYPES as T, GraphError } from '../src/graph/graph-errors';
import { startGraphSandbox, type GraphSandbox } from '../src/graph-sandbox/server';

const TOKEN = 'EAAG-test-token-7f3c9a';
const NUMBER = '106540352242922';

let sandbox: GraphSandbox;
let agent: Agent;
let client: GraphClient;
const sandboxLog: string[] = [];
const errorTexts: string[] = [];

function makeClient(overrides: { accessToken?: string; headersTimeoutMs?: number } = {}): GraphClient {
  return createGraphClient({
    baseUrl: sandbox.url,
    apiVersion: 'v25.0',
    accessToken: overrides.accessToken ?? TOKEN,
    dispatcher: agent,
    headersTimeoutMs: overrides.headersTimeoutMs ?? 2_000,
    bodyTimeoutMs: 2_000,
  });
}

/** Runs the call, expects a GraphError, and keeps its texts for the no-secrets check. */
async function failure(call: Promise<unknown>): Promise<GraphError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GraphError);
  const graphErr = err as GraphError;
  errorTexts.push(graphErr.message, graphErr.stack ?? '', JSON.stringify(graphErr), String(graphErr.details));
  return graphErr;
}

beforeAll(async () => {
  sandbox = await startGraphSandbox({ port: 0, accessToken: TOKEN, log: (line) => sandboxLog.push(line) });
  agent = new Agent({ connectTimeout: 2_000 });
  client = makeClient();
});

afterAll(async () => {
  await agent?.close();
  await sandbox?.close();
});

beforeEach(() => {
  sandbox.reset();
});

describe('setTwoStepPin', () => {
  it('sets the exact PIN, leading zero kept, sent as a JSON string', async () => {
    const result = await client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '012345' });
    expect(sandbox.pinOf(NUMBER)).toBe('012345');
    expect(result.fbtraceId).toMatch(/^A/);
    const [entry] = sandbox.requests();
    expect(entry).toMatchObject({
      method: 'POST',
      path: `/v25.0/${NUMBER}`,
      phoneNumberId: NUMBER,
      status: 200,
    });
  });

  it('refuses a PIN that is not six digits before calling Meta, without quoting it', async () => {
    for (const pin of ['12345', '1234567', '12a456', ' 123456']) {
      const err = await failure(client.setTwoStepPin({ phoneNumberId: NUMBER, pin }));
      expect(err.type).toBe(T.GraphInvalidParameter);
      expect(err.retryable).toBe(false);
      expect(err.message).not.toContain(pin.trim());
    }
    const numeric = 123456 as unknown as string;
    expect((await failure(client.setTwoStepPin({ phoneNumberId: NUMBER, pin: numeric }))).type).toBe(
      T.GraphInvalidParameter,
    );
    expect(sandbox.requests()).toHaveLength(0);
  });

  it('refuses a phone number id that is not digits before calling Meta', async () => {
    const err = await failure(client.setTwoStepPin({ phoneNumberId: '12/../34', pin: '111111' }));
    expect(err.type).toBe(T.GraphInvalidParameter);
    expect(sandbox.requests()).toHaveLength(0);
  });

  it('throttled: GraphThrottled with the delay from the usage header, then success', async () => {
    sandbox.setScenario(NUMBER, { kind: 'throttled', times: 1, code: 130429, regainAccessMinutes: 2 });
    const err = await failure(client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '222222' }));
    expect(err).toMatchObject({
      type: T.GraphThrottled,
      retryable: true,
      graphCode: 130429,
      nextRetryDelayMs: 120_000,
    });
    expect(sandbox.pinOf(NUMBER)).toBeUndefined();
    await client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '222222' });
    expect(sandbox.pinOf(NUMBER)).toBe('222222');
  });

  it('throttled on HTTP 429 with code 4', async () => {
    sandbox.setScenario(NUMBER, { kind: 'throttled', code: 4, httpStatus: 429, regainAccessMinutes: 1 });
    const err = await failure(client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '222222' }));
    expect(err).toMatchObject({
      type: T.GraphThrottled,
      httpStatus: 429,
      graphCode: 4,
      nextRetryDelayMs: 60_000,
    });
  });

  it('500 with code 131000: retryable GraphServerError', async () => {
    sandbox.setScenario(NUMBER, { kind: 'serverError', times: 1 });
    const err = await failure(client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '333333' }));
    expect(err).toMatchObject({
      type: T.GraphServerError,
      retryable: true,
      httpStatus: 500,
      graphCode: 131000,
    });
    expect(err.fbtraceId).toBeTruthy();
    expect(err.message).toContain(`[fbtrace_id ${err.fbtraceId}]`);
  });

  it('503 with code 133004: retryable GraphServerError', async () => {
    sandbox.setScenario(NUMBER, { kind: 'serverError', code: 133004 });
    const err = await failure(client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '333333' }));
    expect(err).toMatchObject({
      type: T.GraphServerError,
      retryable: true,
      httpStatus: 503,
      graphCode: 133004,
    });
  });

  it('an answer slower than headersTimeout: GraphTimeout (and Meta may still have set the PIN)', async () => {
    // undici runs headers timeouts on its coarse "fast timers" (about 0.5-1 s resolution), so a
    // 100 ms timeout fires within a second: the sandbox answers only after 1.5 s.
    sandbox.setScenario(NUMBER, { kind: 'slow', delayMs: 1_500, times: 1 });
    const impatient = makeClient({ headersTimeoutMs: 100 });
    const started = Date.now();
    const err = await failure(impatient.setTwoStepPin({ phoneNumberId: NUMBER, pin: '444444' }));
    expect(err).toMatchObject({ type: T.GraphTimeout, retryable: true });
    expect(err.message).toContain('UND_ERR_HEADERS_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1_400);
    expect(sandbox.pinOf(NUMBER)).toBeUndefined();
    // The ambiguity the workflow must live with: the request reached "Meta" and took effect anyway.
    await expect.poll(() => sandbox.pinOf(NUMBER), { timeout: 3_000, interval: 50 }).toBe('444444');
  });

  it('a slow answer within headersTimeout succeeds', async () => {
    sandbox.setScenario(NUMBER, { kind: 'slow', delayMs: 50 });
    await client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '454545' });
    expect(sandbox.pinOf(NUMBER)).toBe('454545');
  });

  it('an HTML 502 from a proxy: retryable GraphServerError', async () => {
    sandbox.setScenario(NUMBER, { kind: 'html502', times: 1 });
    const err = await failure(client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '555555' }));
    expect(err).toMatchObject({ type: T.GraphServerError, retryable: true, httpStatus: 502 });
    expect(err.graphCode).toBeUndefined();
    expect(err.message).toContain('502 Bad Gateway');
  });

  it('a reset connection: retryable GraphConnectionError', async () => {
    sandbox.setScenario(NUMBER, { kind: 'connectionReset', times: 1 });
    const err = await failure(client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '666666' }));
    expect(err).toMatchObject({ type: T.GraphConnectionError, retryable: true });
    expect(sandbox.pinOf(NUMBER)).toBeUndefined();
    expect(sandbox.requests()[0]).toMatchObject({ status: 0, fault: 'connection reset' });
    // The next call opens a fresh connection and succeeds.
    await client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '666666' });
    expect(sandbox.pinOf(NUMBER)).toBe('666666');
  });

  it('a refused connection: retryable GraphConnectionError', async () => {
    const closedSandbox = await startGraphSandbox({ port: 0 });
    const url = closedSandbox.url;
    await closedSandbox.close();
    const nowhere = createGraphClient({
      baseUrl: url,
      apiVersion: 'v25.0',
      accessToken: TOKEN,
      dispatcher: agent,
      headersTimeoutMs: 1_000,
      bodyTimeoutMs: 1_000,
    });
    const err = await failure(nowhere.setTwoStepPin({ phoneNumberId: NUMBER, pin: '676767' }));
    expect(err).toMatchObject({ type: T.GraphConnectionError, retryable: true });
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('expired token scenario: GraphAuthError, not retryable', async () => {
    sandbox.setScenario(NUMBER, { kind: 'expiredToken' });
    const err = await failure(client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '777777' }));
    expect(err).toMatchObject({ type: T.GraphAuthError, retryable: false, httpStatus: 401, graphCode: 190 });
  });

  it('a wrong token: GraphAuthError, not retryable', async () => {
    const wrong = makeClient({ accessToken: 'EAAG-wrong-token-1b2c' });
    const err = await failure(wrong.setTwoStepPin({ phoneNumberId: NUMBER, pin: '777777' }));
    expect(err).toMatchObject({ type: T.GraphAuthError, retryable: false, graphCode: 190 });
    expect(err.message).not.toContain('EAAG-wrong-token-1b2c');
    expect(sandbox.pinOf(NUMBER)).toBeUndefined();
  });

  it.each([33, 803] as const)('unknown number (code %i): GraphUnknownNumber, not retryable', async (code) => {
    sandbox.setScenario(NUMBER, { kind: 'unknownNumber', code });
    const err = await failure(client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '888888' }));
    expect(err).toMatchObject({ type: T.GraphUnknownNumber, retryable: false, graphCode: code });
    expect(err.httpStatus).toBe(code === 803 ? 404 : 400);
  });

  it('account locked: GraphAccountRestricted, not retryable', async () => {
    sandbox.setScenario(NUMBER, { kind: 'accountLocked' });
    const err = await failure(client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '999999' }));
    expect(err).toMatchObject({ type: T.GraphAccountRestricted, retryable: false, httpStatus: 403 });
  });

  it('invalid parameter: GraphInvalidParameter, not retryable', async () => {
    sandbox.setScenario(NUMBER, { kind: 'invalidParameter' });
    const err = await failure(client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '101010' }));
    expect(err).toMatchObject({ type: T.GraphInvalidParameter, retryable: false, graphCode: 100 });
  });

  it('an unknown code with is_transient true: retryable', async () => {
    sandbox.setScenario(NUMBER, { kind: 'transientUnknown', times: 1 });
    const err = await failure(client.setTwoStepPin({ phoneNumberId: NUMBER, pin: '121212' }));
    expect(err).toMatchObject({ type: T.GraphUnexpectedResponse, retryable: true, isTransient: true });
  });

  it('a wrong API version is not retried', async () => {
    const badVersion = createGraphClient({
      baseUrl: sandbox.url,
      apiVersion: 'v25',
      accessToken: TOKEN,
      dispatcher: agent,
      headersTimeoutMs: 1_000,
      bodyTimeoutMs: 1_000,
    });
    const err = await failure(badVersion.setTwoStepPin({ phoneNumberId: NUMBER, pin: '131313' }));
    expect(err.retryable).toBe(false);
    expect(sandbox.pinOf(NUMBER)).toBeUndefined();
  });
});

describe('registerPhoneNumber', () => {
  const FRESH = '106540352242999';

  it('registers with {"messaging_product":"whatsapp","pin"} and the PIN becomes the two-step PIN', async () => {
    sandbox.setupNumber(FRESH, { registered: false });
    const result = await client.registerPhoneNumber({ phoneNumberId: FRESH, pin: '010203' });
    expect(result.fbtraceId).toMatch(/^A/);
    expect(sandbox.numberState(FRESH)).toMatchObject({ registered: true, pin: '010203' });
    expect(sandbox.requests()).toEqual([
      expect.objectContaining({ method: 'POST', path: `/v25.0/${FRESH}/register`, status: 200 }),
    ]);
  });

  it('a PIN mismatch is GraphPinMismatch; 131031 at /register is GraphRegisterPinRejected', async () => {
    sandbox.setupNumber(FRESH, { registered: false, twoStepPin: '929292' });
    expect(await failure(client.registerPhoneNumber({ phoneNumberId: FRESH, pin: '939393' }))).toMatchObject({
      type: T.GraphPinMismatch,
      retryable: false,
      graphCode: 133005,
    });
    sandbox.setScenario(FRESH, { kind: 'registration', code: 131031 });
    expect(await failure(client.registerPhoneNumber({ phoneNumberId: FRESH, pin: '939393' }))).toMatchObject({
      type: T.GraphRegisterPinRejected,
      retryable: false,
    });
    // The same code at the two-step endpoint is the account lock it usually means.
    sandbox.setScenario(FRESH, { kind: 'accountLocked', code: 131031 });
    expect(await failure(client.setTwoStepPin({ phoneNumberId: FRESH, pin: '939393' }))).toMatchObject({
      type: T.GraphAccountRestricted,
    });
  });

  it('a spent budget is GraphRegisterLimit; a proxy\'s bare "ok" is GraphUnconfirmedSuccess', async () => {
    sandbox.setupNumber(FRESH, { registered: false, recentRegistrationCalls: 10 });
    expect(await failure(client.registerPhoneNumber({ phoneNumberId: FRESH, pin: '949494' }))).toMatchObject({
      type: T.GraphRegisterLimit,
      retryable: false,
      graphCode: 133016,
    });
    sandbox.setScenario(NUMBER, { kind: 'unconfirmedSuccess', body: 'ok', endpoint: 'register' });
    expect(await failure(client.registerPhoneNumber({ phoneNumberId: NUMBER, pin: '949494' }))).toMatchObject(
      {
        type: T.GraphUnconfirmedSuccess,
        retryable: true,
        httpStatus: 200,
      },
    );
  });

  it('refuses a PIN that is not six digits before calling Meta', async () => {
    expect((await failure(client.registerPhoneNumber({ phoneNumberId: FRESH, pin: '95959' }))).type).toBe(
      T.GraphInvalidParameter,
    );
    expect(sandbox.requests()).toHaveLength(0);
  });
});

describe('getPhoneNumber', () => {
  it('reads the documented fields of the number, asking for them by name', async () => {
    const details = await client.getPhoneNumber({ phoneNumberId: NUMBER });
    expect(details).toMatchObject({
      id: NUMBER,
      code_verification_status: 'VERIFIED',
      platform_type: 'CLOUD_API',
    });
    const [entry] = sandbox.requests();
    expect(entry).toMatchObject({ method: 'GET', path: `/v25.0/${NUMBER}`, status: 200 });
  });

  it('a throttled read is GraphThrottled; an expired token GraphAuthError', async () => {
    sandbox.setScenario(NUMBER, { kind: 'throttled', times: 1, regainAccessMinutes: 1 });
    expect(await failure(client.getPhoneNumber({ phoneNumberId: NUMBER }))).toMatchObject({
      type: T.GraphThrottled,
      retryable: true,
    });
    sandbox.setScenario(NUMBER, { kind: 'expiredToken' });
    expect(await failure(client.getPhoneNumber({ phoneNumberId: NUMBER }))).toMatchObject({
      type: T.GraphAuthError,
      retryable: false,
    });
  });

  it('refuses an id that is not digits before calling Meta', async () => {
    expect((await failure(client.getPhoneNumber({ phoneNumberId: '1/../2' }))).type).toBe(
      T.GraphInvalidParameter,
    );
    expect(sandbox.requests()).toHaveLength(0);
  });
});

describe('listPhoneNumbers', () => {
  it('lists the numbers of a WABA, following cursors across pages', async () => {
    const numbers = Array.from({ length: 130 }, (_, i) => ({
      id: String(100_000_000_000_000 + i),
      display_phone_number: `+1 555 01${String(i).padStart(3, '0')}`,
      verified_name: 'Acme',
    }));
    sandbox.addWaba('2001', numbers);
    const listed = await client.listPhoneNumbers({ wabaId: '2001' });
    expect(listed).toHaveLength(130);
    expect(listed.map((n) => n.id)).toEqual(numbers.map((n) => n.id));
    expect(listed[129]).toEqual(numbers[129]);
    const gets = sandbox.requests().filter((r) => r.path === '/v25.0/2001/phone_numbers');
    expect(gets).toHaveLength(2);
  });

  it('an empty WABA lists nothing', async () => {
    sandbox.addWaba('2002', []);
    expect(await client.listPhoneNumbers({ wabaId: '2002' })).toEqual([]);
  });

  it('an unknown WABA is GraphUnknownNumber (code 100, subcode 33)', async () => {
    const err = await failure(client.listPhoneNumbers({ wabaId: '2999' }));
    expect(err).toMatchObject({
      type: T.GraphUnknownNumber,
      graphCode: 100,
      graphSubcode: 33,
      retryable: false,
    });
  });

  it('a throttled listing is GraphThrottled', async () => {
    sandbox.addWaba('2003', [{ id: '3001' }]);
    sandbox.setScenario('2003', { kind: 'throttled', times: 1, regainAccessMinutes: 1 });
    const err = await failure(client.listPhoneNumbers({ wabaId: '2003' }));
    expect(err).toMatchObject({ type: T.GraphThrottled, nextRetryDelayMs: 60_000 });
    expect(await client.listPhoneNumbers({ wabaId: '2003' })).toHaveLength(1);
  });
});

describe('loadGraphConfig', () => {
  function configError(env: Record<string, string>): ConfigError {
    try {
      loadGraphConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return err as ConfigError;
    }
    throw new Error('expected a ConfigError');
  }

  it('defaults: Meta, v25.0, 10 requests/s, 20 s timeouts; the token is required', () => {
    const err = configError({});
    expect(err.variable).toBe('GRAPH_ACCESS_TOKEN');
    expect(loadGraphConfig({ GRAPH_ACCESS_TOKEN: 'EAAGabc' })).toEqual({
      baseUrl: 'https://graph.facebook.com',
      apiVersion: 'v25.0',
      accessToken: 'EAAGabc',
      tokens: { source: 'env', prefix: 'whatsapp/graph-tokens', cacheMs: 60_000 },
      maxRequestsPerSecond: 10,
      headersTimeoutMs: 20_000,
      bodyTimeoutMs: 20_000,
      isSandbox: false,
    });
  });

  it('with GRAPH_TOKEN_SOURCE=vault no GRAPH_ACCESS_TOKEN is needed: each tenant has its own', () => {
    const config = loadGraphConfig({ GRAPH_TOKEN_SOURCE: 'vault', GRAPH_TOKEN_CACHE_SECONDS: '5' });
    expect(config.accessToken).toBeUndefined();
    expect(config.tokens).toEqual({ source: 'vault', prefix: 'whatsapp/graph-tokens', cacheMs: 5_000 });
    expect(configError({ GRAPH_TOKEN_SOURCE: 'both' }).variable).toBe('GRAPH_TOKEN_SOURCE');
  });

  it('a loopback base URL is the sandbox: the sandbox token by default', () => {
    for (const url of ['http://127.0.0.1:8099', 'http://localhost:8099/', 'http://[::1]:8099']) {
      const config = loadGraphConfig({ GRAPH_BASE_URL: url });
      expect(config.isSandbox).toBe(true);
      expect(config.accessToken).toBe(SANDBOX_ACCESS_TOKEN);
    }
    expect(loadGraphConfig({ GRAPH_BASE_URL: 'http://127.0.0.1:8099/' }).baseUrl).toBe(
      'http://127.0.0.1:8099',
    );
  });

  it.each([
    ['GRAPH_API_VERSION', { GRAPH_API_VERSION: 'v25' }],
    ['GRAPH_API_VERSION', { GRAPH_API_VERSION: '25.0' }],
    ['GRAPH_BASE_URL', { GRAPH_BASE_URL: 'graph.facebook.com' }],
    ['GRAPH_MAX_REQUESTS_PER_SECOND', { GRAPH_MAX_REQUESTS_PER_SECOND: '0' }],
    ['GRAPH_HEADERS_TIMEOUT_MS', { GRAPH_HEADERS_TIMEOUT_MS: 'soon' }],
    ['GRAPH_BODY_TIMEOUT_MS', { GRAPH_BODY_TIMEOUT_MS: '1.5' }],
  ])('a bad %s is a ConfigError naming it', (variable, env) => {
    const err = configError({ GRAPH_ACCESS_TOKEN: 'EAAGabc', ...env });
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(variable)).toBe(true);
  });

  it('a token with spaces is refused without echoing it', () => {
    const err = configError({ GRAPH_ACCESS_TOKEN: 'EAAG secret' });
    expect(err.variable).toBe('GRAPH_ACCESS_TOKEN');
    expect(err.message).not.toContain('secret');
  });
});

describe('secrets', () => {
  it('no error message, error field or sandbox log line contains the PIN or the token', () => {
    // Runs last in the file: it checks what every test above collected.
    expect(errorTexts.length).toBeGreaterThan(10);
    expect(sandboxLog.length).toBeGreaterThan(10);
    const pins = [
      '012345',
      '222222',
      '333333',
      '444444',
      '454545',
      '555555',
      '666666',
      '676767',
      '777777',
      '888888',
      '999999',
      '101010',
      '121212',
      '131313',
      '010203',
      '929292',
      '939393',
      '949494',
      '95959',
    ];
    for (const text of [...errorTexts, ...sandboxLog]) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain('EAAG-wrong-token-1b2c');
      for (const pin of pins) expect(text).not.toContain(pin);
    }
  });
});
