// Meta's security webhook names a number by its display phone number; workflows, the vault and the
// Graph calls know it by its phone-number id. The WABA's phone-number list maps one to the other.
// Security events are rare and come in bursts for one WABA at most, so one listing per WABA is kept
// for a while and shared by the requests that need it at the same time.
import type { PhoneNumberSummary } from '../graph/graph-client';
import { displayDigitsOf } from './security-webhook';

export interface PhoneNumberResolverOptions {
  /** Lists a WABA's numbers (with the token that may read that WABA). */
  list(wabaId: string, signal?: AbortSignal): Promise<PhoneNumberSummary[]>;
  /** How long a listing answers lookups (default 10 minutes). */
  ttlMs?: number;
  /**
   * A number missing from a listing at least this old is looked up once more (default 30 s): it may
   * have joined the WABA since. Younger listings answer "unknown" without calling Graph again.
   */
  missRefreshAfterMs?: number;
  now?: () => number;
}

export type Resolution =
  | { found: true; phoneNumberId: string }
  | { found: false; reason: 'unknown' | 'ambiguous'; candidates?: string[] };

export interface PhoneNumberResolver {
  resolve(input: { wabaId: string; displayPhoneNumber: string; signal?: AbortSignal }): Promise<Resolution>;
  /** Graph calls made so far (for tests and the trigger's stats). */
  listings(): number;
}

interface Listing {
  at: number;
  byDigits: Map<string, string[]>;
}

export const DEFAULT_RESOLVER_TTL_MS = 10 * 60_000;
export const DEFAULT_MISS_REFRESH_AFTER_MS = 30_000;

export function createPhoneNumberResolver(opts: PhoneNumberResolverOptions): PhoneNumberResolver {
  const ttlMs = opts.ttlMs ?? DEFAULT_RESOLVER_TTL_MS;
  const missRefreshAfterMs = opts.missRefreshAfterMs ?? DEFAULT_MISS_REFRESH_AFTER_MS;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, Listing>();
  const inFlight = new Map<string, Promise<Listing>>();
  let listings = 0;

  function fetchListing(wabaId: string, signal?: AbortSignal): Promise<Listing> {
    const running = inFlight.get(wabaId);
    if (running) return running;
    const started = (async () => {
      listings++;
      const numbers = await opts.list(wabaId, signal);
      const byDigits = new Map<string, string[]>();
      for (const n of numbers) {
        if (!n.display_phone_number) continue;
        const digits = displayDigitsOf(n.display_phone_number);
        byDigits.set(digits, [...(byDigits.get(digits) ?? []), n.id]);
      }
      const listing = { at: now(), byDigits };
      cache.set(wabaId, listing);
      return listing;
    })().finally(() => inFlight.delete(wabaId));
    inFlight.set(wabaId, started);
    return started;
  }

  function answer(listing: Listing, digits: string): Resolution | undefined {
    const ids = listing.byDigits.get(digits);
    if (!ids) return undefined;
    const [only, ...others] = ids;
    if (only !== undefined && others.length === 0) return { found: true, phoneNumberId: only };
    return { found: false, reason: 'ambiguous', candidates: ids };
  }

  return {
    async resolve({ wabaId, displayPhoneNumber, signal }) {
      const digits = displayDigitsOf(displayPhoneNumber);
      let listing = cache.get(wabaId);
      if (!listing || now() - listing.at >= ttlMs) listing = await fetchListing(wabaId, signal);
      const first = answer(listing, digits);
      if (first) return first;
      if (now() - listing.at < missRefreshAfterMs) return { found: false, reason: 'unknown' };
      listing = await fetchListing(wabaId, signal);
      return answer(listing, digits) ?? { found: false, reason: 'unknown' };
    },
    listings: () => listings,
  };
}
