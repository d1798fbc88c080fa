// The onboarding trigger: starts registerNumber when a number joins, from two sources.
//   POST /onboarded           an internal system says "this number is ours now" (bearer secret)
//   GET|POST /webhooks/whatsapp  Meta's webhooks: the subscription handshake, and signed events;
//                             account_update PARTNER_ADDED (a business shared its WABA with us)
//                             onboards every phone number Graph lists for that WABA.
//
// When to answer Meta: an event is "handed over" only once Temporal has durably accepted the
// starts, so the trigger does the starts before it answers, within a bounded time. If Graph or
// Temporal fail or the time runs out it answers 5xx, and Meta delivers the event again later; the
// starts are idempotent (one workflow id per number, duplicates reported not started), so a
// redelivery never onboards a number twice. Answering 200 first and starting afterwards would be
// faster, but an event accepted and then lost in a crash would never come back.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Client } from '@temporalio/client';
import type { GraphClient, PhoneNumberSummary } from '../graph/graph-client';
import type { OnboardingOptions } from '../onboarding/onboarding-config';
import {
  OnboardingInputError,
  onboardingInputProblems,
  startOnboarding,
  WABA_ID_PATTERN,
  type StartOnboardingResult,
} from '../onboarding/start-onboarding';
import { HttpError } from '../http/http-error';
import { createHttpServer, listen, stopServer, type HttpServerLimits } from '../http/http-server';
import { readBody } from '../http/read-body';
import { sendJson } from '../http/send-json';
import type { RegisterNumberInput } from '../workflows/messages';
import { bearerToken, secretsEqual, webhookSignatureMatches } from './webhook-signature';

export const DEFAULT_TRIGGER_PORT = 8090;
export const ONBOARDED_PATH = '/onboarded';
export const WEBHOOK_PATH = '/webhooks/whatsapp';

export interface TriggerSecrets {
  /** Bearer token of POST /onboarded. */
  sharedSecret: string;
  /** Meta app secret: the key of X-Hub-Signature-256. */
  appSecret: string;
  /** What Meta echoes in hub.verify_token when the webhook is subscribed. */
  verifyToken: string;
}

export interface TriggerLogger {
  info(message: string, attrs?: Record<string, unknown>): void;
  warn(message: string, attrs?: Record<string, unknown>): void;
  error(message: string, attrs?: Record<string, unknown>): void;
}

export interface TriggerServerOptions {
  client: Client;
  graph: Pick<GraphClient, 'listPhoneNumbers'>;
  secrets: TriggerSecrets;
  log?: TriggerLogger;
  /** Merged into every workflow input (retry schedules, manual-reset deadline). */
  onboardingOptions?: OnboardingOptions;
  taskQueue?: string;
  /** Time allowed for one request's Graph calls and starts before answering 5xx (default 10 s). */
  handlingTimeoutMs?: number;
  /** Larger bodies are refused with 413 (default 1 MiB). */
  maxBodyBytes?: number;
  /** Starts in flight at once for one WABA's numbers (default 8). */
  startConcurrency?: number;
  /** Timeouts and the connection cap; each defaults to TRIGGER_LIMITS. */
  limits?: Partial<HttpServerLimits>;
}

export interface TriggerServer {
  readonly server: Server;
  /** Resolves with the port actually bound (0 picks a free one). */
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets requests in progress finish, then closes the connections. */
  close(): Promise<void>;
}

/**
 * Meta delivers webhooks from a handful of connections and answers take seconds at most; the
 * internal callers are few. A slow or stuck client is cut long before it could pin the server.
 */
export const TRIGGER_LIMITS: HttpServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 20_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 256,
  maxHeaderBytes: 16 * 1024,
};

