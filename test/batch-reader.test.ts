// The batch readers and row validation, without Temporal: every format, every kind of invalid
// row with its line, and the streaming edge cases (a chunk boundary anywhere, BOM, CRLF, quotes).
import { describe, expect, it } from 'vitest';
import { BatchFileError } from '../src/batch/batch-file-error';
import { readRows, type BatchFormat, type BatchRow } from '../src/batch/read-rows';
import { RowValidator, type RowVerdict } from '../src/batch/validate-row';

async function* chunks(text: string, size: number): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

async function rows(text: string, format: BatchFormat, chunkSize = 1 << 20): Promise<BatchRow[]> {
  const out: BatchRow[] = [];
  for await (const row of readRows(chunks(text, chunkSize), format)) out.push(row);
  return out;
}

async function verdicts(text: string, format: BatchFormat): Promise<RowVerdict[]> {
  const validator = new RowValidator();
  return (await rows(text, format)).map((r) => validator.validate(r));
}

async function fileError(text: string, format: BatchFormat): Promise<BatchFileError> {
  try {
    await rows(text, format);
  } catch (err) {
    if (err instanceof BatchFileError) return err;
    throw err;
  }
  throw new Error('expected a BatchFileError');
}

function invalid(v: RowVerdict): { line: number; reason: string } {
  if (v.valid) throw new Error(`line ${v.line} is valid`);
  return { line: v.line, reason: v.reason };
}

