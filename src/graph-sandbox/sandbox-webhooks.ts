// What "Meta" sends when a person changes a number's security settings in WhatsApp Manager: a
// `security` webhook for the number's WABA, naming the display number, signed with the app secret
// (X-Hub-Signature-256 over the raw body), POSTed to the subscribed callback URL. Meta sends none
// for API calls, so the sandbox sends one only from its control API's "by hand" actions.
import { request } from 'undici';
import type { SecurityEventName } from '../trigger/security-webhook';
import { webhookSignature } from '../trigger/webhook-signature';

export interface SecurityWebhookInput {
  wabaId: string;
  /** As Meta writes it in this webhook: digits only. */
  displayPhoneNumber: string;
  event: SecurityEventName;
  requester?: string;
  /** Unix seconds. */
  time: number;
}

export interface WebhookDelivery {
  /** The callback's HTTP status; 0 when it could not be reached. */
  status: number;
  /** The exact bytes sent and their signature, so a test can deliver the same event again. */
  body: string;
  signature: string;
  /** The callback's answer, cut short. */
  answer: string;
}

export interface SandboxWebhookTarget {
  url: string;
  appSecret: string;
}

export function securityWebhookBody(input: SecurityWebhookInput): string {
  const value: Record<string, string> = {
    display_phone_number: input.displayPhoneNumber.replace(/[^0-9]/g, ''),
    event: input.event,
  };
  if (input.requester !== undefined) value.requester = input.requester;
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: input.wabaId, time: input.time, changes: [{ value, field: 'security' }] }],
  });
}

/** Delivers once; Meta's own redelivery is the caller's to imitate (the delivery carries the bytes). */
export async function deliverWebhook(target: SandboxWebhookTarget, body: string): Promise<WebhookDelivery> {
  const signature = webhookSignature(body, target.appSecret);
  try {
    const res = await request(target.url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const answer = (await res.body.text()).slice(0, 2_000);
    return { status: res.statusCode, body, signature, answer };
  } catch (err) {
    return { status: 0, body, signature, answer: err instanceof Error ? err.message : String(err) };
  }
}
