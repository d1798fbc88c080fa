// What "Meta" knows in the sandbox: the PIN each number holds and how often it was posted to,
// the WABAs and their phone numbers, and the log of requests received (never a PIN or a token).
import { HttpError } from '../http/http-error';

const MAX_LOG_ENTRIES = 2_000;

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
}

export interface NumberState {
  id: string;
  pin: string | null;
  pinSetAt: string | null;
  /** POST requests received for this number, whatever their outcome. */
  posts: number;
  /** Successful PIN sets. */
  pinSets: number;
}

interface NumberRecord {
  pin?: string;
  pinSetAt?: string;
  posts: number;
  pinSets: number;
}

export interface SandboxState {
  numberState(id: string): NumberState;
  pinOf(id: string): string | undefined;
  countPost(id: string): void;
  setPin(id: string, pin: string): void;
  /** The WABA a phone number is registered to, if any. */
  wabaOf(phoneNumberId: string): string | undefined;
  wabaNumbers(wabaId: string): SandboxPhoneNumber[] | undefined;
  addWaba(wabaId: string, numbers: SandboxPhoneNumber[]): void;
  /** The phone-number node as Graph returns it (fields of a known number, defaults otherwise). */
  phoneInfo(id: string): Record<string, unknown>;
  logRequest(entry: RequestLogEntry): void;
  requests(): RequestLogEntry[];
  /** Forgets PINs, counters and the log; WABAs go back to the start options. */
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

export function createSandboxState(initialWabas?: Record<string, SandboxPhoneNumber[]>): SandboxState {
  const numbers = new Map<string, NumberRecord>();
  let wabas = cloneWabas(initialWabas);
  let requestLog: RequestLogEntry[] = [];

  function recordOf(id: string): NumberRecord {
    let record = numbers.get(id);
    if (!record) {
      record = { posts: 0, pinSets: 0 };
      numbers.set(id, record);
    }
    return record;
  }

  return {
    numberState(id) {
      const record = numbers.get(id);
      return {
        id,
        pin: record?.pin ?? null,
        pinSetAt: record?.pinSetAt ?? null,
        posts: record?.posts ?? 0,
        pinSets: record?.pinSets ?? 0,
      };
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
      return {
        id,
        display_phone_number: known?.display_phone_number ?? `+1 555-01${id.slice(-2).padStart(2, '0')}`,
        verified_name: known?.verified_name ?? 'Sandbox Business',
        code_verification_status: 'VERIFIED',
        quality_rating: 'GREEN',
        platform_type: 'CLOUD_API',
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
      wabas = cloneWabas(initialWabas);
    },
  };
}