describe('CSV', () => {
  const csv = [
    '\uFEFFphone_number_id,waba_id,display_phone_number,tenant',
    '106540352242922,102290129340398,+1 555-078-3881,acme',
    '',
    '"106540352242923",,"+1 (555) 078-3882","Acme, Inc. ""West"""',
    '   ',
    ',,,',
    '106540352242924,102290129340398,,"multi',
    'line tenant"',
    '106540352242925,,,beta',
  ].join('\r\n');

  it('reads a BOM, CRLF, quoted fields with commas and doubled quotes, and skips blank lines', async () => {
    const result = await rows(csv, 'csv');
    expect(result.map((r) => r.line)).toEqual([2, 4, 7, 9]);
    expect(result[0]?.values).toEqual({
      phone_number_id: '106540352242922',
      waba_id: '102290129340398',
      display_phone_number: '+1 555-078-3881',
      tenant: 'acme',
    });
    expect(result[1]?.values.tenant).toBe('Acme, Inc. "West"');
    expect(result[1]?.values.display_phone_number).toBe('+1 (555) 078-3882');
    expect(result[2]?.values.tenant).toBe('multi\r\nline tenant');
    expect(result.every((r) => r.problem === undefined)).toBe(true);
  });

  it('gives the same rows whatever the chunk boundaries are', async () => {
    const whole = await rows(csv, 'csv');
    for (const size of [1, 2, 3, 5, 7, 13]) expect(await rows(csv, 'csv', size)).toEqual(whole);
  });

  it('validates rows into inputs, with the empty optional fields left out', async () => {
    const [first, second] = await verdicts(csv, 'csv');
    expect(first).toEqual({
      line: 2,
      valid: true,
      input: {
        phoneNumberId: '106540352242922',
        wabaId: '102290129340398',
        displayPhoneNumber: '+1 555-078-3881',
        tenant: 'acme',
      },
    });
    expect(second).toMatchObject({ valid: true, input: { phoneNumberId: '106540352242923' } });
    expect(second?.valid && second.input.wabaId).toBe(undefined);
  });

  it('reports every kind of invalid row with the line it starts on', async () => {
    const text = [
      'phone_number_id,tenant', // 1
      '111,acme', // 2
      ',acme', // 3 missing id
      'abc123,acme', // 4 not digits
      '111,other', // 5 duplicate of 2
      '222,acme,extra', // 6 too many fields
      '333', // 7 too few fields
      '444,"unclosed" tail', // 8 text after quote
      '555,ac"me', // 9 stray quote
      '666,"', // 10 unterminated: runs to the end of the file
      '777,ok',
    ].join('\n');
    const result = await verdicts(text, 'csv');
    expect(result.map((v) => [v.line, v.valid])).toEqual([
      [2, true],
      [3, false],
      [4, false],
      [5, false],
      [6, false],
      [7, false],
      [8, false],
      [9, false],
      [10, false],
    ]);
    const reasons = result.filter((v) => !v.valid).map(invalid);
    expect(reasons[0]?.reason).toBe('phone_number_id is missing');
    expect(reasons[1]?.reason).toMatch(/phone_number_id "abc123" is not a phone-number id/);
    expect(reasons[2]?.reason).toBe('duplicate of line 2 (same phone_number_id)');
    expect(reasons[3]?.reason).toMatch(/3 fields where the header has 2/);
    expect(reasons[4]?.reason).toMatch(/1 fields where the header has 2/);
    expect(reasons[5]?.reason).toMatch(/text after a closing quote/);
    expect(reasons[6]?.reason).toMatch(/a quote inside an unquoted field/);
    expect(reasons[7]?.reason).toMatch(/unterminated quoted field \(the quote opened on line 10/);
  });

  it('checks the optional fields as startOnboarding does', async () => {
    const text = [
      'phone_number_id,waba_id,display_phone_number,tenant',
      '111,waba-1,,',
      '222,,call me,',
      '333,,,"bad\ttenant"',
    ].join('\n');
    const reasons = (await verdicts(text, 'csv')).map(invalid);
    expect(reasons.map((r) => r.line)).toEqual([2, 3, 4]);
    expect(reasons[0]?.reason).toMatch(/^waba_id "waba-1" is not a WABA id/);
    expect(reasons[1]?.reason).toMatch(/^display_phone_number "call me" is not a phone number/);
    expect(reasons[2]?.reason).toMatch(/^tenant must be at most 100 printable characters/);
  });

  it('takes a register column (always, never, auto, any case) and refuses other words', async () => {
    const text = ['phone_number_id,register', '111,always', '222,NEVER', '333,', '444,sometimes'].join('\n');
    const result = await verdicts(text, 'csv');
    expect(result.slice(0, 3)).toEqual([
      { line: 2, valid: true, input: { phoneNumberId: '111', register: 'always' } },
      { line: 3, valid: true, input: { phoneNumberId: '222', register: 'never' } },
      { line: 4, valid: true, input: { phoneNumberId: '333' } },
    ]);
    expect(invalid(result[3]!).reason).toMatch(
      /^"register" must be one of always, never, auto \(got "sometimes"\)/,
    );
  });

  it('accepts header spellings of the same column (Phone Number ID, phoneNumberId)', async () => {
    const result = await verdicts('Phone Number ID,WABA_ID\n123,456\n', 'csv');
    expect(result).toEqual([{ line: 2, valid: true, input: { phoneNumberId: '123', wabaId: '456' } }]);
  });

  it('refuses a header with an unknown column, a repeated column or no phone_number_id', async () => {
    const unknown = await fileError('phone_number_id,tenant_id\n123,acme\n', 'csv');
    expect(unknown.line).toBe(1);
    expect(unknown.message).toMatch(/unknown column "tenant_id"/);
    const blankFirst = await fileError('\n\nphone_number_id,colour\n', 'csv');
    expect(blankFirst.line).toBe(3);
    expect((await fileError('phone_number_id,phoneNumberId\n', 'csv')).message).toMatch(/repeat a column/);
    expect((await fileError('tenant\nacme\n', 'csv')).message).toMatch(/no phone_number_id column/);
    expect((await fileError('', 'csv')).message).toMatch(/empty/);
  });
});

describe('JSON array', () => {
  const json = [
    '\uFEFF[',
    '  {"phone_number_id": "106540352242922", "waba_id": "102290129340398"},',
    '  {',
    '    "phoneNumberId": "106540352242923",',
    '    "tenant": "brackets ] and braces } in \\"strings\\""',
    '  },',
    '  {"phone_number_id": 1065403522, "displayPhoneNumber": "+1 555 0100"},',
    '  {"phone_number_id": 10654035224292299},',
    '  {"phone_number_id": "106540352242924", "colour": "blue"},',
    '  {"phone_number_id": "106540352242922"},',
    '  {"phone_number_id": ["1"]},',
    '  "just a string",',
    '  {"phone_number_id": "1", "tenant": },',
    '  {"phone_number_id": "106540352242925", "phoneNumberId": "106540352242926"},',
    '  {"tenant": "acme"}',
    ']',
    '',
  ].join('\r\n');

  it('streams the elements of one array with their lines, whatever the chunk boundaries', async () => {
    const whole = await rows(json, 'json');
    expect(whole.map((r) => r.line)).toEqual([2, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(whole[1]?.values.tenant).toBe('brackets ] and braces } in "strings"');
    for (const size of [1, 3, 8, 64]) expect(await rows(json, 'json', size)).toEqual(whole);
  });

  it('reports each invalid element, with its line, and keeps going', async () => {
    const result = await verdicts(json, 'json');
    expect(result.filter((v) => v.valid).map((v) => v.line)).toEqual([2, 3, 7]);
    const reasons = new Map(result.filter((v) => !v.valid).map((v) => [v.line, invalid(v).reason]));
    expect(reasons.get(8)).toMatch(/phone_number_id is a number too large to be exact in JSON/);
    expect(reasons.get(9)).toMatch(/unknown field "colour"/);
    expect(reasons.get(10)).toBe('duplicate of line 2 (same phone_number_id)');
    expect(reasons.get(11)).toMatch(/phone_number_id must be a string \(got an array\)/);
    expect(reasons.get(12)).toMatch(/expected a JSON object, got string/);
    expect(reasons.get(13)).toMatch(/not valid JSON/);
    expect(reasons.get(14)).toMatch(/"phone_number_id" and "phoneNumberId" give the same field/);
    expect(reasons.get(15)).toBe('phone_number_id is missing');
    expect(result[2]).toMatchObject({
      input: { phoneNumberId: '1065403522', displayPhoneNumber: '+1 555 0100' },
    });
  });

  it('refuses a file that is not one well-formed array, naming the line', async () => {
    expect((await fileError('{"phone_number_id":"1"}', 'json')).message).toMatch(/must be one array/);
    expect((await fileError('[\n{"phone_number_id":"1"},\n]', 'json')).message).toMatch(
      /line 3: a comma before \]/,
    );
    expect((await fileError('[\n{"phone_number_id":"1"}\n{"phone_number_id":"2"}\n]', 'json')).line).toBe(3);
    expect((await fileError('[{"phone_number_id":"1"}', 'json')).message).toMatch(
      /before the array is closed/,
    );
    expect((await fileError('[] []', 'json')).message).toMatch(/after the closing \]/);
    expect((await fileError('', 'json')).message).toMatch(/empty/);
    expect(await rows('[ ]', 'json')).toEqual([]);
  });
});

describe('JSON Lines', () => {
  it('reads one object per line, skipping blank lines, with CRLF and a BOM', async () => {
    const text =
      '\uFEFF{"phone_number_id":"111"}\r\n\r\n{"phone_number_id":"222","tenant":"acme"}\r\n  \n' +
      '{"phone_number_id":"111"}\n[1]\n{broken\n{"phone_number_id":"333","extra":true}';
    for (const size of [1, 4, 1 << 20]) {
      const validator = new RowValidator();
      const result = (await rows(text, 'jsonl', size)).map((r) => validator.validate(r));
      expect(result.map((v) => [v.line, v.valid])).toEqual([
        [1, true],
        [3, true],
        [5, false],
        [6, false],
        [7, false],
        [8, false],
      ]);
      const reasons = result.filter((v) => !v.valid).map((v) => invalid(v).reason);
      expect(reasons[0]).toBe('duplicate of line 1 (same phone_number_id)');
      expect(reasons[1]).toMatch(/expected a JSON object, got an array/);
      expect(reasons[2]).toMatch(/not valid JSON/);
      expect(reasons[3]).toMatch(/unknown field "extra"/);
    }
  });
});
