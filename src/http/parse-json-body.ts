// A request body as JSON, or a 400 that says so without echoing the body back: the parser's
// message quotes part of the input, so it is escaped and cut short like any caller value.
import { quoteUntrusted } from '../text/quote-untrusted';
import { HttpError } from './http-error';

export function parseJsonBody(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new HttpError(400, 'MalformedBody', `the body is not JSON: ${quoteUntrusted(why)}`);
  }
}

/** Whether the request says its body is JSON (application/json, any parameters). */
export function declaresJson(contentType: string | undefined): boolean {
  return /^application\/json\s*(;|$)/i.test(contentType ?? '');
}
