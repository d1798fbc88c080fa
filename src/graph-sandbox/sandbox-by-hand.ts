// What a person does in WhatsApp Manager, played by the sandbox's control API: change a number's
// two-step PIN, ask to turn two-step off, follow the emailed link that turns it off. Meta answers
// each with a `security` webhook to the app's callback, signed with the app secret; the sandbox does
// the same (sandbox-webhooks.ts). API calls never send one, here as at Meta.
import { randomInt } from 'node:crypto';
import { HttpError } from '../http/http-error';
import type { SecurityEventName } from '../workflows/messages';
import type { NumberState, SandboxState } from './sandbox-state';
import {
  deliverWebhook,
  securityWebhookBody,
  type SandboxWebhookTarget,
  type WebhookDelivery,
} from './sandbox-webhooks';

export const BY_HAND_ACTIONS = ['change-pin', 'request-two-step-off', 'confirm-two-step-off'] as const;
export type ByHandAction = (typeof BY_HAND_ACTIONS)[number];

const EVENT_OF: Readonly<Record<ByHandAction, SecurityEventName>> = {
  'change-pin': 'PIN_CHANGED',
  'request-two-step-off': 'PIN_RESET_REQUEST',
  'confirm-two-step-off': 'PIN_REQUEST_SUCCESS',
};

/** Meta documents the requester for reset requests; the sandbox's stand-in user. */
export const SANDBOX_REQUESTER = '61550000000001';

export interface ByHandInput {
  /** change-pin: the new PIN (six digits); a random one when absent. */
  pin?: string;
  /** The Meta Business Suite user; Meta names one on reset requests. */
  requester?: string;
}

export interface ByHandResult {
  number: NumberState;
  event: SecurityEventName;
  /** The webhook as sent (or as it would have been, with no callback set). */
  body: string;
  /** Absent when no callback URL is set. */
  delivery?: WebhookDelivery;
}

export interface SandboxByHand {
  act(phoneNumberId: string, action: ByHandAction, input?: ByHandInput): Promise<ByHandResult>;
  setWebhookUrl(url: string | undefined): void;
}

export function isByHandAction(value: string | undefined): value is ByHandAction {
  return (BY_HAND_ACTIONS as readonly (string | undefined)[]).includes(value);
}

export function parseByHandInput(value: unknown): ByHandInput {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(
      400,
      'BadRequest',
      'body must be an object like {"pin":"123456","requester":"6155..."}',
    );
  }
  const { pin, requester } = value as Record<string, unknown>;
  if (pin !== undefined && (typeof pin !== 'string' || !/^\d{6}$/.test(pin))) {
    throw new HttpError(400, 'BadRequest', '"pin" must be a string of six digits');
  }
  if (requester !== undefined && (typeof requester !== 'string' || !/^\d{1,32}$/.test(requester))) {
    throw new HttpError(400, 'BadRequest', '"requester" must be a Meta user id (digits)');
  }
  return { ...(pin !== undefined ? { pin } : {}), ...(requester !== undefined ? { requester } : {}) };
}

export function createSandboxByHand(opts: {
  state: SandboxState;
  appSecret?: string;
  webhookUrl?: string;
  now?: () => number;
}): SandboxByHand {
  let url = opts.webhookUrl;
  const now = opts.now ?? Date.now;
  return {
    setWebhookUrl(next) {
      url = next;
    },
    async act(phoneNumberId, action, input = {}) {
      const wabaId = opts.state.wabaOf(phoneNumberId);
      if (!wabaId) {
        throw new HttpError(
          400,
          'BadRequest',
          `number ${phoneNumberId} is in no WABA: add it with POST /_sandbox/wabas/{wabaId} first (the webhook names the WABA)`,
        );
      }
      if (action === 'change-pin') {
        opts.state.setPinByHand(phoneNumberId, input.pin ?? String(randomInt(1_000_000)).padStart(6, '0'));
      }
      if (action === 'confirm-two-step-off') opts.state.setPinByHand(phoneNumberId, null);
      const shown = opts.state.phoneInfo(phoneNumberId).display_phone_number;
      const display = typeof shown === 'string' ? shown : '';
      const requester = input.requester ?? (action === 'change-pin' ? undefined : SANDBOX_REQUESTER);
      const body = securityWebhookBody({
        wabaId,
        displayPhoneNumber: display,
        event: EVENT_OF[action],
        ...(requester !== undefined ? { requester } : {}),
        time: Math.floor(now() / 1000),
      });
      const target: SandboxWebhookTarget | undefined =
        url && opts.appSecret !== undefined ? { url, appSecret: opts.appSecret } : undefined;
      const delivery = target ? await deliverWebhook(target, body) : undefined;
      return {
        number: opts.state.numberState(phoneNumberId),
        event: EVENT_OF[action],
        body,
        ...(delivery ? { delivery } : {}),
      };
    },
  };
}
