// The failure taxonomy, table-driven over every code in docs/graph-api-facts.md: the workflow's
// behaviour (retry, wait, or ask a human) hangs on these answers.
import { describe, expect, it } from 'vitest';
import {
  classifyGraphResponse,
  classifyTransportError,
  GRAPH_FAILURE_TYPES as T,
  GraphError,
  MAINTENANCE_DELAY_MS,
  NUMBER_RECENTLY_DELETED_DELAY_MS,
  PIN_GUESS_LIMIT_DEFAULT_DELAY_MS,
  redactSecrets,
  toApplicationFailure,
  UNCONFIRMED_SUCCESS_MAX_ATTEMPTS,
  type GraphFailureType,
  type GraphResponseInput,
} from '../src/graph/graph-errors';
import { runbook, runbookFor, RUNBOOK_IDS, type RunbookId } from '../src/workflows/runbooks';

function graphBody(code: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    error: {
      message: `(#${code}) something`,
      type: 'OAuthException',
      code,
      fbtrace_id: 'TRACE123',
      ...extra,
    },
  });
}

function classify(status: number, bodyText: string, headers: Record<string, string> = {}) {
  return classifyGraphResponse({ status, headers, bodyText });
}

type Operation = NonNullable<GraphResponseInput['operation']>;
type Row = [
  code: number,
  httpStatus: number,
  type: GraphFailureType,
  retryable: boolean,
  runbook: RunbookId,
  operation?: Operation,
];

// Every code of the reference's first table, and of its registration table (docs/registration.md):
// Meta's code -> the product's type, whether the activity retries it, and the operator's runbook if
// the number parks on it. The runbook comes from the step the code arrived at (register or not).
const CODE_TABLE: Row[] = [
  [0, 401, T.GraphAuthError, false, 'rotate-token'],
  [190, 401, T.GraphAuthError, false, 'rotate-token'],
  [3, 500, T.GraphPermissionError, false, 'grant-permission'],
  [10, 403, T.GraphPermissionError, false, 'grant-permission'],
  [200, 403, T.GraphPermissionError, false, 'grant-permission'],
  [250, 403, T.GraphPermissionError, false, 'grant-permission'],
  [299, 403, T.GraphPermissionError, false, 'grant-permission'],
  [4, 400, T.GraphThrottled, true, 'meta-unreachable'],
  [4, 429, T.GraphThrottled, true, 'meta-unreachable'],
  [17, 400, T.GraphThrottled, true, 'meta-unreachable'],
  [32, 400, T.GraphThrottled, true, 'meta-unreachable'],
  [613, 400, T.GraphThrottled, true, 'meta-unreachable'],
  [80007, 400, T.GraphThrottled, true, 'meta-unreachable'],
  [80007, 429, T.GraphThrottled, true, 'meta-unreachable'],
  [130429, 400, T.GraphThrottled, true, 'meta-unreachable'],
  [1, 400, T.GraphServerError, true, 'meta-unreachable'],
  [2, 503, T.GraphServerError, true, 'meta-unreachable'],
  [131000, 500, T.GraphServerError, true, 'meta-unreachable'],
  [131016, 500, T.GraphServerError, true, 'meta-unreachable'],
  [133004, 503, T.GraphServerError, true, 'meta-unreachable'],
  [33, 400, T.GraphUnknownNumber, false, 'unknown-number'],
  [100, 400, T.GraphInvalidParameter, false, 'invalid-request'],
  [131008, 400, T.GraphInvalidParameter, false, 'invalid-request'],
  [131009, 400, T.GraphInvalidParameter, false, 'invalid-request'],
  [131031, 403, T.GraphAccountRestricted, false, 'account-locked'],
  [368, 403, T.GraphAccountRestricted, false, 'account-restricted'],
  [133005, 400, T.GraphPinMismatch, false, 'pin-mismatch', 'register'],
  [133008, 400, T.GraphPinGuessLimit, true, 'pin-guess-limit', 'register'],
  [133009, 400, T.GraphPinGuessLimit, true, 'pin-guess-limit', 'register'],
  [133010, 400, T.GraphNotRegistered, false, 'register-number'],
  [133015, 400, T.GraphNumberRecentlyDeleted, true, 'meta-unreachable', 'register'],
  [133016, 400, T.GraphRegisterLimit, false, 'registration-budget', 'register'],
  [803, 404, T.GraphUnknownNumber, false, 'unknown-number'],
  // The registration table
  [133000, 500, T.GraphIncompleteDeregistration, false, 'deregister-then-retry', 'register'],
  [133006, 400, T.GraphNumberNotVerified, false, 'verify-number', 'register'],
  [131045, 500, T.GraphNotRegistered, false, 'register-number'],
  [131057, 500, T.GraphMaintenance, true, 'meta-unreachable'],
  [2494100, 400, T.GraphMaintenance, true, 'meta-unreachable', 'register'],
  [80008, 400, T.GraphThrottled, true, 'meta-unreachable'],
  [131005, 403, T.GraphPermissionError, false, 'grant-permission'],
  // 131031 at /register: locked, or the PIN did not match; 133010 from /register itself.
  [131031, 403, T.GraphRegisterPinRejected, false, 'pin-mismatch', 'register'],
  [133010, 400, T.GraphNotRegistered, false, 'ask-meta', 'register'],
];

