// The Graph API calls the product makes, on undici. No retries in here: Temporal owns the retry
// schedule, and a retrying agent under an activity would multiply attempts and hide throttling.
// Every failure leaves as a classified GraphError that never quotes the PIN or the token.
import { request, type Dispatcher } from 'undici';
import { PHONE_NUMBER_ID_PATTERN, PIN_PATTERN } from '../workflows/messages';
import { usageFromHeaders, type UsageReading } from './business-usage';
import {
  classifyGraphResponse,
  classifyTransportError,
  GraphError,
  GRAPH_FAILURE_TYPES,
} from './graph-errors';

/** listPhoneNumbers follows at most this many pages (100 numbers each) before giving up. */
export const MAX_PHONE_NUMBER_PAGES = 50;
const PAGE_SIZE = 100;

export interface GraphClientOptions {
  baseUrl: string;
  apiVersion: string;
  accessToken: string;
  /** Defaults to undici's global dispatcher; tests pass their own Agent or MockAgent. */
  dispatcher?: Dispatcher;
  /** Kept well below the activity's startToCloseTimeout (undici's default is 300 s). */
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  userAgent?: string;
  /** Meta's usage headers of every response, successes and failures alike (graph-budget.ts). */
  onUsage?: (readings: UsageReading[]) => void;
}

export interface SetTwoStepPinInput {
  phoneNumberId: string;
  /** Exactly 6 digits, as a string: a number would lose leading zeros. */
  pin: string;
  /** The number's WABA when known: whose budget the call spends. */
  wabaId?: string;
  /** The activity's cancellation signal, so a cancelled activity drops its request. */
  signal?: AbortSignal;
}

export interface SetTwoStepPinResult {
  fbtraceId?: string;
}

export interface PhoneNumberSummary {
  id: string;
  display_phone_number?: string;
  verified_name?: string;
}

export interface ListPhoneNumbersInput {
  wabaId: string;
  signal?: AbortSignal;
}

export interface RegisterPhoneNumberInput {
  phoneNumberId: string;
  /** The stored two-step PIN: it becomes the number's PIN, or must match the one it has. */
  pin: string;
  /** The number's WABA when known: whose budget the call spends. */
  wabaId?: string;
  signal?: AbortSignal;
}

export interface RegisterPhoneNumberResult {
  fbtraceId?: string;
}

/** The fields read from `GET /{id}` (docs/registration.md); Meta omits fields it has no value for. */
export const PHONE_NUMBER_FIELDS = [
  'id',
  'display_phone_number',
  'verified_name',
  'code_verification_status',
  'platform_type',
  'status',
  'name_status',
] as const;

export interface PhoneNumberDetails {
  id: string;
  display_phone_number?: string;
  verified_name?: string;
  /** e.g. VERIFIED, NOT_VERIFIED, EXPIRED */
  code_verification_status?: string;
  /** CLOUD_API when registered on Cloud API; ON_PREMISE; NOT_APPLICABLE */
  platform_type?: string;
  /** e.g. PENDING, CONNECTED */
  status?: string;
  name_status?: string;
}

export interface GetPhoneNumberInput {
  phoneNumberId: string;
  /** The number's WABA when known: whose budget the call spends. */
  wabaId?: string;
  signal?: AbortSignal;
}

/**
 * The Graph calls the activities make (src/activities/activity-deps.ts hands it to the Graph
 * queue's activities, paced). A call a new activity needs is added here and in the client below.
 */
export interface GraphApi {
  setTwoStepPin(input: SetTwoStepPinInput): Promise<SetTwoStepPinResult>;
  registerPhoneNumber(input: RegisterPhoneNumberInput): Promise<RegisterPhoneNumberResult>;
  getPhoneNumber(input: GetPhoneNumberInput): Promise<PhoneNumberDetails>;
}

export interface GraphClient extends GraphApi {
  listPhoneNumbers(input: ListPhoneNumbersInput): Promise<PhoneNumberSummary[]>;
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bodyText: string;
}

function invalidInput(message: string): GraphError {
  return new GraphError({ type: GRAPH_FAILURE_TYPES.GraphInvalidParameter, retryable: false, message });
}

function checkPhoneNumberId(phoneNumberId: string): void {
  if (!PHONE_NUMBER_ID_PATTERN.test(phoneNumberId)) {
    throw invalidInput(`phone number id must be 1-32 digits (got ${JSON.stringify(phoneNumberId)})`);
  }
}

