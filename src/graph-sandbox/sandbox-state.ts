// What "Meta" knows in the sandbox: the PIN each number holds and how often it was posted to,
// whether it is verified and registered on Cloud API, its register/deregister calls (Meta's budget),
// the WABAs and their phone numbers, and the log of requests received (never a PIN or a token).
import { HttpError } from '../http/http-error';

const MAX_LOG_ENTRIES = 2_000;
/** Meta: 10 register/deregister requests per number in a moving 72-hour window, then 72 hours blocked. */
export const SANDBOX_REGISTRATION_LIMIT = 10;
export const SANDBOX_REGISTRATION_WINDOW_MS = 72 * 3_600_000;

/**
 * How a number starts out. Without a setup a number is verified and registered on Cloud API with no
 * two-step PIN (what older sandbox runs assumed); a number fresh from embedded signup is
 * `{ "registered": false }`.
 */
export interface SandboxNumberSetup {
  registered?: boolean;
  verified?: boolean;
  /** A two-step PIN set outside the product (by hand in WhatsApp Manager). */
  twoStepPin?: string;
  /** Register/deregister calls made elsewhere in the last 72 hours (10 = budget spent). */
  recentRegistrationCalls?: number;
}

export type SandboxNumberSetups = Record<string, SandboxNumberSetup>;

export type RegisterAnswer =
  { ok: true } | { ok: false; code: 133016 | 133006 | 133005; blockedUntil?: number };

export interface SandboxPhoneNumber {
  id: string;
  display_phone_number?: string;
  verified_name?: string;
}

export interface RequestLogEntry {
  method: string;
  /** The path without its query string (which could carry access_token). */
  path: string;
  phoneNumberId?: string;
  /** HTTP status answered; 0 when the connection was destroyed instead. */
  status: number;
  at: string;
  durationMs: number;
  graphCode?: number;
  /** The injected fault, when a scenario produced this answer. */
  fault?: string;
  /** Which token the call presented, as tokenFingerprint() of it (never the token). */
  tokenId?: string;
}

export interface NumberState {
  id: string;
  /** The two-step PIN Meta holds, set by POST /{id} or by a first /register. */
  pin: string | null;
  pinSetAt: string | null;
  /** POST requests received for this number, whatever their outcome. */
  posts: number;
  /** Successful PIN sets. */
  pinSets: number;
  registered: boolean;
  verified: boolean;
  /** /register requests received, whatever their outcome. */
  registerCalls: number;
  /** Register/deregister requests in the moving 72-hour window, as Meta counts them. */
  registrationCallsInWindow: number;
  /** While Meta refuses registration for this number (133016), ISO. */
  registrationBlockedUntil: string | null;
}

interface NumberRecord {
  pin?: string;
  pinSetAt?: string;
  posts: number;
  pinSets: number;
  registered: boolean;
  verified: boolean;
  registerCalls: number;
  /** Epoch ms of every register/deregister request. */
  registrationCalls: number[];
  blockedUntil?: number;
}

export interface SandboxState {
  numberState(id: string): NumberState;
  pinOf(id: string): string | undefined;
  countPost(id: string): void;
  setPin(id: string, pin: string): void;
  /** A person in WhatsApp Manager: sets (or, with null, turns off) the PIN; not an API set. */
  setPinByHand(id: string, pin: string | null): void;
  isRegistered(id: string): boolean;
  /**
   * A /register request with this PIN, decided as Meta does: the budget first (the request counts),
   * then verification, then the two-step PIN, which the PIN becomes when the number has none.
   */
  register(id: string, pin: string): RegisterAnswer;
  /** A /deregister request: counts against the same budget; the number is no longer registered. */
  deregister(id: string): RegisterAnswer;
  /** Sets (or replaces) how a number starts out; its counters start again. */
  setupNumber(id: string, setup: SandboxNumberSetup): void;
  /** Moves the sandbox's clock (the registration window) forward, for tests and demos. */
  advanceClock(ms: number): void;
  /** The WABA a phone number is registered to, if any. */
  wabaOf(phoneNumberId: string): string | undefined;
  wabaNumbers(wabaId: string): SandboxPhoneNumber[] | undefined;
  addWaba(wabaId: string, numbers: SandboxPhoneNumber[]): void;
  /** The phone-number node as Graph returns it (fields of a known number, defaults otherwise). */
  phoneInfo(id: string): Record<string, unknown>;
  logRequest(entry: RequestLogEntry): void;
  requests(): RequestLogEntry[];
  /** Forgets PINs, counters and the log; WABAs and number setups go back to the start options. */
  reset(): void;
}

