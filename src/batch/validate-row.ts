// What makes a batch row a number that may be onboarded: the fields it may carry, the checks
// startOnboarding applies to its input, and "each number once per file" (the first occurrence
// wins; later ones are reported with the line of the first, so the file can be fixed).
import { onboardingInputProblems } from '../onboarding/onboarding-input';
import {
  PHONE_NUMBER_ID_PATTERN,
  type RegisterChoice,
  type RegisterNumberInput,
} from '../workflows/messages';
import { BatchFileError } from './batch-file-error';
import type { BatchRow } from './read-rows';

export type BatchField = 'phoneNumberId' | 'wabaId' | 'displayPhoneNumber' | 'tenant' | 'register';

/** The CSV column of each field; JSON uses the same names or the camelCase ones. */
export const BATCH_COLUMNS: Readonly<Record<BatchField, string>> = {
  phoneNumberId: 'phone_number_id',
  wabaId: 'waba_id',
  displayPhoneNumber: 'display_phone_number',
  tenant: 'tenant',
  /** always | never | auto; empty: the starter's --register (default auto). */
  register: 'register',
};

const ID_FIELDS = new Set<BatchField>(['phoneNumberId', 'wabaId']);
const COLUMN_LIST = Object.values(BATCH_COLUMNS).join(', ');

function normalized(name: string): string {
  return name.toLowerCase().replace(/[\s_-]/g, '');
}

const FIELD_BY_NORMALIZED_NAME = new Map<string, BatchField>(
  (Object.keys(BATCH_COLUMNS) as BatchField[]).map((field) => [normalized(field), field]),
);

/**
 * The field a column or JSON key names: "phone_number_id", "phoneNumberId" and "Phone Number ID"
 * are all phoneNumberId, so spreadsheets and Meta's snake_case exports work as they are.
 */
export function fieldForName(name: string): BatchField | undefined {
  return FIELD_BY_NORMALIZED_NAME.get(normalized(name.trim()));
}

/** Rejects a CSV header with an unknown, repeated or missing column: every row depends on it. */
export function checkCsvHeader(names: readonly string[], line: number): void {
  const seen = new Map<BatchField, string>();
  for (const name of names) {
    const field = fieldForName(name);
    if (field === undefined) {
      throw new BatchFileError(
        line,
        `unknown column ${JSON.stringify(name)} in the header (expected ${COLUMN_LIST})`,
      );
    }
    const earlier = seen.get(field);
    if (earlier !== undefined) {
      throw new BatchFileError(
        line,
        `columns ${JSON.stringify(earlier)} and ${JSON.stringify(name)} repeat a column`,
      );
    }
    seen.set(field, name);
  }
  if (!seen.has('phoneNumberId')) {
    throw new BatchFileError(line, `the header has no phone_number_id column (columns: ${COLUMN_LIST})`);
  }
}

export type RowVerdict =
  | { line: number; valid: true; input: RegisterNumberInput }
  | { line: number; valid: false; phoneNumberId?: string; reason: string };

/** Validates rows in file order; remembers each number's first line to find duplicates. */
export class RowValidator {
  private readonly firstLineOf = new Map<string, number>();

  validate(row: BatchRow): RowVerdict {
    const problems: string[] = [];
    if (row.problem) problems.push(row.problem);
    const fields: Partial<Record<BatchField, string>> = {};
    const keyOf = new Map<BatchField, string>();
    for (const [key, raw] of Object.entries(row.values)) {
      const field = fieldForName(key);
      if (field === undefined) {
        problems.push(`unknown field ${JSON.stringify(key)} (expected ${COLUMN_LIST})`);
        continue;
      }
      const earlier = keyOf.get(field);
      if (earlier !== undefined) {
        problems.push(`${JSON.stringify(earlier)} and ${JSON.stringify(key)} give the same field`);
        continue;
      }
      keyOf.set(field, key);
      const value = fieldValue(field, raw);
      if (typeof value === 'object') problems.push(`${BATCH_COLUMNS[field]} ${value.problem}`);
      else if (value !== undefined) fields[field] = value;
    }

    const phoneNumberId = fields.phoneNumberId;
    if (phoneNumberId === undefined) {
      if (!problems.some((p) => p.startsWith('phone_number_id ')))
        problems.unshift('phone_number_id is missing');
    } else if (!PHONE_NUMBER_ID_PATTERN.test(phoneNumberId)) {
      problems.unshift(
        `phone_number_id ${JSON.stringify(phoneNumberId)} is not a phone-number id (1-32 digits)`,
      );
    } else {
      // First occurrence wins even if that row is invalid for another reason: two rows for one
      // number disagree about something, and a person should decide which is right.
      const first = this.firstLineOf.get(phoneNumberId);
      if (first !== undefined) problems.unshift(`duplicate of line ${first} (same phone_number_id)`);
      else this.firstLineOf.set(phoneNumberId, row.line);
    }

    const input: RegisterNumberInput = { phoneNumberId: phoneNumberId ?? '' };
    if (fields.wabaId !== undefined) input.wabaId = fields.wabaId;
    if (fields.displayPhoneNumber !== undefined) input.displayPhoneNumber = fields.displayPhoneNumber;
    if (fields.tenant !== undefined) input.tenant = fields.tenant;
    // Checked by onboardingInputProblems below: a wrong word is reported, never taken.
    if (fields.register !== undefined) input.register = fields.register.toLowerCase() as RegisterChoice;
    if (problems.length === 0) {
      // The same checks startOnboarding makes, so a row valid here is never refused there.
      problems.push(...onboardingInputProblems(input).map(columnWording));
    }
    return problems.length === 0
      ? { line: row.line, valid: true, input }
      : { line: row.line, valid: false, phoneNumberId, reason: problems.join('; ') };
  }
}

/** The trimmed text of a value; undefined when empty; a problem for a value of the wrong type. */
function fieldValue(field: BatchField, raw: unknown): string | undefined | { problem: string } {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'string') return raw.trim() === '' ? undefined : raw.trim();
  if (typeof raw === 'number' && ID_FIELDS.has(field)) {
    // Meta's ids have up to 17 digits; a JSON number above 2^53 has already lost some of them.
    if (Number.isSafeInteger(raw) && raw >= 0) return String(raw);
    return { problem: `is a number too large to be exact in JSON: write it as a string` };
  }
  return { problem: `must be a string (got ${Array.isArray(raw) ? 'an array' : typeof raw})` };
}

function columnWording(problem: string): string {
  let worded = problem;
  for (const [field, column] of Object.entries(BATCH_COLUMNS)) {
    worded = worded.replace(new RegExp(`^${field}\\b`), column);
  }
  return worded;
}
