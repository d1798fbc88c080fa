// Fault scenarios for the Graph sandbox: which of Meta's documented failures a phone number (or, under
// the key '*', every number) answers with, and how often. Written as JSON so that tests, drills and an
// out-of-process sandbox all speak the same language; validated strictly so a typo fails loudly
// instead of silently injecting nothing.
import { readFileSync } from 'node:fs';
import { EnvReader, type Env } from '../config/env-reader';
import { codedErrorClass } from '../cli/coded-error';

export const DEFAULT_SCENARIO_KEY = '*';

export const THROTTLE_CODES = [4, 17, 32, 613, 80007, 130429] as const;
export const SERVER_ERROR_CODES = [1, 2, 131000, 131016, 133004] as const;
export const CHAOS_FAULTS = [
  'throttled',
  'serverError',
  'html502',
  'connectionReset',
  'transientUnknown',
] as const;

/** Meta's registration answers (docs/registration.md), for the `registration` scenario kind. */
export const REGISTRATION_CODES = [
  133000, 133005, 133006, 133008, 133009, 133010, 133015, 133016, 131031, 131045, 131057, 2494100,
] as const;

/** The endpoints a scenario can be aimed at; without one it hits every request to the object. */
export const FAULT_ENDPOINTS = ['setPin', 'register', 'deregister', 'read', 'list'] as const;
export type FaultEndpoint = (typeof FAULT_ENDPOINTS)[number];

export type ThrottleCode = (typeof THROTTLE_CODES)[number];
export type RegistrationCode = (typeof REGISTRATION_CODES)[number];
export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];
export type ChaosFault = (typeof CHAOS_FAULTS)[number];

/**
 * `times`: how many requests get the fault before the number behaves normally; absent = always.
 * `endpoint`: only requests to that endpoint see the scenario (and count towards `times`).
 */
interface Repeating {
  times?: number;
  endpoint?: FaultEndpoint;
}

export type Scenario =
  | ({
      kind: 'throttled';
      code?: ThrottleCode;
      regainAccessMinutes?: number;
      httpStatus?: 400 | 429;
    } & Repeating)
  | ({ kind: 'serverError'; code?: ServerErrorCode } & Repeating)
  /** Answers late (then normally: the PIN is stored even if the client gave up, as on Meta). */
  | ({ kind: 'slow'; delayMs: number } & Repeating)
  | ({ kind: 'expiredToken' } & Repeating)
  | ({ kind: 'unknownNumber'; code?: 33 | 803 } & Repeating)
  | ({ kind: 'invalidParameter'; code?: 100 | 131008 | 131009 } & Repeating)
  | ({ kind: 'html502' } & Repeating)
  | ({ kind: 'connectionReset' } & Repeating)
  | ({ kind: 'accountLocked'; code?: 131031 | 368 } & Repeating)
  | ({ kind: 'transientUnknown'; code?: number } & Repeating)
  /** One of Meta's registration answers; aimed at /register unless `endpoint` says otherwise. */
  | ({ kind: 'registration'; code: RegistrationCode } & Repeating)
  /** A 2xx that is not {"success":true}: what a misbehaving proxy answers. */
  | ({ kind: 'unconfirmedSuccess'; body?: string } & Repeating)
  /** Any Graph error, e.g. a permission error (10, 200) or a PIN guess limit (133008). */
  | ({
      kind: 'graphError';
      code: number;
      subcode?: number;
      httpStatus?: number;
      isTransient?: boolean;
      message?: string;
      details?: string;
    } & Repeating)
  /** Each request fails with probability `probability`, drawn from `faults`; reproducible from `seed`. */
  | { kind: 'chaos'; probability: number; seed?: number; faults?: ChaosFault[] };

export type ScenarioKind = Scenario['kind'];
export type ScenarioMap = Record<string, Scenario>;

export const SCENARIO_KINDS: readonly ScenarioKind[] = [
  'throttled',
  'serverError',
  'slow',
  'expiredToken',
  'unknownNumber',
  'invalidParameter',
  'html502',
  'connectionReset',
  'accountLocked',
  'transientUnknown',
  'registration',
  'unconfirmedSuccess',
  'graphError',
  'chaos',
];

