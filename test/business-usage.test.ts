import { describe, expect, it } from 'vitest';
import {
  APP_USAGE_KEY,
  parseAppUsage,
  parseBusinessUseCaseUsage,
  usageFromHeaders,
} from '../src/graph/business-usage';

describe("Meta's usage headers", () => {
  it('reads each WABA`s highest percentage and the wait Meta announces, in ms', () => {
    const header = JSON.stringify({
      '102290129340398': [
        { type: 'whatsapp_business_management', call_count: 28, total_cputime: 40, total_time: 9 },
        { type: 'whatsapp_business_messaging', call_count: 3, estimated_time_to_regain_access: 0 },
      ],
      '555': [{ type: 'whatsapp_business_management', call_count: 100, estimated_time_to_regain_access: 7 }],
    });
    expect(parseBusinessUseCaseUsage(header).sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: '102290129340398', usage: 0.4, regainAccessMs: 0 },
      { key: '555', usage: 1, regainAccessMs: 7 * 60_000 },
    ]);
  });

  it('reads X-App-Usage as the app`s budget, whatever the header`s case', () => {
    expect(parseAppUsage('{"call_count":12,"total_cputime":85,"total_time":3}')).toEqual({
      key: APP_USAGE_KEY,
      usage: 0.85,
      regainAccessMs: 0,
    });
    const readings = usageFromHeaders({
      'X-App-Usage': '{"call_count":5}',
      'x-business-use-case-usage': '{"1":[{"call_count":81}]}',
    });
    expect(readings).toEqual([
      { key: '1', usage: 0.81, regainAccessMs: 0 },
      { key: APP_USAGE_KEY, usage: 0.05, regainAccessMs: 0 },
    ]);
  });

  it('skips what is malformed instead of guessing', () => {
    expect(parseBusinessUseCaseUsage('not json')).toEqual([]);
    expect(parseBusinessUseCaseUsage('[1,2]')).toEqual([]);
    expect(parseBusinessUseCaseUsage('{"1":[{"call_count":"lots"}],"2":"x"}')).toEqual([]);
    expect(parseAppUsage('{"call_count":-3}')).toBeUndefined();
    expect(usageFromHeaders({})).toEqual([]);
  });
});
