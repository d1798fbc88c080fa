// Reading Meta's security webhook (pure) and mapping its display number to a phone-number id through
// the WABA's list, with the cache that keeps a burst of events to one Graph call.
import { describe, expect, it } from 'vitest';
import type { PhoneNumberSummary } from '../src/graph/graph-client';
import { createPhoneNumberResolver } from '../src/trigger/phone-number-resolver';
import { displayDigitsOf, readSecurityEvents } from '../src/trigger/security-webhook';

function notification(changes: unknown[], entry: Record<string, unknown> = {}) {
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: '102290129340398', time: 1748811473, changes, ...entry }],
  };
}

const pinChanged = {
  field: 'security',
  value: { display_phone_number: '15550783881', event: 'PIN_CHANGED' },
};

describe('security webhook', () => {
  it('reads the three events with the WABA, the display number, the time and the requester', () => {
    const { events, problems } = readSecurityEvents(
      notification([
        pinChanged,
        {
          field: 'security',
          value: {
            display_phone_number: '15550783881',
            event: 'PIN_RESET_REQUEST',
            requester: '61555822107539',
          },
        },
        { field: 'security', value: { display_phone_number: '15550783881', event: 'PIN_REQUEST_SUCCESS' } },
      ]),
    );
    expect(problems).toEqual([]);
    expect(events.map((e) => e.event)).toEqual(['PIN_CHANGED', 'PIN_RESET_REQUEST', 'PIN_REQUEST_SUCCESS']);
    expect(events[0]).toMatchObject({
      wabaId: '102290129340398',
      displayPhoneNumber: '15550783881',
      displayDigits: '15550783881',
      occurredAt: '2025-06-01T20:57:53.000Z',
    });
    expect(events[0]?.requester).toBeUndefined();
    expect(events[1]?.requester).toBe('61555822107539');
    expect(new Set(events.map((e) => e.key)).size).toBe(3);
  });

  it('gives a redelivery the same key and a later event a different one', () => {
    const first = readSecurityEvents(notification([pinChanged])).events[0];
    const again = readSecurityEvents(notification([pinChanged])).events[0];
    const later = readSecurityEvents(notification([pinChanged], { time: 1748811999 })).events[0];
    expect(first?.key).toMatch(/^[0-9a-f]{24}$/);
    expect(again?.key).toBe(first?.key);
    expect(later?.key).not.toBe(first?.key);
  });

  it('keeps one copy of an event repeated inside one notification', () => {
    expect(readSecurityEvents(notification([pinChanged, pinChanged])).events).toHaveLength(1);
  });

  it('ignores other fields and sets aside what can never be valid, with the reason', () => {
    const { events, problems } = readSecurityEvents(
      notification([
        { field: 'account_update', value: { event: 'PARTNER_ADDED' } },
        { field: 'security', value: { display_phone_number: '15550783881', event: 'PIN_EXPLODED' } },
        { field: 'security', value: { display_phone_number: 'call me', event: 'PIN_CHANGED' } },
        { field: 'security', value: 'nope' },
        {
          field: 'security',
          value: { display_phone_number: '+1 555-078-3881', event: 'PIN_RESET_REQUEST', requester: 'x\ny' },
        },
      ]),
    );
    expect(problems).toHaveLength(4);
    expect(problems[0]).toContain('event "PIN_EXPLODED" is not one of PIN_CHANGED');
    expect(problems[1]).toContain('display_phone_number "call me" is not a phone number');
    expect(problems[2]).toContain('value is not an object');
    expect(problems[3]).toContain('requester "x\\ny" is not a user id, event kept without it');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event: 'PIN_RESET_REQUEST', displayDigits: '15550783881' });
    expect(events[0]?.requester).toBeUndefined();
  });

  it('sets aside an entry whose id is not a WABA id, and refuses a body that is no notification', () => {
    const { events, problems } = readSecurityEvents(notification([pinChanged], { id: '../etc' }));
    expect(events).toEqual([]);
    expect(problems[0]).toContain('entry id "../etc" is not a WABA id');
    expect(() => readSecurityEvents({ hello: 1 })).toThrow(/expected a webhook notification/);
  });

  it('reduces display numbers to digits', () => {
    expect(displayDigitsOf('+1 (555) 078-3881')).toBe('15550783881');
  });
});

