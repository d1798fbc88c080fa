// Reading Meta's `security` webhooks: a person changed a number's two-step PIN in WhatsApp Manager
// (PIN_CHANGED), asked to turn two-step verification off (PIN_RESET_REQUEST), or finished that by
// the emailed link (PIN_REQUEST_SUCCESS). Meta sends them for WhatsApp Manager only, never for
// API calls, so our own PIN sets never come back here (docs/pin-drift.md).
//
// The entry is the WABA; the value names the display phone number (digits, no "+"), never the
// phone-number id, and a requester only on reset requests. Pure: no I/O, no clock.
import { createHash } from 'node:crypto';
import { HttpError } from '../http/http-error';
import { WABA_ID_PATTERN } from '../onboarding/onboarding-input';
import { quoteUntrusted } from '../text/quote-untrusted';
import { SECURITY_EVENT_NAMES, type SecurityEventName } from '../workflows/messages';

export { SECURITY_EVENT_NAMES, type SecurityEventName } from '../workflows/messages';

export const SECURITY_FIELD = 'security';

/** One security event, as the trigger hands it on. */
export interface SecurityEvent {
  event: SecurityEventName;
  wabaId: string;
  /** As Meta wrote it, e.g. "15550783881". */
  displayPhoneNumber: string;
  /** The same number reduced to its digits: how it is matched against the WABA's list. */
  displayDigits: string;
  /** The Meta Business Suite user id; Meta documents it for reset requests only. */
  requester?: string;
  /** When Meta says the event happened (the entry's `time`), ISO; absent when Meta gave none. */
  occurredAt?: string;
  /**
   * Stable across redeliveries of the same event and different for any other event: the key the
   * workflow and the vault record use to ignore a duplicate.
   */
  key: string;
}

export interface SecurityWebhookReading {
  events: SecurityEvent[];
  /** What was set aside as never valid, one line each; values shown escaped and cut short. */
  problems: string[];
}

/** Meta's user ids are numeric strings like every object id. */
const REQUESTER_PATTERN = /^[0-9]{1,32}$/;
/** At least a country code and a subscriber number; at most E.164's 15 digits (plus slack). */
const DISPLAY_DIGITS_PATTERN = /^[0-9]{6,20}$/;
const DISPLAY_PHONE_NUMBER_PATTERN = /^\+?[0-9][0-9 ().-]{0,31}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "+1 555-078-3881" and "15550783881" are the same number. */
export function displayDigitsOf(displayPhoneNumber: string): string {
  return displayPhoneNumber.replace(/[^0-9]/g, '');
}

function isSecurityEventName(value: unknown): value is SecurityEventName {
  return typeof value === 'string' && (SECURITY_EVENT_NAMES as readonly string[]).includes(value);
}

/** Seconds since 1970 (Meta's `time`); Meta has sent milliseconds on some fields, so accept both. */
function occurredAtOf(time: unknown): string | undefined {
  if (typeof time !== 'number' || !Number.isFinite(time) || time <= 0) return undefined;
  const ms = time > 1e12 ? time : time * 1000;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export function securityEventKey(e: Omit<SecurityEvent, 'key'>): string {
  const parts = [e.wabaId, e.displayDigits, e.event, e.occurredAt ?? '-', e.requester ?? '-'];
  return createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 24);
}

/**
 * The security events of a webhook body. Throws HttpError(400) when the body is not a webhook
 * notification at all; other fields are ignored, and a security change that can never be valid
 * is set aside with the reason (answered 200 by the trigger: a redelivery would fail alike).
 */
export function readSecurityEvents(body: unknown): SecurityWebhookReading {
  if (!isObject(body) || !Array.isArray(body.entry)) {
    throw new HttpError(
      400,
      'MalformedBody',
      'expected a webhook notification {"object":..., "entry":[...]}',
    );
  }
  const events = new Map<string, SecurityEvent>();
  const problems: string[] = [];
  (body.entry as unknown[]).forEach((entry, e) => {
    if (!isObject(entry) || !Array.isArray(entry.changes)) return;
    (entry.changes as unknown[]).forEach((change, c) => {
      if (!isObject(change) || change.field !== SECURITY_FIELD) return;
      const where = `entry[${e}].changes[${c}] security`;
      const value = change.value;
      if (!isObject(value)) {
        problems.push(`${where}: value is not an object, skipped`);
        return;
      }
      const wabaId = entry.id;
      if (typeof wabaId !== 'string' || !WABA_ID_PATTERN.test(wabaId)) {
        problems.push(`${where}: entry id ${quoteUntrusted(wabaId)} is not a WABA id (1-32 digits), skipped`);
        return;
      }
      if (!isSecurityEventName(value.event)) {
        problems.push(
          `${where}: event ${quoteUntrusted(value.event)} is not one of ${SECURITY_EVENT_NAMES.join(', ')}, skipped`,
        );
        return;
      }
      const display = value.display_phone_number;
      const digits = typeof display === 'string' ? displayDigitsOf(display) : '';
      if (
        typeof display !== 'string' ||
        !DISPLAY_PHONE_NUMBER_PATTERN.test(display) ||
        !DISPLAY_DIGITS_PATTERN.test(digits)
      ) {
        problems.push(
          `${where}: display_phone_number ${quoteUntrusted(display)} is not a phone number, skipped`,
        );
        return;
      }
      const requester = value.requester;
      // A malformed requester costs only the "who": the event itself still counts.
      const requesterOk = typeof requester === 'string' && REQUESTER_PATTERN.test(requester);
      if (requester !== undefined && !requesterOk) {
        problems.push(
          `${where}: requester ${quoteUntrusted(requester)} is not a user id, event kept without it`,
        );
      }
      const occurredAt = occurredAtOf(entry.time);
      const event: Omit<SecurityEvent, 'key'> = {
        event: value.event,
        wabaId,
        displayPhoneNumber: display,
        displayDigits: digits,
        ...(requesterOk ? { requester } : {}),
        ...(occurredAt !== undefined ? { occurredAt } : {}),
      };
      const key = securityEventKey(event);
      events.set(key, { ...event, key });
    });
  });
  return { events: [...events.values()], problems };
}