const STEP_OF: Record<Operation, string> = {
  setTwoStepPin: 'setTwoStepPin',
  register: 'registerPhoneNumber',
  readPhoneNumber: 'lookUpPhoneNumber',
  listPhoneNumbers: 'listPhoneNumbers',
};

describe('classifyGraphResponse by Graph code', () => {
  it.each(CODE_TABLE)(
    'code %i (HTTP %i) -> %s, retryable %s, runbook %s (%s)',
    (code, status, type, retryable, book, operation = 'setTwoStepPin') => {
      const err = classifyGraphResponse({ status, bodyText: graphBody(code), operation });
      expect(err).toBeInstanceOf(GraphError);
      expect(err.type).toBe(type);
      expect(err.retryable).toBe(retryable);
      expect(toApplicationFailure(err, 1).nonRetryable).toBe(!retryable);
      expect(runbookFor({ step: STEP_OF[operation], type: err.type, graphCode: code })).toBe(book);
      expect(err.graphCode).toBe(code);
      expect(err.httpStatus).toBe(status);
      expect(err.fbtraceId).toBe('TRACE123');
      expect(err.message).toContain(`Graph code ${code} (HTTP ${status})`);
      expect(err.message).toContain('[fbtrace_id TRACE123]');
    },
  );

  it('every runbook the table names has steps, and "Change PIN" only where the PIN is the problem', () => {
    const ctx = { phoneNumberId: '1', vault: { path: 'secret/x/1', version: 2 } };
    // 131031 is also Meta's answer to request data (the PIN) that does not match the account's.
    // pin-drift: a person changed the PIN by hand; setting the stored one back is one way out.
    const changesPin = new Set(['pin-mismatch', 'account-locked', 'pin-drift']);
    for (const id of RUNBOOK_IDS) {
      const book = runbook(id, ctx);
      expect(book.steps.length).toBeGreaterThan(0);
      expect(book.steps.join(' ').includes('Change PIN'), id).toBe(changesPin.has(id));
      expect(book.pinIsTheProblem, id).toBe(changesPin.has(id) || id === 'pin-guess-limit');
    }
    expect(runbook('pin-mismatch', ctx).steps.join(' ')).toContain('version 2');
    expect(runbook('rotate-token', ctx).steps.join(' ')).toMatch(/token/);
    expect(runbook('grant-permission', ctx).steps.join(' ')).toMatch(/linked to the client's WABA/);
    expect(runbook('verify-number', ctx).steps.join(' ')).toMatch(/Verify ownership/);
    expect(runbook('deregister-then-retry', ctx).steps.join(' ')).toMatch(/Deregister the number again/);
    expect(runbookFor({ step: 'storePinInVault', type: 'VaultSealed' })).toBe('fix-vault');
    expect(runbookFor({ step: 'registerPhoneNumber', type: 'RegisterBudgetSpent' })).toBe(
      'registration-budget',
    );
  });

  it('decides on the code, not the HTTP status or the message text', () => {
    // A throttling code arriving with a 500 and an auth-sounding message is still throttling.
    const err = classify(500, graphBody(80007, { message: 'Invalid OAuth access token' }));
    expect(err.type).toBe(T.GraphThrottled);
    // An auth code on a 503 is still not retryable.
    expect(classify(503, graphBody(190)).retryable).toBe(false);
  });

  it('a known code ignores is_transient, except code 1 whose meaning is "unknown"', () => {
    expect(classify(401, graphBody(190, { is_transient: true })).retryable).toBe(false);
    expect(classify(400, graphBody(1)).retryable).toBe(true);
    expect(classify(400, graphBody(1, { is_transient: false })).retryable).toBe(false);
  });

  it('code 100 with subcode 33 (object does not exist) is an unknown number', () => {
    const err = classify(400, graphBody(100, { error_subcode: 33 }));
    expect(err.type).toBe(T.GraphUnknownNumber);
    expect(err.graphSubcode).toBe(33);
    expect(err.message).toContain('Graph code 100 subcode 33 (HTTP 400)');
  });

  it('keeps Meta details, user title and message; reads stringified codes', () => {
    const err = classify(
      400,
      JSON.stringify({
        error: {
          message: 'Invalid parameter',
          code: '131009',
          error_subcode: '2494010',
          error_user_title: 'Bad value',
          error_user_msg: 'Check the PIN format',
          error_data: { messaging_product: 'whatsapp', details: 'pin must be 6 digits' },
          fbtrace_id: 'X1',
        },
      }),
    );
    expect(err).toMatchObject({
      type: T.GraphInvalidParameter,
      graphCode: 131009,
      graphSubcode: 2494010,
      details: 'pin must be 6 digits',
      userTitle: 'Bad value',
      userMessage: 'Check the PIN format',
    });
    expect(err.message).toContain('pin must be 6 digits');
  });

  it('falls back to the x-fb-trace-id header for the trace id', () => {
    const body = JSON.stringify({ error: { message: 'x', code: 131000 } });
    expect(classify(500, body, { 'X-FB-Trace-ID': 'HDR9' }).fbtraceId).toBe('HDR9');
  });
});

describe('unknown codes and is_transient', () => {
  const unknown = (status: number, isTransient?: boolean) =>
    classify(status, graphBody(4242, isTransient === undefined ? {} : { is_transient: isTransient }));

  it('is_transient true makes an unknown 4xx code retryable', () => {
    const err = unknown(400, true);
    expect(err.type).toBe(T.GraphUnexpectedResponse);
    expect(err.retryable).toBe(true);
    expect(err.isTransient).toBe(true);
  });

  it('is_transient absent is unknown: a 4xx is not retried', () => {
    const err = unknown(400);
    expect(err.type).toBe(T.GraphUnexpectedResponse);
    expect(err.retryable).toBe(false);
    expect(err.isTransient).toBeUndefined();
  });

  it('is_transient false is not retried', () => {
    const err = unknown(400, false);
    expect(err.retryable).toBe(false);
    expect(err.isTransient).toBe(false);
  });

  it('an unknown code on a 5xx is a server error, retried unless Meta says it is not transient', () => {
    expect(unknown(500)).toMatchObject({ type: T.GraphServerError, retryable: true });
    expect(unknown(502, false)).toMatchObject({ type: T.GraphServerError, retryable: false });
  });

  it('an unknown code on a 429 is throttling', () => {
    expect(unknown(429)).toMatchObject({ type: T.GraphThrottled, retryable: true });
  });
});

describe('throttling delay from X-Business-Use-Case-Usage', () => {
  const usage = (entries: Record<string, Array<Record<string, unknown>>>) => ({
    'x-business-use-case-usage': JSON.stringify(entries),
  });

  it('uses estimated_time_to_regain_access minutes as nextRetryDelayMs', () => {
    const err = classify(
      400,
      graphBody(80007),
      usage({ '1234': [{ type: 'whatsapp_business_management', estimated_time_to_regain_access: 5 }] }),
    );
    expect(err.type).toBe(T.GraphThrottled);
    expect(err.nextRetryDelayMs).toBe(5 * 60_000);
  });

  it('takes the maximum across all objects and entries', () => {
    const err = classify(
      429,
      graphBody(4),
      usage({
        '1': [{ estimated_time_to_regain_access: 2 }, { estimated_time_to_regain_access: 7 }],
        '2': [{ estimated_time_to_regain_access: 3 }],
      }),
    );
    expect(err.nextRetryDelayMs).toBe(7 * 60_000);
  });

  it('header names are matched case-insensitively', () => {
    const err = classify(400, graphBody(130429), {
      'X-Business-Use-Case-Usage': JSON.stringify({ '9': [{ estimated_time_to_regain_access: 1 }] }),
    });
    expect(err.nextRetryDelayMs).toBe(60_000);
  });

  it.each([
    ['not JSON', '{nope'],
    ['a JSON list', '[1,2]'],
    ['a string value', JSON.stringify({ '1': [{ estimated_time_to_regain_access: 'soon' }] })],
    ['zero minutes', JSON.stringify({ '1': [{ estimated_time_to_regain_access: 0 }] })],
    ['negative minutes', JSON.stringify({ '1': [{ estimated_time_to_regain_access: -3 }] })],
  ])('ignores a malformed header (%s): still throttled, no delay', (_what, value) => {
    const err = classify(400, graphBody(80007), { 'x-business-use-case-usage': value });
    expect(err.type).toBe(T.GraphThrottled);
    expect(err.retryable).toBe(true);
    expect(err.nextRetryDelayMs).toBeUndefined();
  });

  it('no header: throttled without a delay (the retry policy decides)', () => {
    expect(classify(400, graphBody(17)).nextRetryDelayMs).toBeUndefined();
  });

  it('a non-throttling code ignores the usage header', () => {
    const err = classify(500, graphBody(131000), usage({ '1': [{ estimated_time_to_regain_access: 9 }] }));
    expect(err.nextRetryDelayMs).toBeUndefined();
  });
});

describe('waits stated by Meta', () => {
  it('PIN guess limit: the wait in error_data.details', () => {
    const err = classify(
      400,
      graphBody(133008, { error_data: { messaging_product: 'whatsapp', details: 'Try again in 12 hours.' } }),
    );
    expect(err.nextRetryDelayMs).toBe(12 * 3_600_000);
    const fast = classify(400, graphBody(133009, { error_data: { details: 'Wait 30 seconds' } }));
    expect(fast.nextRetryDelayMs).toBe(30_000);
  });

  it('PIN guess limit without a stated wait: the documented default', () => {
    expect(classify(400, graphBody(133008)).nextRetryDelayMs).toBe(PIN_GUESS_LIMIT_DEFAULT_DELAY_MS);
  });

  it('maintenance mode (131057, 2494100): five minutes, or the wait Meta names', () => {
    expect(classify(500, graphBody(131057)).nextRetryDelayMs).toBe(MAINTENANCE_DELAY_MS);
    const named = classify(
      400,
      graphBody(2494100, {
        error_data: { messaging_product: 'whatsapp', details: 'try again in 10 minutes' },
      }),
    );
    expect(named.nextRetryDelayMs).toBe(600_000);
    expect(toApplicationFailure(named, 1).nextRetryDelay).toBe(600_000);
  });

  it('131031 means a PIN problem only at /register; 133000 on HTTP 500 is not retried', () => {
    expect(classifyGraphResponse({ status: 403, bodyText: graphBody(131031) }).type).toBe(
      T.GraphAccountRestricted,
    );
    expect(
      classifyGraphResponse({ status: 403, bodyText: graphBody(131031), operation: 'register' }).type,
    ).toBe(T.GraphRegisterPinRejected);
    expect(classify(500, graphBody(133000)).retryable).toBe(false);
  });

  it('number recently deleted: five minutes', () => {
    expect(classify(400, graphBody(133015)).nextRetryDelayMs).toBe(NUMBER_RECENTLY_DELETED_DELAY_MS);
    expect(NUMBER_RECENTLY_DELETED_DELAY_MS).toBe(300_000);
  });
});

describe('bodies that are not Graph errors: classified by HTTP status', () => {
  const html502 = '<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>';

  it('an HTML 502 page from a proxy is a retryable server error', () => {
    const err = classify(502, html502, { 'content-type': 'text/html' });
    expect(err).toMatchObject({ type: T.GraphServerError, retryable: true, httpStatus: 502 });
    expect(err.graphCode).toBeUndefined();
    expect(err.message).toContain('HTML');
    expect(err.message).toContain('502 Bad Gateway');
  });

  it('an empty 503 is a retryable server error', () => {
    expect(classify(503, '')).toMatchObject({ type: T.GraphServerError, retryable: true, httpStatus: 503 });
  });

  it('an empty 400 is an unexpected response, not retried', () => {
    expect(classify(400, '')).toMatchObject({ type: T.GraphUnexpectedResponse, retryable: false });
  });

  it('an HTML 404 is an unexpected response, not retried', () => {
    expect(classify(404, '<html>Not Found</html>')).toMatchObject({
      type: T.GraphUnexpectedResponse,
      retryable: false,
    });
  });

  it('an empty 429 is throttling, with the usage header delay when present', () => {
    const err = classify(429, '', {
      'x-business-use-case-usage': JSON.stringify({ '1': [{ estimated_time_to_regain_access: 4 }] }),
    });
    expect(err).toMatchObject({ type: T.GraphThrottled, retryable: true, nextRetryDelayMs: 240_000 });
  });

  it('JSON without an error object on a 500 is a server error', () => {
    expect(classify(500, '{"oops":true}')).toMatchObject({ type: T.GraphServerError, retryable: true });
  });

  it.each([['{"success":false}'], ['{}'], ['ok'], ['<html>ok</html>'], ['']])(
    'a 2xx without {"success":true} (%s) is an unconfirmed success, retried until attempt 3',
    (body) => {
      const err = classify(200, body);
      expect(err.type).toBe(T.GraphUnconfirmedSuccess);
      expect(err.retryable).toBe(true);
      expect(err.httpStatus).toBe(200);
      expect(UNCONFIRMED_SUCCESS_MAX_ATTEMPTS).toBe(3);
      expect(toApplicationFailure(err, 1).nonRetryable).toBe(false);
      expect(toApplicationFailure(err, 2).nonRetryable).toBe(false);
      expect(toApplicationFailure(err, 3).nonRetryable).toBe(true);
      expect(runbookFor({ step: 'registerPhoneNumber', type: err.type })).toBe('unconfirmed-answer');
    },
  );
});

describe('classifyTransportError', () => {
  const coded = (code: string, name = 'Error', message = 'boom') =>
    Object.assign(new Error(message), { code, name });

  it.each([
    ['UND_ERR_HEADERS_TIMEOUT', T.GraphTimeout],
    ['UND_ERR_BODY_TIMEOUT', T.GraphTimeout],
    ['UND_ERR_CONNECT_TIMEOUT', T.GraphTimeout],
    ['ETIMEDOUT', T.GraphTimeout],
    ['ECONNRESET', T.GraphConnectionError],
    ['ECONNREFUSED', T.GraphConnectionError],
    ['UND_ERR_SOCKET', T.GraphConnectionError],
    ['EPIPE', T.GraphConnectionError],
    ['ENOTFOUND', T.GraphConnectionError],
  ])('%s -> %s, retryable', (code, type) => {
    const cause = coded(code);
    const err = classifyTransportError(cause);
    expect(err.type).toBe(type);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(code);
    expect(err.cause).toBe(cause);
  });

  it('finds the code inside an AggregateError (happy-eyeballs connect)', () => {
    const err = classifyTransportError(
      new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], 'x'),
    );
    expect(err.type).toBe(T.GraphConnectionError);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('finds the code in a cause chain', () => {
    const err = classifyTransportError(
      new Error('fetch failed', { cause: coded('UND_ERR_HEADERS_TIMEOUT') }),
    );
    expect(err.type).toBe(T.GraphTimeout);
  });

  it('redacts secrets quoted in a transport error message', () => {
    const err = classifyTransportError(coded('ECONNRESET', 'Error', 'reset while sending 654321 tok-abc'), [
      '654321',
      'tok-abc',
    ]);
    expect(err.message).not.toContain('654321');
    expect(err.message).not.toContain('tok-abc');
  });

  it('passes a GraphError through unchanged', () => {
    const original = classify(401, graphBody(190));
    expect(classifyTransportError(original)).toBe(original);
  });
});

describe('redaction of response text', () => {
  it('blanks the PIN and token wherever Meta might echo them', () => {
    const err = classifyGraphResponse({
      status: 400,
      bodyText: graphBody(100, {
        message: 'Invalid parameter pin 012345 with token EAAGsecret',
        error_data: { details: 'body was {"pin":"012345"}' },
      }),
      redact: ['012345', 'EAAGsecret'],
    });
    expect(err.message).not.toContain('012345');
    expect(err.message).not.toContain('EAAGsecret');
    expect(err.details).not.toContain('012345');
    expect(err.message).toContain('[REDACTED]');
  });

  it('redactSecrets blanks PIN fields and bearer tokens even when not named', () => {
    const out = redactSecrets(
      '{"pin":"123456"} Authorization: Bearer abc.def pin=999999&x=1 access_token=zz',
    );
    expect(out).not.toMatch(/123456|abc\.def|999999|zz/);
  });
});

describe('toApplicationFailure', () => {
  it('keeps type, nonRetryable and nextRetryDelay, and the Graph facts in details', () => {
    const throttled = classify(400, graphBody(80007), {
      'x-business-use-case-usage': JSON.stringify({ '1': [{ estimated_time_to_regain_access: 3 }] }),
    });
    const failure = toApplicationFailure(throttled);
    expect(failure.type).toBe('GraphThrottled');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe(180_000);
    expect(failure.message).toBe(throttled.message);
    expect(failure.details?.[0]).toMatchObject({ graphCode: 80007, httpStatus: 400, fbtraceId: 'TRACE123' });

    const auth = toApplicationFailure(classify(401, graphBody(190, { error_subcode: 463 })));
    expect(auth.type).toBe('GraphAuthError');
    expect(auth.nonRetryable).toBe(true);
    expect(auth.nextRetryDelay).toBeUndefined();
    expect(auth.details?.[0]).toMatchObject({ graphCode: 190, graphSubcode: 463 });
    expect(auth.message).toMatch(/^Graph code 190 subcode 463 \(HTTP 401\): .* \[fbtrace_id TRACE123\]$/);
  });

  it('keeps the transport cause', () => {
    const cause = Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
    const failure = toApplicationFailure(classifyTransportError(cause));
    expect(failure.type).toBe('GraphTimeout');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.cause).toBe(cause);
  });
});