describe('display number resolver', () => {
  const numbers: PhoneNumberSummary[] = [
    { id: '106540352242922', display_phone_number: '+1 555-078-3881' },
    { id: '106540352242923', display_phone_number: '+1 555-078-3882' },
  ];

  function resolverWith(list: PhoneNumberSummary[][], clock: { now: number }) {
    const calls: string[] = [];
    const resolver = createPhoneNumberResolver({
      list: async (wabaId) => {
        calls.push(wabaId);
        return list[Math.min(calls.length - 1, list.length - 1)] ?? [];
      },
      ttlMs: 60_000,
      missRefreshAfterMs: 5_000,
      now: () => clock.now,
    });
    return { resolver, calls };
  }

  it("maps Meta's digits to the id Graph lists under a formatted number, one listing for a burst", async () => {
    const clock = { now: 1_000 };
    const { resolver, calls } = resolverWith([numbers], clock);
    const [a, b] = await Promise.all([
      resolver.resolve({ wabaId: '1', displayPhoneNumber: '15550783881' }),
      resolver.resolve({ wabaId: '1', displayPhoneNumber: '15550783882' }),
    ]);
    expect(a).toEqual({ found: true, phoneNumberId: '106540352242922' });
    expect(b).toEqual({ found: true, phoneNumberId: '106540352242923' });
    expect(calls).toEqual(['1']);
    clock.now += 59_000;
    await resolver.resolve({ wabaId: '1', displayPhoneNumber: '15550783881' });
    expect(calls).toHaveLength(1);
    clock.now += 2_000;
    await resolver.resolve({ wabaId: '1', displayPhoneNumber: '15550783881' });
    expect(calls).toHaveLength(2);
  });

  it('looks once more for a number missing from an older listing, not from a fresh one', async () => {
    const clock = { now: 1_000 };
    const added = [...numbers, { id: '106540352242999', display_phone_number: '15550789999' }];
    const { resolver, calls } = resolverWith([numbers, added], clock);
    expect(await resolver.resolve({ wabaId: '1', displayPhoneNumber: '15550789999' })).toEqual({
      found: false,
      reason: 'unknown',
    });
    expect(calls).toHaveLength(1);
    clock.now += 6_000;
    expect(await resolver.resolve({ wabaId: '1', displayPhoneNumber: '15550789999' })).toEqual({
      found: true,
      phoneNumberId: '106540352242999',
    });
    expect(calls).toHaveLength(2);
  });

  it('refuses to guess between two numbers with the same display number', async () => {
    const twins = [
      { id: '1', display_phone_number: '+1 555 000 0000' },
      { id: '2', display_phone_number: '15550000000' },
    ];
    const { resolver } = resolverWith([twins], { now: 0 });
    expect(await resolver.resolve({ wabaId: '9', displayPhoneNumber: '15550000000' })).toEqual({
      found: false,
      reason: 'ambiguous',
      candidates: ['1', '2'],
    });
  });

  it('lets a failed listing fail the lookup and tries again next time', async () => {
    let fail = true;
    const resolver = createPhoneNumberResolver({
      list: async () => {
        if (fail) throw new Error('Graph down');
        return numbers;
      },
    });
    await expect(resolver.resolve({ wabaId: '1', displayPhoneNumber: '15550783881' })).rejects.toThrow(
      'Graph down',
    );
    fail = false;
    expect(await resolver.resolve({ wabaId: '1', displayPhoneNumber: '15550783881' })).toMatchObject({
      found: true,
    });
    expect(resolver.listings()).toBe(2);
  });
});