export class ScenarioError extends codedErrorClass('SCENARIO_INVALID') {}

// ---------------------------------------------------------------------------------------------------
// Meta's documented answers (docs/graph-api-facts.md), worded in our own words.

export interface MetaErrorTemplate {
  httpStatus: number;
  type: string;
  message: string;
  subcode?: number;
  isTransient?: boolean;
  details?: string;
}

export const META_ERRORS: Readonly<Record<number, MetaErrorTemplate>> = {
  0: { httpStatus: 401, type: 'OAuthException', message: 'Could not authenticate the app user' },
  190: {
    httpStatus: 401,
    type: 'OAuthException',
    message: 'Error validating access token: the session has expired',
    subcode: 463,
  },
  3: {
    httpStatus: 500,
    type: 'OAuthException',
    message: '(#3) Application does not have the capability for this call',
  },
  10: {
    httpStatus: 403,
    type: 'OAuthException',
    message: '(#10) Application does not have permission for this action',
  },
  200: { httpStatus: 403, type: 'OAuthException', message: '(#200) Permissions error' },
  4: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#4) Application request limit reached',
    isTransient: true,
  },
  17: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#17) User request limit reached',
    isTransient: true,
  },
  32: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#32) Page request limit reached',
    isTransient: true,
  },
  613: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#613) Calls to this API exceeded the rate limit',
  },
  80007: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#80007) Too many calls to this WhatsApp Business Account',
  },
  130429: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#130429) Rate limit hit',
    details: 'Cloud API throughput has been reached',
  },
  1: { httpStatus: 400, type: 'OAuthException', message: 'An unknown error occurred' },
  2: {
    httpStatus: 503,
    type: 'OAuthException',
    message: 'An unexpected error has occurred. Please retry your request later.',
    isTransient: true,
  },
  131000: { httpStatus: 500, type: 'OAuthException', message: '(#131000) Something went wrong' },
  131016: { httpStatus: 500, type: 'OAuthException', message: '(#131016) Service temporarily unavailable' },
  133004: { httpStatus: 503, type: 'OAuthException', message: '(#133004) Server temporarily unavailable' },
  33: {
    httpStatus: 400,
    type: 'GraphMethodException',
    message:
      'Unsupported post request. The object does not exist, cannot be loaded, or does not support this operation',
  },
  100: { httpStatus: 400, type: 'OAuthException', message: '(#100) Invalid parameter' },
  131008: { httpStatus: 400, type: 'OAuthException', message: '(#131008) Required parameter is missing' },
  131009: { httpStatus: 400, type: 'OAuthException', message: '(#131009) Parameter value is not valid' },
  131031: { httpStatus: 403, type: 'OAuthException', message: '(#131031) Account has been locked' },
  368: {
    httpStatus: 403,
    type: 'OAuthException',
    message: '(#368) Temporarily blocked for policy violations',
  },
  133005: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#133005) Two-step verification PIN mismatch',
  },
  133008: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#133008) Too many two-step verification PIN guesses for this phone number',
    details: 'Try again in 12 hours.',
  },
  133009: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#133009) Two-step verification PIN guessed too fast',
    details: 'Try again in 30 seconds.',
  },
  133010: { httpStatus: 400, type: 'OAuthException', message: '(#133010) Phone number not registered' },
  133015: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#133015) This phone number was recently deleted',
    details: 'Wait 5 minutes before registering this phone number again.',
  },
  133016: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#133016) Register/deregister rate limit exceeded',
    details: 'This number is blocked from registering for 72 hours.',
  },
  803: {
    httpStatus: 404,
    type: 'OAuthException',
    message: '(#803) Some of the aliases you requested do not exist',
  },
  2500: { httpStatus: 400, type: 'OAuthException', message: 'Unknown path components' },
  // Registration (docs/registration.md); HTTP statuses as Meta's error-code page gives them.
  133000: {
    httpStatus: 500,
    type: 'OAuthException',
    message: '(#133000) Incomplete deregistration',
    details: 'A previous deregistration attempt failed. Deregister the number again before registering.',
  },
  133006: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#133006) Phone number re-verification needed',
    details: 'Verify the phone number before registering it.',
  },
  131045: {
    httpStatus: 500,
    type: 'OAuthException',
    message: '(#131045) Incorrect certificate',
    details: 'The request failed because the phone number is not registered.',
  },
  131057: {
    httpStatus: 500,
    type: 'OAuthException',
    message: '(#131057) Account in maintenance mode',
    details: 'The business account is in maintenance mode, for example during a throughput upgrade.',
  },
  2494100: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#2494100) Account under maintenance',
    details: 'Try again in a few minutes.',
  },
  80008: {
    httpStatus: 400,
    type: 'OAuthException',
    message: '(#80008) Too many calls to this WhatsApp Business Account',
  },
  131005: {
    httpStatus: 403,
    type: 'OAuthException',
    message: '(#131005) Access denied',
    details: 'Permission is either not granted or has been removed.',
  },
};

