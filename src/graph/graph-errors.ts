// What went wrong with a Graph call, decided once, here, so that activities only translate it into an
// ApplicationFailure and the workflow matches on a stable `type`. Decisions are built on Meta's numeric
// `code` (never on message text, which Meta rewords), then on the HTTP status when the body is not
// Graph's JSON error shape (a proxy's HTML page, an empty body).
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import type { FailureType } from '../workflows/failure-types';

export const GRAPH_FAILURE_TYPES = {
  GraphAuthError: 'GraphAuthError',
  GraphPermissionError: 'GraphPermissionError',
  GraphThrottled: 'GraphThrottled',
  GraphInvalidParameter: 'GraphInvalidParameter',
  GraphUnknownNumber: 'GraphUnknownNumber',
  GraphAccountRestricted: 'GraphAccountRestricted',
  GraphServerError: 'GraphServerError',
  GraphPinMismatch: 'GraphPinMismatch',
  GraphPinGuessLimit: 'GraphPinGuessLimit',
  GraphNumberRecentlyDeleted: 'GraphNumberRecentlyDeleted',
  GraphRegisterLimit: 'GraphRegisterLimit',
  /** 133010, 131045: the number is not registered on Cloud API (the workflow may register it). */
  GraphNotRegistered: 'GraphNotRegistered',
  /** 133006: the number must be verified (request_code / verify_code) before it can register. */
  GraphNumberNotVerified: 'GraphNumberNotVerified',
  /** 133000: a previous deregistration did not complete; deregister again before registering. */
  GraphIncompleteDeregistration: 'GraphIncompleteDeregistration',
  /** 131031 answered to /register: the account is locked, or the PIN did not match. Never guess. */
  GraphRegisterPinRejected: 'GraphRegisterPinRejected',
  /** 131057, 2494100: the business account is in maintenance; it comes back by itself. */
  GraphMaintenance: 'GraphMaintenance',
  /** A 2xx that is not the expected answer ({"success":false}, a proxy's "ok"): retried a few times. */
  GraphUnconfirmedSuccess: 'GraphUnconfirmedSuccess',
  GraphTimeout: 'GraphTimeout',
  GraphConnectionError: 'GraphConnectionError',
  GraphUnexpectedResponse: 'GraphUnexpectedResponse',
} as const satisfies { readonly [K in FailureType]?: K };

export type GraphFailureType = (typeof GRAPH_FAILURE_TYPES)[keyof typeof GRAPH_FAILURE_TYPES];

const T = GRAPH_FAILURE_TYPES;

/** Meta's 133015 answer says to wait five minutes after deleting a number before re-adding it. */
export const NUMBER_RECENTLY_DELETED_DELAY_MS = 5 * 60_000;
/**
 * 133008/133009 promise a wait "in the details"; when the details name none we wait an hour. That is
 * deliberately long: each early retry is another PIN guess counted against the number, and the
 * activity's retry schedule still bounds the total time.
 */
export const PIN_GUESS_LIMIT_DEFAULT_DELAY_MS = 60 * 60_000;
/** Maintenance mode (131057, 2494100) lasts "a few minutes" in Meta's and peers' words. */
export const MAINTENANCE_DELAY_MS = 5 * 60_000;
/**
 * A 2xx we do not understand is retried until the activity's third attempt, then parked: the calls
 * are idempotent on the stored PIN, and such answers usually come from a proxy, not from Meta.
 */
export const UNCONFIRMED_SUCCESS_MAX_ATTEMPTS = 3;

/** Which Graph call answered: the same code can mean different things on different endpoints. */
export type GraphOperation = 'setTwoStepPin' | 'register' | 'readPhoneNumber' | 'listPhoneNumbers';

export interface GraphErrorFields {
  type: GraphFailureType;
  message: string;
  retryable: boolean;
  nextRetryDelayMs?: number;
  httpStatus?: number;
  graphCode?: number;
  graphSubcode?: number;
  fbtraceId?: string;
  /** Meta's `is_transient`: true/false when Meta said so, undefined when it did not (unknown). */
  isTransient?: boolean;
  /** Meta's `error_data.details`, the most useful text for a human. */
  details?: string;
  userTitle?: string;
  userMessage?: string;
  /** The vault path of the tenant's token Meta refused (GRAPH_TOKEN_SOURCE=vault). */
  tokenPath?: string;
  cause?: unknown;
}