export function parseWabaNumbers(value: unknown): SandboxPhoneNumber[] {
  const list = Array.isArray(value) ? value : (value as { phone_numbers?: unknown } | null)?.phone_numbers;
  if (!Array.isArray(list)) {
    throw new HttpError(
      400,
      'BadRequest',
      'body must be a list of {id, display_phone_number?, verified_name?} or {phone_numbers:[...]}',
    );
  }
  return list.map((item: unknown, i) => {
    const entry = item as Record<string, unknown> | null;
    if (typeof entry?.id !== 'string' || !/^\d{1,32}$/.test(entry.id)) {
      throw new HttpError(400, 'BadRequest', `phone_numbers[${i}].id must be a string of digits`);
    }
    for (const field of ['display_phone_number', 'verified_name'] as const) {
      if (entry[field] !== undefined && typeof entry[field] !== 'string') {
        throw new HttpError(400, 'BadRequest', `phone_numbers[${i}].${field} must be a string`);
      }
    }
    return {
      id: entry.id,
      display_phone_number: entry.display_phone_number as string | undefined,
      verified_name: entry.verified_name as string | undefined,
    };
  });
}

function cloneWabas(
  wabas: Record<string, SandboxPhoneNumber[]> | undefined,
): Map<string, SandboxPhoneNumber[]> {
  return new Map(Object.entries(wabas ?? {}).map(([id, numbers]) => [id, numbers.map((n) => ({ ...n }))]));
}

export interface SandboxStateOptions {
  wabas?: Record<string, SandboxPhoneNumber[]>;
  numbers?: SandboxNumberSetups;
  /** Epoch ms; defaults to the system clock. */
  now?: () => number;
}