/** Graph's error object, without fbtrace_id (the server adds one per response). */
export interface MetaErrorBody {
  message: string;
  type: string;
  code: number;
  error_subcode?: number;
  is_transient?: boolean;
  error_user_title?: string;
  error_user_msg?: string;
  error_data?: { messaging_product: 'whatsapp'; details: string };
}

export interface MetaErrorOverrides {
  message?: string;
  /** null drops the template's subcode. */
  subcode?: number | null;
  isTransient?: boolean;
  details?: string;
  httpStatus?: number;
}

export function metaError(
  code: number,
  overrides: MetaErrorOverrides = {},
): { status: number; error: MetaErrorBody } {
  const template = META_ERRORS[code] ?? (code >= 200 && code <= 299 ? META_ERRORS[200] : undefined);
  const message =
    overrides.message ?? template?.message ?? `(#${code}) An error injected by the Graph sandbox`;
  const error: MetaErrorBody = { message, type: template?.type ?? 'OAuthException', code };
  const subcode = overrides.subcode === null ? undefined : (overrides.subcode ?? template?.subcode);
  if (subcode !== undefined) error.error_subcode = subcode;
  const isTransient = overrides.isTransient ?? template?.isTransient;
  if (isTransient !== undefined) error.is_transient = isTransient;
  const details = overrides.details ?? template?.details;
  // WhatsApp's own codes (13xxxx, 80007) come with error_data; the generic Graph codes do not.
  if (details !== undefined || code >= 80000) {
    error.error_data = {
      messaging_product: 'whatsapp',
      details: details ?? message.replace(/^\(#\d+\)\s*/, ''),
    };
  }
  return { status: overrides.httpStatus ?? template?.httpStatus ?? 400, error };
}

// ---------------------------------------------------------------------------------------------------
// Parsing

type Field = 'times' | 'code' | 'regainAccessMinutes' | 'httpStatus' | 'delayMs' | 'subcode' | 'isTransient';

const R = ['times', 'endpoint'];
const ALLOWED_FIELDS: Record<ScenarioKind, readonly string[]> = {
  throttled: [...R, 'code', 'regainAccessMinutes', 'httpStatus'],
  serverError: [...R, 'code'],
  slow: [...R, 'delayMs'],
  expiredToken: R,
  unknownNumber: [...R, 'code'],
  invalidParameter: [...R, 'code'],
  html502: R,
  connectionReset: R,
  accountLocked: [...R, 'code'],
  transientUnknown: [...R, 'code'],
  registration: [...R, 'code'],
  unconfirmedSuccess: [...R, 'body'],
  graphError: [...R, 'code', 'subcode', 'httpStatus', 'isTransient', 'message', 'details'],
  chaos: ['probability', 'seed', 'faults'],
};

const ALLOWED_CODES: Partial<Record<ScenarioKind, readonly number[]>> = {
  throttled: [...THROTTLE_CODES, 80008],
  serverError: SERVER_ERROR_CODES,
  unknownNumber: [33, 803],
  invalidParameter: [100, 131008, 131009],
  accountLocked: [131031, 368],
  registration: REGISTRATION_CODES,
};

function fail(where: string, problem: string): never {
  throw new ScenarioError(`${where}: ${problem}`);
}

function wholeNumber(where: string, field: Field, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(where, `"${field}" must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** Parses one scenario; `where` names it in errors (e.g. 'GRAPH_SANDBOX_SCENARIOS["123"]'). */
export function parseScenario(value: unknown, where = 'scenario'): Scenario {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(where, `must be a JSON object like {"kind":"throttled","times":2} (got ${JSON.stringify(value)})`);
  }
  const raw = value as Record<string, unknown>;
  const kind = raw.kind;
  if (typeof kind !== 'string' || !(SCENARIO_KINDS as readonly string[]).includes(kind)) {
    fail(where, `"kind" must be one of ${SCENARIO_KINDS.join(', ')} (got ${JSON.stringify(kind)})`);
  }
  const k = kind as ScenarioKind;
  const allowed = ALLOWED_FIELDS[k];
  for (const field of Object.keys(raw)) {
    if (field !== 'kind' && !allowed.includes(field)) {
      fail(where, `unknown field "${field}" for kind ${k} (allowed: ${allowed.join(', ') || 'none'})`);
    }
  }

  const out: Record<string, unknown> = { kind: k };
  if (raw.times !== undefined) out.times = wholeNumber(where, 'times', raw.times, 1, 1_000_000);
  if (raw.code !== undefined) {
    const code = wholeNumber(where, 'code', raw.code, 0, 10_000_000);
    const codes = ALLOWED_CODES[k];
    if (codes && !codes.includes(code))
      fail(where, `"code" for kind ${k} must be one of ${codes.join(', ')} (got ${code})`);
    out.code = code;
  } else if (k === 'graphError' || k === 'registration') {
    fail(where, `"code" is required for kind ${k}`);
  }
  if (raw.endpoint !== undefined) {
    if (typeof raw.endpoint !== 'string' || !(FAULT_ENDPOINTS as readonly string[]).includes(raw.endpoint)) {
      fail(
        where,
        `"endpoint" must be one of ${FAULT_ENDPOINTS.join(', ')} (got ${JSON.stringify(raw.endpoint)})`,
      );
    }
    out.endpoint = raw.endpoint;
  }
  if (raw.regainAccessMinutes !== undefined) {
    out.regainAccessMinutes = wholeNumber(where, 'regainAccessMinutes', raw.regainAccessMinutes, 0, 10_000);
  }
  if (raw.httpStatus !== undefined) {
    const status = wholeNumber(where, 'httpStatus', raw.httpStatus, 200, 599);
    if (k === 'throttled' && status !== 400 && status !== 429)
      fail(where, '"httpStatus" for kind throttled must be 400 or 429');
    out.httpStatus = status;
  }
  if (k === 'slow') out.delayMs = wholeNumber(where, 'delayMs', raw.delayMs, 1, 600_000);
  if (raw.subcode !== undefined) out.subcode = wholeNumber(where, 'subcode', raw.subcode, 0, 10_000_000);
  if (raw.isTransient !== undefined) {
    if (typeof raw.isTransient !== 'boolean') fail(where, '"isTransient" must be true or false');
    out.isTransient = raw.isTransient;
  }
  for (const field of ['message', 'details', 'body'] as const) {
    if (raw[field] === undefined) continue;
    if (typeof raw[field] !== 'string') fail(where, `"${field}" must be a string`);
    out[field] = raw[field];
  }
  if (k === 'chaos') {
    const p = raw.probability;
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
      fail(where, `"probability" must be a number from 0 to 1 (got ${JSON.stringify(p)})`);
    }
    out.probability = p;
    if (raw.seed !== undefined) out.seed = wholeNumber(where, 'seed' as Field, raw.seed, 0, 2 ** 32 - 1);
    if (raw.faults !== undefined) {
      const faults = raw.faults;
      if (
        !Array.isArray(faults) ||
        faults.length === 0 ||
        !faults.every((f) => (CHAOS_FAULTS as readonly unknown[]).includes(f))
      ) {
        fail(where, `"faults" must be a non-empty list of ${CHAOS_FAULTS.join(', ')}`);
      }
      out.faults = [...(faults as ChaosFault[])];
    }
  }
  return out as Scenario;
}

/** Parses `{ "<phoneNumberId>" | "*": scenario, ... }`. */
export function parseScenarioMap(value: unknown, where = 'scenarios'): ScenarioMap {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(where, 'must be a JSON object keyed by phone number id (or "*" for every number)');
  }
  const out: ScenarioMap = {};
  for (const [key, scenario] of Object.entries(value as Record<string, unknown>)) {
    if (key !== DEFAULT_SCENARIO_KEY && !/^\d{1,32}$/.test(key)) {
      fail(where, `key ${JSON.stringify(key)} must be a numeric id or "${DEFAULT_SCENARIO_KEY}"`);
    }
    out[key] = parseScenario(scenario, `${where}[${JSON.stringify(key)}]`);
  }
  return out;
}

export const SCENARIOS_ENV = 'GRAPH_SANDBOX_SCENARIOS';

/** GRAPH_SANDBOX_SCENARIOS as a ScenarioMap; a ConfigError naming the variable when it is wrong. */
export function scenariosFromEnv(env: Env): ScenarioMap | undefined {
  return new EnvReader(env).json(SCENARIOS_ENV, (value) => parseScenarioMap(value, 'scenarios'));
}

export function loadScenarioFile(path: string): ScenarioMap {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(`cannot read scenarios file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ScenarioError(`scenarios file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseScenarioMap(parsed, path);
}

// ---------------------------------------------------------------------------------------------------
// Deciding what a request gets

export type Fault =
  | { action: 'error'; status: number; error: MetaErrorBody; headers?: Record<string, string>; label: string }
  | { action: 'text'; status: number; body: string; label: string }
  | { action: 'html'; status: number; label: string }
  | { action: 'reset'; label: string }
  | { action: 'delay'; ms: number; label: string };

export interface FaultContext {
  /** The object id in the request path (a phone number or a WABA). */
  objectId: string;
  /** The business object the usage header is keyed by (the number's WABA when known). */
  usageKey: string;
  /** Requests this object has made under the current scenario, before this one. */
  seen: number;
  /** Faults this object has already been served under the current scenario. */
  served: number;
}

/** Whether a scenario applies to a request to this endpoint (undefined: an endpoint we do not model). */
export function scenarioAppliesTo(scenario: Scenario, endpoint: FaultEndpoint | undefined): boolean {
  if (scenario.kind === 'chaos') return true;
  const aimed = scenario.endpoint ?? (scenario.kind === 'registration' ? 'register' : undefined);
  return aimed === undefined || aimed === endpoint;
}

/** A number in [0, 1) from (seed, object id, request index): same inputs, same draw, any interleaving. */
export function seededDraw(seed: number, objectId: string, index: number, salt = 0): number {
  let h = 0x811c9dc5 ^ salt;
  for (const ch of `${seed}:${objectId}:${index}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193);
  }
  // One mulberry32 step to spread FNV's low-entropy high bits.
  let t = (h + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function usageHeader(usageKey: string, minutes: number): Record<string, string> {
  return {
    'x-business-use-case-usage': JSON.stringify({
      [usageKey]: [
        {
          type: 'whatsapp_business_management',
          call_count: 100,
          total_cputime: 1,
          total_time: 1,
          estimated_time_to_regain_access: minutes,
        },
      ],
    }),
  };
}

function errorFault(
  code: number,
  label: string,
  overrides?: MetaErrorOverrides,
  headers?: Record<string, string>,
): Fault {
  const { status, error } = metaError(code, overrides);
  return { action: 'error', status, error, headers, label };
}

function faultOf(scenario: Exclude<Scenario, { kind: 'chaos' }>, ctx: FaultContext): Fault {
  switch (scenario.kind) {
    case 'throttled':
      return errorFault(
        scenario.code ?? 80007,
        `throttled ${scenario.code ?? 80007}`,
        { httpStatus: scenario.httpStatus },
        usageHeader(ctx.usageKey, scenario.regainAccessMinutes ?? 1),
      );
    case 'serverError':
      return errorFault(scenario.code ?? 131000, `server error ${scenario.code ?? 131000}`);
    case 'slow':
      return { action: 'delay', ms: scenario.delayMs, label: `slow ${scenario.delayMs}ms` };
    case 'expiredToken':
      return errorFault(190, 'expired token');
    case 'unknownNumber': {
      const code = scenario.code ?? 33;
      const message =
        code === 803
          ? `(#803) Some of the aliases you requested do not exist: ${ctx.objectId}`
          : `Unsupported post request. Object with ID '${ctx.objectId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation`;
      return errorFault(code, `unknown number ${code}`, { message });
    }
    case 'invalidParameter':
      return errorFault(scenario.code ?? 100, `invalid parameter ${scenario.code ?? 100}`);
    case 'html502':
      return { action: 'html', status: 502, label: 'html 502' };
    case 'connectionReset':
      return { action: 'reset', label: 'connection reset' };
    case 'accountLocked':
      return errorFault(scenario.code ?? 131031, `account restricted ${scenario.code ?? 131031}`);
    case 'transientUnknown':
      return errorFault(scenario.code ?? 99_999, 'transient unknown code', {
        isTransient: true,
        message: 'An unexpected error has occurred. Please retry your request later.',
      });
    case 'registration':
      return errorFault(scenario.code, `registration ${scenario.code}`);
    case 'unconfirmedSuccess':
      return {
        action: 'text',
        status: 200,
        body: scenario.body ?? '{"success":false}',
        label: 'unconfirmed 2xx',
      };
    case 'graphError':
      return errorFault(scenario.code, `graph error ${scenario.code}`, {
        subcode: scenario.subcode,
        httpStatus: scenario.httpStatus,
        isTransient: scenario.isTransient,
        message: scenario.message,
        details: scenario.details,
      });
  }
}

function chaosFault(kind: ChaosFault, draw: number, ctx: FaultContext): Fault {
  switch (kind) {
    case 'throttled':
      return faultOf({ kind: 'throttled', code: draw < 0.5 ? 80007 : 4, regainAccessMinutes: 0 }, ctx);
    case 'serverError':
      return faultOf({ kind: 'serverError', code: draw < 0.5 ? 131000 : 133004 }, ctx);
    case 'html502':
      return faultOf({ kind: 'html502' }, ctx);
    case 'connectionReset':
      return faultOf({ kind: 'connectionReset' }, ctx);
    case 'transientUnknown':
      return faultOf({ kind: 'transientUnknown' }, ctx);
  }
}

/** What the scenario does to this request: a fault, or undefined for normal behaviour. */
export function planFault(scenario: Scenario, ctx: FaultContext): Fault | undefined {
  if (scenario.kind === 'chaos') {
    const seed = scenario.seed ?? 1;
    if (seededDraw(seed, ctx.objectId, ctx.seen) >= scenario.probability) return undefined;
    const faults = scenario.faults ?? CHAOS_FAULTS;
    const pick = seededDraw(seed, ctx.objectId, ctx.seen, 1);
    const kind = faults[Math.min(faults.length - 1, Math.floor(pick * faults.length))] ?? 'serverError';
    const fault = chaosFault(kind, seededDraw(seed, ctx.objectId, ctx.seen, 2), ctx);
    return { ...fault, label: `chaos: ${fault.label}` };
  }
  if (scenario.times !== undefined && ctx.served >= scenario.times) return undefined;
  return faultOf(scenario, ctx);
}
