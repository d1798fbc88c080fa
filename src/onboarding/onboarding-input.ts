// What makes an onboarding input acceptable, with no Temporal client behind it, so the batch
// starter's --dry-run validates 100,000 rows without loading the client.
import { quoteUntrusted } from '../text/quote-untrusted';
import { PHONE_NUMBER_ID_PATTERN, REGISTER_CHOICES, type RegisterNumberInput } from '../workflows/messages';
import { CodedError } from '../cli/coded-error';

/** Meta's business-object ids (WABA, business portfolio) are numeric strings like phone-number ids. */
export const WABA_ID_PATTERN = /^[0-9]{1,32}$/;
/** What Meta shows as display_phone_number: "+1 555-010-0000", "15550100000". */
const DISPLAY_PHONE_NUMBER_PATTERN = /^\+?[0-9][0-9 ().-]{0,31}$/;
const TENANT_MAX_LENGTH = 100;
// The tenant ends up in the UI summary and in logs: no control characters, no Markdown line breaks.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
// ...and no Markdown link or image ("](" joins text to target), inline HTML or autolink (< >),
// code span (`), nor a URL a renderer would link on its own.
const MARKUP = /\]\s*\(|[<>`]|:\/\//;

export class OnboardingInputError extends CodedError<'ONBOARDING_INPUT_INVALID'> {
  constructor(readonly problems: string[]) {
    super('ONBOARDING_INPUT_INVALID', `invalid onboarding input: ${problems.join('; ')}`);
  }
}

/** Every problem with an input, in words an operator can act on; empty when the input is fine. */
export function onboardingInputProblems(input: RegisterNumberInput): string[] {
  const problems: string[] = [];
  const { phoneNumberId, wabaId, displayPhoneNumber, tenant, register } = input as Partial<
    Record<keyof RegisterNumberInput, unknown>
  >;
  if (phoneNumberId === undefined || phoneNumberId === '') {
    problems.push('phoneNumberId is missing');
  } else if (typeof phoneNumberId !== 'string' || !PHONE_NUMBER_ID_PATTERN.test(phoneNumberId)) {
    problems.push(`phoneNumberId ${quoteUntrusted(phoneNumberId)} is not a phone-number id (1-32 digits)`);
  }
  if (wabaId !== undefined && (typeof wabaId !== 'string' || !WABA_ID_PATTERN.test(wabaId))) {
    problems.push(`wabaId ${quoteUntrusted(wabaId)} is not a WABA id (1-32 digits)`);
  }
  if (
    displayPhoneNumber !== undefined &&
    (typeof displayPhoneNumber !== 'string' || !DISPLAY_PHONE_NUMBER_PATTERN.test(displayPhoneNumber))
  ) {
    problems.push(
      `displayPhoneNumber ${quoteUntrusted(displayPhoneNumber)} is not a phone number (digits, spaces, + ( ) - .)`,
    );
  }
  if (tenant !== undefined) {
    if (typeof tenant !== 'string' || tenant.trim() === '') {
      problems.push('tenant must be a non-empty string');
    } else if (tenant.length > TENANT_MAX_LENGTH || CONTROL_CHARACTERS.test(tenant)) {
      problems.push(`tenant must be at most ${TENANT_MAX_LENGTH} printable characters`);
    } else if (MARKUP.test(tenant)) {
      problems.push(
        `tenant ${quoteUntrusted(tenant)} holds markup: no Markdown link, < > \` or URL (the UI renders it as Markdown)`,
      );
    }
  }
  if (register !== undefined && !(REGISTER_CHOICES as readonly unknown[]).includes(register)) {
    problems.push(
      `"register" must be one of ${REGISTER_CHOICES.join(', ')} (got ${quoteUntrusted(register)})`,
    );
  }
  return problems;
}