export function createSandboxState(options: SandboxStateOptions = {}): SandboxState {
  const numbers = new Map<string, NumberRecord>();
  let wabas = cloneWabas(options.wabas);
  let setups: SandboxNumberSetups = structuredClone(options.numbers ?? {});
  let requestLog: RequestLogEntry[] = [];
  let clockOffset = 0;
  const now = () => (options.now ?? Date.now)() + clockOffset;

  function freshRecord(setup: SandboxNumberSetup | undefined): NumberRecord {
    const at = now();
    return {
      pin: setup?.twoStepPin,
      pinSetAt: setup?.twoStepPin === undefined ? undefined : new Date(at).toISOString(),
      posts: 0,
      pinSets: 0,
      registered: setup?.registered ?? true,
      verified: setup?.verified ?? true,
      registerCalls: 0,
      // Calls made elsewhere: spread over the last hour, so they stay in the window for ~71 hours.
      registrationCalls: Array.from(
        { length: setup?.recentRegistrationCalls ?? 0 },
        (_, i) => at - 3_600_000 + i,
      ),
    };
  }

  function recordOf(id: string): NumberRecord {
    let record = numbers.get(id);
    if (!record) {
      record = freshRecord(setups[id]);
      numbers.set(id, record);
    }
    return record;
  }

  function callsInWindow(record: NumberRecord, at: number): number {
    return record.registrationCalls.filter((t) => t > at - SANDBOX_REGISTRATION_WINDOW_MS).length;
  }

  /** Counts the request, and answers 133016 when 10 were made already or the number is blocked. */
  function spendBudget(record: NumberRecord): RegisterAnswer | undefined {
    const at = now();
    const blocked = record.blockedUntil !== undefined && record.blockedUntil > at;
    const spent = callsInWindow(record, at) >= SANDBOX_REGISTRATION_LIMIT;
    record.registrationCalls.push(at);
    if (!blocked && !spent) return undefined;
    if (!blocked) record.blockedUntil = at + SANDBOX_REGISTRATION_WINDOW_MS;
    return { ok: false, code: 133016, blockedUntil: record.blockedUntil };
  }

  return {
    numberState(id) {
      const record = numbers.get(id) ?? freshRecord(setups[id]);
      const at = now();
      return {
        id,
        pin: record.pin ?? null,
        pinSetAt: record.pinSetAt ?? null,
        posts: record.posts,
        pinSets: record.pinSets,
        registered: record.registered,
        verified: record.verified,
        registerCalls: record.registerCalls,
        registrationCallsInWindow: callsInWindow(record, at),
        registrationBlockedUntil:
          record.blockedUntil !== undefined && record.blockedUntil > at
            ? new Date(record.blockedUntil).toISOString()
            : null,
      };
    },
    isRegistered: (id) => recordOf(id).registered,
    register(id, pin) {
      const record = recordOf(id);
      record.registerCalls++;
      const refused = spendBudget(record);
      if (refused) return refused;
      if (!record.verified) return { ok: false, code: 133006 };
      if (record.pin !== undefined && record.pin !== pin) return { ok: false, code: 133005 };
      if (record.pin === undefined) {
        record.pin = pin;
        record.pinSetAt = new Date(now()).toISOString();
      }
      record.registered = true;
      return { ok: true };
    },
    deregister(id) {
      const record = recordOf(id);
      const refused = spendBudget(record);
      if (refused) return refused;
      record.registered = false;
      return { ok: true };
    },
    setupNumber(id, setup) {
      setups = { ...setups, [id]: { ...setup } };
      numbers.set(id, freshRecord(setup));
    },
    advanceClock(ms) {
      clockOffset += ms;
    },
    pinOf: (id) => numbers.get(id)?.pin,
    countPost(id) {
      recordOf(id).posts++;
    },
    setPin(id, pin) {
      const record = recordOf(id);
      record.pin = pin;
      record.pinSetAt = new Date().toISOString();
      record.pinSets++;
    },
    setPinByHand(id, pin) {
      const record = recordOf(id);
      if (pin === null) delete record.pin;
      else record.pin = pin;
      record.pinSetAt = new Date().toISOString();
    },
    wabaOf(phoneNumberId) {
      for (const [wabaId, list] of wabas) if (list.some((n) => n.id === phoneNumberId)) return wabaId;
      return undefined;
    },
    wabaNumbers: (wabaId) => wabas.get(wabaId),
    addWaba(wabaId, list) {
      if (!/^\d{1,32}$/.test(wabaId)) throw new HttpError(400, 'BadRequest', 'WABA id must be digits');
      wabas.set(wabaId, parseWabaNumbers(list));
    },
    phoneInfo(id) {
      const known = [...wabas.values()].flat().find((n) => n.id === id);
      const record = numbers.get(id) ?? freshRecord(setups[id]);
      return {
        id,
        display_phone_number: known?.display_phone_number ?? `+1 555-01${id.slice(-2).padStart(2, '0')}`,
        verified_name: known?.verified_name ?? 'Sandbox Business',
        code_verification_status: record.verified ? 'VERIFIED' : 'NOT_VERIFIED',
        quality_rating: 'GREEN',
        // A number not (or no longer) on Cloud API reads NOT_APPLICABLE and PENDING, as after signup.
        platform_type: record.registered ? 'CLOUD_API' : 'NOT_APPLICABLE',
        status: record.registered ? 'CONNECTED' : 'PENDING',
        name_status: 'APPROVED',
        throughput: { level: 'STANDARD' },
      };
    },
    logRequest(entry) {
      requestLog.push(entry);
      if (requestLog.length > MAX_LOG_ENTRIES) requestLog.splice(0, requestLog.length - MAX_LOG_ENTRIES);
    },
    requests: () => requestLog.map((e) => ({ ...e })),
    reset() {
      numbers.clear();
      requestLog = [];
      clockOffset = 0;
      wabas = cloneWabas(options.wabas);
      setups = structuredClone(options.numbers ?? {});
    },
  };
}
