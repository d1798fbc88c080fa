// An HTTP answer read whole, for tests that check status, headers and body together.
import type { Dispatcher } from 'undici';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as a JSON object (throws when it is not JSON). */
  json: () => Record<string, unknown>;
}

/** Consumes the body of an undici answer. */
export async function readAnswer(res: Dispatcher.ResponseData): Promise<HttpAnswer> {
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}
