// Reading Meta's account_update PARTNER_ADDED webhooks (a business shared its WABA with us). What
// can never become valid is set aside with a reason, never retried: a redelivery of the same bytes
// would fail the same way, so refusing the whole notification would only make Meta redeliver it
// for days while the usable part waits. An owner_business_id that is not a business id costs the
// tenant only: those numbers are onboarded under the WABA id instead.
import { HttpError } from '../http/http-error';
import { WABA_ID_PATTERN } from '../onboarding/onboarding-input';
import { quoteUntrusted } from '../text/quote-untrusted';

/** A WABA shared with us: its numbers are onboarded under `tenant`. */
export interface PartnerAddedEvent {
  wabaId: string;
  /** The owner business id when it is one (digits), else the WABA id. */
  tenant: string;
}

export interface PartnerAddedReading {
  events: PartnerAddedEvent[];
  /** What was set aside, one line each, caller values escaped and cut short. */
  problems: string[];
}

/** Business portfolio ids are numeric strings, like every Meta object id. */
const BUSINESS_ID_PATTERN = WABA_ID_PATTERN;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The PARTNER_ADDED events of a webhook body; throws HttpError(400) when the body is not shaped
 * like a WhatsApp Business Account webhook at all. Other fields and events are ignored.
 */
export function readPartnerAdded(body: unknown): PartnerAddedReading {
  if (!isObject(body) || !Array.isArray(body.entry)) {
    throw new HttpError(
      400,
      'MalformedBody',
      'expected a webhook notification {"object":..., "entry":[...]}',
    );
  }
  const events = new Map<string, PartnerAddedEvent>();
  const problems: string[] = [];
  (body.entry as unknown[]).forEach((entry, e) => {
    if (!isObject(entry) || !Array.isArray(entry.changes)) return;
    (entry.changes as unknown[]).forEach((change, c) => {
      if (!isObject(change) || change.field !== 'account_update' || !isObject(change.value)) return;
      if (change.value.event !== 'PARTNER_ADDED') return;
      const where = `entry[${e}].changes[${c}] PARTNER_ADDED`;
      const info = isObject(change.value.waba_info) ? change.value.waba_info : {};
      const wabaId = typeof info.waba_id === 'string' ? info.waba_id : entry.id;
      if (typeof wabaId !== 'string' || !WABA_ID_PATTERN.test(wabaId)) {
        problems.push(`${where}: waba_id ${quoteUntrusted(wabaId)} is not a WABA id (1-32 digits), skipped`);
        return;
      }
      const owner = info.owner_business_id;
      let tenant = wabaId;
      if (typeof owner === 'string' && BUSINESS_ID_PATTERN.test(owner)) tenant = owner;
      else if (owner !== undefined) {
        problems.push(
          `${where}: owner_business_id ${quoteUntrusted(owner)} is not a business id (1-32 digits), ` +
            `WABA ${wabaId} onboarded with its WABA id as tenant`,
        );
      }
      events.set(wabaId, { wabaId, tenant });
    });
  });
  return { events: [...events.values()], problems };
}