const silentLogger: TriggerLogger = { info() {}, warn() {}, error() {} };
const ONBOARDED_FIELDS = new Set(['phoneNumberId', 'wabaId', 'displayPhoneNumber', 'tenant']);

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'malformed body', `the body is not JSON: ${firstLine(err)}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A WABA shared with us, from an account_update PARTNER_ADDED change. */
export interface PartnerAddedEvent {
  wabaId: string;
  ownerBusinessId?: string;
}

/**
 * The PARTNER_ADDED events of a webhook body; throws HttpError(400) when the body is not shaped
 * like a WhatsApp Business Account webhook at all. Other fields and events are ignored.
 */
export function partnerAddedEvents(body: unknown): PartnerAddedEvent[] {
  if (!isObject(body) || !Array.isArray(body.entry)) {
    throw new HttpError(
      400,
      'malformed body',
      'expected a webhook notification {"object":..., "entry":[...]}',
    );
  }
  const events = new Map<string, PartnerAddedEvent>();
  for (const entry of body.entry as unknown[]) {
    if (!isObject(entry) || !Array.isArray(entry.changes)) continue;
    for (const change of entry.changes as unknown[]) {
      if (!isObject(change) || change.field !== 'account_update' || !isObject(change.value)) continue;
      if (change.value.event !== 'PARTNER_ADDED') continue;
      const info = isObject(change.value.waba_info) ? change.value.waba_info : {};
      const wabaId = typeof info.waba_id === 'string' ? info.waba_id : entry.id;
      if (typeof wabaId !== 'string' || !WABA_ID_PATTERN.test(wabaId)) continue;
      const owner = typeof info.owner_business_id === 'string' ? info.owner_business_id : undefined;
      events.set(wabaId, owner ? { wabaId, ownerBusinessId: owner } : { wabaId });
    }
  }
  return [...events.values()];
}

async function inBatches<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size)
    results.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return results;
}

export function createTriggerServer(opts: TriggerServerOptions): TriggerServer {
  const log = opts.log ?? silentLogger;
  const maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024;
  const handlingTimeoutMs = opts.handlingTimeoutMs ?? 10_000;
  const startConcurrency = opts.startConcurrency ?? 8;

  const start = (input: RegisterNumberInput, deadline: number): Promise<StartOnboardingResult> =>
    startOnboarding(
      opts.client,
      { ...input, ...opts.onboardingOptions },
      { taskQueue: opts.taskQueue, deadline },
    );

  async function onboarded(req: IncomingMessage, res: ServerResponse) {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined || !secretsEqual(token, opts.secrets.sharedSecret)) {
      // Refused before the body was read: the connection cannot carry another request.
      throw new HttpError(401, 'unauthorized', 'expected Authorization: Bearer <TRIGGER_SHARED_SECRET>', {
        headers: { 'www-authenticate': 'Bearer' },
        closeConnection: true,
      });
    }
    const body = parseJson(await readBody(req, maxBodyBytes));
    if (!isObject(body)) {
      throw new HttpError(400, 'malformed body', 'expected an object {"phoneNumberId": "...", ...}');
    }
    const unknown = Object.keys(body).filter((k) => !ONBOARDED_FIELDS.has(k));
    if (unknown.length > 0) {
      throw new HttpError(
        400,
        'invalid input',
        `unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')} (expected ${[...ONBOARDED_FIELDS].join(', ')})`,
      );
    }
    const input = body as unknown as RegisterNumberInput;
    const problems = onboardingInputProblems(input);
    if (problems.length > 0) throw new HttpError(400, 'invalid input', problems.join('; '));
    let result: StartOnboardingResult;
    try {
      result = await start(input, Date.now() + handlingTimeoutMs);
    } catch (err) {
      if (err instanceof OnboardingInputError) throw new HttpError(400, 'invalid input', err.message);
      log.error('start failed', { phoneNumberId: input.phoneNumberId, error: firstLine(err) });
      throw new HttpError(503, 'start failed', `could not start the onboarding: ${firstLine(err)}`);
    }
    log.info('onboarded request', { phoneNumberId: input.phoneNumberId, outcome: result.outcome });
    sendJson(res, 202, { outcome: result.outcome, workflowId: result.workflowId, runId: result.runId });
  }

  function verifySubscription(url: URL, res: ServerResponse) {
    const mode = url.searchParams.get('hub.mode');
    const token = url.searchParams.get('hub.verify_token');
    const challenge = url.searchParams.get('hub.challenge');
    if (
      mode !== 'subscribe' ||
      token === null ||
      challenge === null ||
      !secretsEqual(token, opts.secrets.verifyToken)
    ) {
      log.warn('webhook verification refused', { mode });
      throw new HttpError(403, 'forbidden', 'hub.mode must be subscribe and hub.verify_token must match');
    }
    log.info('webhook verification accepted');
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(challenge);
  }

  async function onboardWaba(event: PartnerAddedEvent, deadline: number) {
    const numbers: PhoneNumberSummary[] = await opts.graph.listPhoneNumbers({
      wabaId: event.wabaId,
      signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
    });
    const tenant = event.ownerBusinessId ?? event.wabaId;
    const results = await inBatches(numbers, startConcurrency, async (n) => {
      const input: RegisterNumberInput = { phoneNumberId: n.id, wabaId: event.wabaId, tenant };
      if (n.display_phone_number) input.displayPhoneNumber = n.display_phone_number;
      // Graph's display format may not be one we accept: the number still gets onboarded.
      if (onboardingInputProblems(input).length > 0) delete input.displayPhoneNumber;
      const result = await start(input, deadline);
      return { phoneNumberId: n.id, outcome: result.outcome, workflowId: result.workflowId };
    });
    log.info('partner added', { wabaId: event.wabaId, tenant, numbers: results.length });
    return { wabaId: event.wabaId, numbers: results };
  }

  async function webhookEvent(req: IncomingMessage, res: ServerResponse) {
    const raw = await readBody(req, maxBodyBytes);
    const signature = req.headers['x-hub-signature-256'];
    if (
      !webhookSignatureMatches(
        raw,
        typeof signature === 'string' ? signature : undefined,
        opts.secrets.appSecret,
      )
    ) {
      log.warn('webhook with a missing or wrong signature refused', { bytes: raw.length });
      throw new HttpError(401, 'bad signature', 'X-Hub-Signature-256 does not match the body', {
        closeConnection: true,
      });
    }
    const events = partnerAddedEvents(parseJson(raw));
    if (events.length === 0) {
      sendJson(res, 200, { received: true, onboarded: [] });
      return;
    }
    const deadline = Date.now() + handlingTimeoutMs;
    try {
      const onboarded = await Promise.all(events.map((event) => onboardWaba(event, deadline)));
      sendJson(res, 200, { received: true, onboarded });
    } catch (err) {
      log.error('webhook not handed over; Meta will deliver it again', {
        wabaIds: events.map((e) => e.wabaId),
        error: firstLine(err),
      });
      throw new HttpError(503, 'not handed over', `will succeed on redelivery once fixed: ${firstLine(err)}`);
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://trigger.invalid');
    const method = req.method ?? 'GET';
    if (url.pathname === ONBOARDED_PATH) {
      if (method !== 'POST') {
        throw new HttpError(405, 'method not allowed', 'use POST', { headers: { allow: 'POST' } });
      }
      return onboarded(req, res);
    }
    if (url.pathname === WEBHOOK_PATH) {
      if (method === 'GET') return verifySubscription(url, res);
      if (method === 'POST') return webhookEvent(req, res);
      throw new HttpError(405, 'method not allowed', 'use GET (verification) or POST (events)', {
        headers: { allow: 'GET, POST' },
      });
    }
    if (url.pathname === '/healthz' && method === 'GET') return sendJson(res, 200, { ok: true });
    throw new HttpError(404, 'not found', `no route ${method} ${url.pathname}`);
  }

  const server = createHttpServer({ ...TRIGGER_LIMITS, ...opts.limits }, route, {
    unexpected: (err) => log.error('unexpected error', { error: firstLine(err) }),
  });

  return {
    server,
    listen: (port, host = '127.0.0.1') => listen(server, port, host),
    // Requests in progress had their handling time; then connections are cut.
    close: () => stopServer(server, handlingTimeoutMs + 1_000),
  };
}