function checkPin(pin: unknown): void {
  if (typeof pin !== 'string' || !PIN_PATTERN.test(pin)) {
    throw invalidInput('the two-step PIN must be a string of exactly 6 digits (value not shown)');
  }
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function createGraphClient(options: GraphClientOptions): GraphClient {
  const origin = options.baseUrl.replace(/\/+$/, '');
  const { accessToken, apiVersion } = options;

  async function call(
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    secrets: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<RawResponse> {
    try {
      const res = await request(`${origin}${path}`, {
        method,
        dispatcher: options.dispatcher,
        headers: {
          authorization: `Bearer ${accessToken}`,
          accept: 'application/json',
          'user-agent': options.userAgent ?? 'whatsapp-pin-onboarding',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body,
        headersTimeout: options.headersTimeoutMs,
        bodyTimeout: options.bodyTimeoutMs,
        signal,
      });
      const readings = options.onUsage ? usageFromHeaders(res.headers) : [];
      if (readings.length > 0) options.onUsage?.(readings);
      // Always read the body to the end, success or not, so the connection goes back to the pool.
      const bodyText = await res.body.text();
      return { status: res.statusCode, headers: res.headers, bodyText };
    } catch (err) {
      // Cancelled by its caller (Temporal cancels an activity at shutdown or on request): that is
      // no Graph failure, so it leaves unclassified, as the signal's own reason.
      if (signal?.aborted) throw signal.reason ?? err;
      throw classifyTransportError(err, secrets);
    }
  }

  /** A POST that carries the PIN and answers {"success":true}; anything else is classified. */
  async function postWithPin(
    operation: 'setTwoStepPin' | 'register',
    path: string,
    body: Record<string, string>,
    pin: string,
    signal: AbortSignal | undefined,
  ): Promise<{ fbtraceId?: string }> {
    const secrets = [pin, accessToken];
    const res = await call('POST', path, JSON.stringify(body), secrets, signal);
    const parsed = parseJson(res.bodyText) as { success?: unknown } | undefined;
    if (res.status >= 200 && res.status < 300 && parsed?.success === true) {
      return { fbtraceId: firstHeader(res.headers['x-fb-trace-id']) };
    }
    throw classifyGraphResponse({ ...res, redact: secrets, operation });
  }

  return {
    async setTwoStepPin({ phoneNumberId, pin, signal }) {
      checkPhoneNumberId(phoneNumberId);
      checkPin(pin);
      return postWithPin('setTwoStepPin', `/${apiVersion}/${phoneNumberId}`, { pin }, pin, signal);
    },

    async registerPhoneNumber({ phoneNumberId, pin, signal }) {
      checkPhoneNumberId(phoneNumberId);
      checkPin(pin);
      return postWithPin(
        'register',
        `/${apiVersion}/${phoneNumberId}/register`,
        { messaging_product: 'whatsapp', pin },
        pin,
        signal,
      );
    },

    async getPhoneNumber({ phoneNumberId, signal }) {
      checkPhoneNumberId(phoneNumberId);
      const secrets = [accessToken];
      const query = new URLSearchParams({ fields: PHONE_NUMBER_FIELDS.join(',') });
      const res = await call(
        'GET',
        `/${apiVersion}/${phoneNumberId}?${query.toString()}`,
        undefined,
        secrets,
        signal,
      );
      const parsed = parseJson(res.bodyText) as Record<string, unknown> | undefined;
      if (res.status < 200 || res.status >= 300 || typeof parsed?.id !== 'string') {
        throw classifyGraphResponse({
          ...res,
          redact: secrets,
          operation: 'readPhoneNumber',
          expected: '{"id":"...",...}',
        });
      }
      const details: PhoneNumberDetails = { id: parsed.id };
      for (const field of PHONE_NUMBER_FIELDS) {
        const value = optionalString(parsed[field]);
        if (field !== 'id' && value !== undefined) details[field] = value;
      }
      return details;
    },

    async listPhoneNumbers({ wabaId, signal }) {
      if (!/^\d{1,32}$/.test(wabaId)) {
        throw invalidInput(`WABA id must be 1-32 digits (got ${JSON.stringify(wabaId)})`);
      }
      const secrets = [accessToken];
      const numbers: PhoneNumberSummary[] = [];
      let after: string | undefined;
      for (let page = 0; page < MAX_PHONE_NUMBER_PAGES; page++) {
        const query = new URLSearchParams({
          fields: 'id,display_phone_number,verified_name',
          limit: String(PAGE_SIZE),
        });
        if (after) query.set('after', after);
        // Cursors, not paging.next: Meta's next URL carries the access token in its query string.
        const res = await call(
          'GET',
          `/${apiVersion}/${wabaId}/phone_numbers?${query.toString()}`,
          undefined,
          secrets,
          signal,
        );
        const parsed = parseJson(res.bodyText) as
          { data?: unknown; paging?: { next?: unknown; cursors?: { after?: unknown } } } | undefined;
        if (res.status < 200 || res.status >= 300 || !Array.isArray(parsed?.data)) {
          throw classifyGraphResponse({
            ...res,
            redact: secrets,
            operation: 'listPhoneNumbers',
            expected: '{"data":[...]}',
          });
        }
        for (const item of parsed.data as unknown[]) {
          const entry = item as Record<string, unknown> | null;
          if (typeof entry?.id !== 'string') continue;
          numbers.push({
            id: entry.id,
            display_phone_number:
              typeof entry.display_phone_number === 'string' ? entry.display_phone_number : undefined,
            verified_name: typeof entry.verified_name === 'string' ? entry.verified_name : undefined,
          });
        }
        const next = parsed.paging?.next;
        if (typeof next !== 'string' || next === '') return numbers;
        after = cursorAfter(parsed.paging?.cursors?.after, next);
        if (!after) return numbers;
      }
      throw new GraphError({
        type: GRAPH_FAILURE_TYPES.GraphUnexpectedResponse,
        retryable: false,
        message: `WABA ${wabaId} lists more than ${MAX_PHONE_NUMBER_PAGES * PAGE_SIZE} phone numbers; stopped following pages`,
      });
    },
  };
}

function cursorAfter(cursor: unknown, next: string): string | undefined {
  if (typeof cursor === 'string' && cursor !== '') return cursor;
  try {
    return new URL(next).searchParams.get('after') ?? undefined;
  } catch {
    return undefined;
  }
}