/** A classified Graph failure. `name` is always 'GraphError'; `type` (also `code`) says which one. */
export class GraphError extends Error {
  override readonly name = 'GraphError';
  readonly type: GraphFailureType;
  readonly retryable: boolean;
  readonly nextRetryDelayMs?: number;
  readonly httpStatus?: number;
  readonly graphCode?: number;
  readonly graphSubcode?: number;
  readonly fbtraceId?: string;
  readonly isTransient?: boolean;
  readonly details?: string;
  readonly userTitle?: string;
  readonly userMessage?: string;
  readonly tokenPath?: string;

  constructor(fields: GraphErrorFields) {
    super(fields.message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.type = fields.type;
    this.retryable = fields.retryable;
    this.nextRetryDelayMs = fields.nextRetryDelayMs;
    this.httpStatus = fields.httpStatus;
    this.graphCode = fields.graphCode;
    this.graphSubcode = fields.graphSubcode;
    this.fbtraceId = fields.fbtraceId;
    this.isTransient = fields.isTransient;
    this.details = fields.details;
    this.userTitle = fields.userTitle;
    this.userMessage = fields.userMessage;
    this.tokenPath = fields.tokenPath;
  }

  /** Same as `type`, following undici's habit of a stable `code` callers can match on. */
  get code(): GraphFailureType {
    return this.type;
  }
}

export function isGraphError(err: unknown): err is GraphError {
  return err instanceof GraphError;
}

// ---------------------------------------------------------------------------------------------------
// Redaction

/**
 * Replaces every occurrence of the given secrets, and anything shaped like a PIN field or a bearer
 * token, so that text quoted from a request or a response can be logged and kept in history.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) {
    // Very short strings would blank out innocent text; PINs are 6 characters, tokens far longer.
    if (secret && secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  }
  return out
    .replace(/("pin"\s*:\s*)("[^"]*"|\d+)/gi, '$1"[REDACTED]"')
    .replace(/(\bpin=)[^&\s"]*/gi, '$1[REDACTED]')
    .replace(/(\bBearer\s+)[^\s"]+/gi, '$1[REDACTED]')
    .replace(/(\baccess_token=)[^&\s"]*/gi, '$1[REDACTED]');
}

// ---------------------------------------------------------------------------------------------------
// Responses

export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface GraphResponseInput {
  status: number;
  headers?: ResponseHeaders;
  bodyText: string;
  /** What a successful answer would have looked like, for the message on a 2xx that is not one. */
  expected?: string;
  /** The call that was made; decides the codes Meta reuses (131031 on /register). */
  operation?: GraphOperation;
  /** Secrets (the PIN, the token) to blank out of any text kept in the error. */
  redact?: readonly (string | undefined)[];
}

interface CodeRule {
  type: GraphFailureType;
  retryable: boolean;
}

const CODE_RULES = new Map<number, CodeRule>();
function rule(codes: number[], type: GraphFailureType, retryable: boolean) {
  for (const code of codes) CODE_RULES.set(code, { type, retryable });
}
// 102 (session key) and 104 (token required) are Meta's generic OAuth codes, outside the reference table.
rule([0, 190, 102, 104], T.GraphAuthError, false);
rule([3, 10, 131005], T.GraphPermissionError, false);
// 80008 (WABA-level throttling) is not on Meta's error page; peers report it: handled as throttling.
rule([4, 17, 32, 613, 80007, 80008, 130429], T.GraphThrottled, true);
rule([100, 131008, 131009], T.GraphInvalidParameter, false);
rule([33, 803], T.GraphUnknownNumber, false);
// Not retried by the activity: the workflow registers the number when its input allows it.
rule([133010, 131045], T.GraphNotRegistered, false);
rule([133006], T.GraphNumberNotVerified, false);
// Meta answers 133000 with HTTP 500, yet retrying the register call cannot complete a deregistration.
rule([133000], T.GraphIncompleteDeregistration, false);
// 2494100 is not on Meta's error page; Solution Providers report it as "maintenance, try again later".
rule([131057, 2494100], T.GraphMaintenance, true);
rule([131031, 368], T.GraphAccountRestricted, false);
rule([2, 131000, 131016, 133004], T.GraphServerError, true);
rule([133005], T.GraphPinMismatch, false);
rule([133008, 133009], T.GraphPinGuessLimit, true);
rule([133015], T.GraphNumberRecentlyDeleted, true);
rule([133016], T.GraphRegisterLimit, false);

function ruleFor(
  code: number,
  subcode: number | undefined,
  isTransient: boolean | undefined,
  operation: GraphOperation | undefined,
): CodeRule | undefined {
  if (code >= 200 && code <= 299) return { type: T.GraphPermissionError, retryable: false };
  // Meta's 131031 also means "data in the request did not match", such as the PIN of a register
  // call: there it gets the PIN-mismatch treatment (park, no second guess).
  if (code === 131031 && operation === 'register')
    return { type: T.GraphRegisterPinRejected, retryable: false };
  // "Unsupported post request. Object with ID ... does not exist": Meta's usual shape for an unknown id.
  if (code === 100 && subcode === 33) return { type: T.GraphUnknownNumber, retryable: false };
  // Code 1 is "unknown error": retry it, unless Meta explicitly says it is not transient.
  if (code === 1) return { type: T.GraphServerError, retryable: isTransient !== false };
  return CODE_RULES.get(code);
}

interface ParsedGraphError {
  code: number;
  subcode?: number;
  message?: string;
  metaType?: string;
  isTransient?: boolean;
  details?: string;
  userTitle?: string;
  userMessage?: string;
  fbtraceId?: string;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function int(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  // Some proxies and older versions stringify numbers.
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

function parseGraphErrorBody(body: unknown): ParsedGraphError | undefined {
  const error = asRecord(asRecord(body)?.error);
  if (!error) return undefined;
  const code = int(error.code);
  if (code === undefined) return undefined;
  const errorData = asRecord(error.error_data);
  return {
    code,
    subcode: int(error.error_subcode),
    message: str(error.message),
    metaType: str(error.type),
    isTransient: typeof error.is_transient === 'boolean' ? error.is_transient : undefined,
    details:
      str(errorData?.details) ?? (typeof error.error_data === 'string' ? str(error.error_data) : undefined),
    userTitle: str(error.error_user_title),
    userMessage: str(error.error_user_msg),
    fbtraceId: str(error.fbtrace_id),
  };
}

function header(headers: ResponseHeaders | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return Array.isArray(value) ? value.join(',') : value;
  }
  return undefined;
}

/**
 * The longest `estimated_time_to_regain_access` (minutes) in X-Business-Use-Case-Usage, in ms.
 * The header is JSON keyed by business object id, each holding a list of usage entries. Anything
 * malformed is ignored: a wrong delay is worse than the retry policy's own.
 */
export function throttleDelayFromUsageHeader(value: string | undefined): number | undefined {
  if (!value) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  const byObject = asRecord(parsed);
  if (!byObject) return undefined;
  let maxMinutes = 0;
  for (const entries of Object.values(byObject)) {
    const list: unknown[] = Array.isArray(entries) ? entries : [entries];
    for (const entry of list) {
      const minutes = asRecord(entry)?.estimated_time_to_regain_access;
      if (typeof minutes === 'number' && Number.isFinite(minutes) && minutes > maxMinutes)
        maxMinutes = minutes;
    }
  }
  return maxMinutes > 0 ? Math.round(maxMinutes * 60_000) : undefined;
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A wait such as "try again in 12 hours" / "after 30 minutes" stated in Meta's details, in ms. */
export function waitFromDetails(details: string | undefined): number | undefined {
  if (!details) return undefined;
  const match = /(\d+(?:\.\d+)?)\s*(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?)\b/i.exec(details);
  if (!match?.[1] || !match[2]) return undefined;
  const unit = UNIT_MS[match[2].charAt(0).toLowerCase()];
  const amount = Number(match[1]);
  return unit && amount > 0 ? Math.round(amount * unit) : undefined;
}

function looksLikeHtml(text: string, contentType: string | undefined): boolean {
  return /html/i.test(contentType ?? '') || /^\s*</.test(text);
}

/** A short, single-line excerpt of a non-JSON body (tags stripped) for the message. */
function excerpt(text: string, redact: readonly (string | undefined)[] | undefined): string {
  const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1];
  const plain = (title ?? text)
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const short = plain.length > 120 ? `${plain.slice(0, 117)}...` : plain;
  return redactSecrets(short, redact);
}

/** Classifies a response that is not a success by status only: no usable Graph error in the body. */
function classifyByStatus(input: GraphResponseInput, what: string, isTransient?: boolean): GraphError {
  const { status } = input;
  const base = { httpStatus: status, isTransient };
  if (status === 429) {
    return new GraphError({
      ...base,
      type: T.GraphThrottled,
      retryable: true,
      nextRetryDelayMs: throttleDelayFromUsageHeader(header(input.headers, 'x-business-use-case-usage')),
      message: `Graph answered HTTP 429 (throttled) ${what}`,
    });
  }
  if (status === 408) {
    return new GraphError({
      ...base,
      type: T.GraphTimeout,
      retryable: true,
      message: `Graph answered HTTP 408 ${what}`,
    });
  }
  if (status >= 500) {
    return new GraphError({
      ...base,
      type: T.GraphServerError,
      retryable: true,
      message: `Graph answered HTTP ${status} ${what}`,
    });
  }
  if (status >= 200 && status < 300) {
    return new GraphError({
      ...base,
      type: T.GraphUnconfirmedSuccess,
      retryable: true,
      message: `Graph answered HTTP ${status} ${what}; retried up to ${UNCONFIRMED_SUCCESS_MAX_ATTEMPTS} attempts`,
    });
  }
  // 3xx, or 4xx without a Graph code: we cannot tell what happened, and retrying the same request
  // against an answer we do not understand will not converge. A person looks (the PIN is already
  // safe in the vault, so nothing is lost).
  return new GraphError({
    ...base,
    type: T.GraphUnexpectedResponse,
    retryable: false,
    message: `Graph answered HTTP ${status} ${what}`,
  });
}

/**
 * Classifies a Graph answer that is not a success (the caller has already recognised success).
 * Pure: no I/O, no clock; table-tested.
 */
export function classifyGraphResponse(input: GraphResponseInput): GraphError {
  const { status, bodyText, redact } = input;
  const contentType = header(input.headers, 'content-type');
  const trimmed = bodyText.trim();
  if (trimmed === '') return classifyByStatus(input, 'with an empty body');

  let body: unknown;
  try {
    body = JSON.parse(trimmed);
  } catch {
    const kind = looksLikeHtml(trimmed, contentType) ? 'an HTML page' : 'a non-JSON body';
    return classifyByStatus(input, `with ${kind}: "${excerpt(trimmed, redact)}"`);
  }

  const parsed = parseGraphErrorBody(body);
  if (!parsed) {
    const what =
      status >= 200 && status < 300
        ? `without the expected ${input.expected ?? '{"success":true}'}`
        : 'with JSON that is not a Graph error';
    return classifyByStatus(input, what);
  }

  const fbtraceId = parsed.fbtraceId ?? header(input.headers, 'x-fb-trace-id');
  const clean = (text: string | undefined) => (text === undefined ? undefined : redactSecrets(text, redact));
  const metaMessage = clean(parsed.message) ?? '(no message)';
  const details = clean(parsed.details);
  const codeText =
    parsed.subcode === undefined ? `${parsed.code}` : `${parsed.code} subcode ${parsed.subcode}`;
  const detailsText = details && details !== metaMessage ? ` (details: ${details})` : '';
  const traceText = fbtraceId ? ` [fbtrace_id ${fbtraceId}]` : '';
  const message = `Graph code ${codeText} (HTTP ${status}): ${metaMessage}${detailsText}${traceText}`;

  const common = {
    message,
    httpStatus: status,
    graphCode: parsed.code,
    graphSubcode: parsed.subcode,
    fbtraceId,
    isTransient: parsed.isTransient,
    details,
    userTitle: clean(parsed.userTitle),
    userMessage: clean(parsed.userMessage),
  };

  const known = ruleFor(parsed.code, parsed.subcode, parsed.isTransient, input.operation);
  if (known) {
    let nextRetryDelayMs: number | undefined;
    if (known.type === T.GraphThrottled) {
      nextRetryDelayMs = throttleDelayFromUsageHeader(header(input.headers, 'x-business-use-case-usage'));
    } else if (known.type === T.GraphPinGuessLimit) {
      nextRetryDelayMs = waitFromDetails(parsed.details) ?? PIN_GUESS_LIMIT_DEFAULT_DELAY_MS;
    } else if (known.type === T.GraphNumberRecentlyDeleted) {
      nextRetryDelayMs = NUMBER_RECENTLY_DELETED_DELAY_MS;
    } else if (known.type === T.GraphMaintenance) {
      nextRetryDelayMs = waitFromDetails(parsed.details) ?? MAINTENANCE_DELAY_MS;
    }
    return new GraphError({ ...common, type: known.type, retryable: known.retryable, nextRetryDelayMs });
  }

  // A code we do not know: Meta's is_transient decides when present; otherwise the HTTP status does.
  const byStatus = classifyByStatus(input, '');
  const retryable = parsed.isTransient ?? byStatus.retryable;
  return new GraphError({
    ...common,
    type: byStatus.type,
    retryable,
    nextRetryDelayMs: retryable ? byStatus.nextRetryDelayMs : undefined,
  });
}

// ---------------------------------------------------------------------------------------------------
// Transport

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
]);

function errorCode(err: unknown): string | undefined {
  const record = asRecord(err);
  const code = record?.code;
  if (typeof code === 'string') return code;
  // Happy-eyeballs connects fail with an AggregateError whose members carry the codes.
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const innerCode = errorCode(inner);
      if (innerCode) return innerCode;
    }
  }
  if (record?.cause !== undefined && record.cause !== err) return errorCode(record.cause);
  return undefined;
}

