// Meta's usage headers, read on every Graph response, successes included: how much of a budget
// is spent before Meta throttles, and when access comes back once it has.
//   X-Business-Use-Case-Usage: {"<WABA id>":[{"type":"whatsapp_business_management","call_count":28,
//     "total_cputime":4,"total_time":9,"estimated_time_to_regain_access":0}]}  (percentages; minutes)
//   X-App-Usage: {"call_count":12,"total_cputime":2,"total_time":3}  (percentages of the app's budget)
// Both count over a rolling hour. Anything malformed is skipped: a wrong reading is worse than none.

import { parseJsonObject } from '../http/json-object';

/** The key the app-wide budget (X-App-Usage) is kept under. */
export const APP_USAGE_KEY = 'app';

export interface UsageReading {
  /** A WABA id (or another business object id), or APP_USAGE_KEY. */
  key: string;
  /** The highest of call_count, total_cputime and total_time, as a fraction (0.8 = 80 %). */
  usage: number;
  /** Milliseconds until Meta lets calls through again; 0 when not throttled. */
  regainAccessMs: number;
}

type Headers = Record<string, string | string[] | undefined>;

function headerValue(headers: Headers, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    return Array.isArray(value) ? value.join(',') : value;
  }
  return undefined;
}

function parseObject(text: string | undefined): Record<string, unknown> | undefined {
  return text ? parseJsonObject(text) : undefined;
}

function percent(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** The highest of the three percentages of one usage entry, as a fraction; undefined if none is given. */
function usageOf(entry: Record<string, unknown>): number | undefined {
  const values = [entry.call_count, entry.total_cputime, entry.total_time]
    .map(percent)
    .filter((v): v is number => v !== undefined);
  return values.length > 0 ? Math.max(...values) / 100 : undefined;
}

export function parseBusinessUseCaseUsage(text: string | undefined): UsageReading[] {
  const byObject = parseObject(text);
  if (!byObject) return [];
  const readings: UsageReading[] = [];
  for (const [key, value] of Object.entries(byObject)) {
    const entries: unknown[] = Array.isArray(value) ? value : [value];
    let usage: number | undefined;
    let regainMinutes = 0;
    for (const raw of entries) {
      if (typeof raw !== 'object' || raw === null) continue;
      const entry = raw as Record<string, unknown>;
      const u = usageOf(entry);
      if (u !== undefined) usage = Math.max(usage ?? 0, u);
      regainMinutes = Math.max(regainMinutes, percent(entry.estimated_time_to_regain_access) ?? 0);
    }
    if (usage !== undefined || regainMinutes > 0) {
      readings.push({ key, usage: usage ?? 1, regainAccessMs: Math.round(regainMinutes * 60_000) });
    }
  }
  return readings;
}

export function parseAppUsage(text: string | undefined): UsageReading | undefined {
  const entry = parseObject(text);
  const usage = entry && usageOf(entry);
  return usage === undefined ? undefined : { key: APP_USAGE_KEY, usage, regainAccessMs: 0 };
}

/** Every usage reading a response carries. */
export function usageFromHeaders(headers: Headers): UsageReading[] {
  const app = parseAppUsage(headerValue(headers, 'x-app-usage'));
  return [
    ...parseBusinessUseCaseUsage(headerValue(headers, 'x-business-use-case-usage')),
    ...(app ? [app] : []),
  ];
}