/**
 * Classifies an error thrown before a response arrived (or while its body streamed): timeouts and
 * broken connections. All are retryable: the request may or may not have reached Meta, and setting
 * the same PIN again is harmless.
 */
export function classifyTransportError(err: unknown, redact?: readonly (string | undefined)[]): GraphError {
  if (err instanceof GraphError) return err;
  const code = errorCode(err);
  const name = asRecord(err)?.name;
  const rawMessage = err instanceof Error ? err.message : String(err);
  const detail = redactSecrets(rawMessage, redact);
  const label = code ?? (typeof name === 'string' ? name : 'Error');
  if ((code && TIMEOUT_CODES.has(code)) || name === 'TimeoutError') {
    return new GraphError({
      type: T.GraphTimeout,
      retryable: true,
      message: `Graph request timed out: ${label} (${detail})`,
      cause: err,
    });
  }
  return new GraphError({
    type: T.GraphConnectionError,
    retryable: true,
    message: `Graph request failed before an answer: ${label} (${detail})`,
    cause: err,
  });
}

// ---------------------------------------------------------------------------------------------------
// Temporal

/** What the workflow and the UI see; every field is safe for history (no PIN, no token). */
export interface GraphFailureDetails {
  graphCode?: number;
  graphSubcode?: number;
  fbtraceId?: string;
  httpStatus?: number;
  isTransient?: boolean;
  details?: string;
  userTitle?: string;
  userMessage?: string;
  /** Where the refused tenant token lives, for the runbook (never the token). */
  tokenPath?: string;
}

export function graphFailureDetails(err: GraphError): GraphFailureDetails {
  return {
    graphCode: err.graphCode,
    graphSubcode: err.graphSubcode,
    fbtraceId: err.fbtraceId,
    httpStatus: err.httpStatus,
    isTransient: err.isTransient,
    details: err.details,
    userTitle: err.userTitle,
    userMessage: err.userMessage,
    ...(err.tokenPath !== undefined ? { tokenPath: err.tokenPath } : {}),
  };
}

/**
 * The activity's view of a Graph failure: Temporal applies `nonRetryable` and `nextRetryDelay`.
 * `attempt` (the activity's attempt number) bounds the retries of an unconfirmed 2xx.
 */
export function toApplicationFailure(err: GraphError, attempt?: number): ApplicationFailure {
  const retryable =
    err.retryable &&
    !(
      err.type === T.GraphUnconfirmedSuccess &&
      attempt !== undefined &&
      attempt >= UNCONFIRMED_SUCCESS_MAX_ATTEMPTS
    );
  return ApplicationFailure.create({
    type: err.type,
    message: err.message,
    nonRetryable: !retryable,
    nextRetryDelay: retryable ? err.nextRetryDelayMs : undefined,
    details: [graphFailureDetails(err)],
    cause: err.cause instanceof Error ? err.cause : undefined,
    // Throttling is expected under load: keep it out of the worker's error logs and metrics.
    category: err.type === T.GraphThrottled ? ApplicationFailureCategory.BENIGN : undefined,
  });
}
