// The onboarding trigger: starts registerNumber when a number joins, from two sources.
//   POST /onboarded           an internal system says "this number is ours now" (bearer secret);
//                             body {phoneNumberId, wabaId?, displayPhoneNumber?, tenant?, register?}
//   GET|POST /webhooks/whatsapp  Meta's webhooks: the subscription handshake, and signed events;
//                             account_update PARTNER_ADDED (a business shared its WABA with us)
//                             onboards every phone number Graph lists for that WABA, and
//                             registers each on Cloud API (register: always); `security` (a PIN
//                             changed or two-step turned off in WhatsApp Manager) reaches the
//                             number's workflow (security-event-handler.ts, docs/pin-drift.md).
//
// When to answer Meta: an event is "handed over" only once Temporal has durably accepted the
// starts, so the trigger does the starts before it answers, within a bounded time. If Graph or
// Temporal fail or the time runs out it answers 5xx, and Meta delivers the event again later; the
// starts are idempotent (one workflow id per number, duplicates reported not started), so a
// redelivery never onboards a number twice. Answering 200 first and starting afterwards would be
// faster, but an event accepted and then lost in a crash would never come back. What can never
// succeed (a malformed id in a signed event) is answered 200 and logged, never 5xx: Meta would
// redeliver it for days to the same end (partner-added.ts).
//
// Hostile callers: every request is bounded (TRIGGER_LIMITS: header, request and keep-alive
// timeouts, a connection cap, the body limit), refused before its body is read when the
// credential is wrong, routed only on a canonical path, and quoted in logs and answers only
// escaped and cut short (quoteUntrusted). docs/security.md lists the limits.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Client } from '@temporalio/client';
import { firstLine } from '../cli/first-line';
import type { ListPhoneNumbersInput, PhoneNumberSummary } from '../graph/graph-client';
import type { GraphTokenSource } from '../graph/graph-token-source';
import { TenantTokenError } from '../graph/tenant-token-error';
import { canonicalPath } from '../http/canonical-path';
import { HttpError } from '../http/http-error';
import { createHttpServer, listen, stopServer, type HttpServerLimits } from '../http/http-server';
import { declaresJson, parseJsonBody } from '../http/parse-json-body';
import { readBody } from '../http/read-body';
import { sendJson } from '../http/send-json';
import type { OnboardingOptions } from '../onboarding/onboarding-config';
import {
  OnboardingInputError,
  onboardingInputProblems,
  startOnboarding,
  type StartOnboardingResult,
} from '../onboarding/start-onboarding';
import { quoteUntrusted } from '../text/quote-untrusted';
import {
  DEFAULT_PIN_DRIFT_POLICY,
  type PinDriftPolicy,
  type RegisterChoice,
  type RegisterNumberInput,
} from '../workflows/messages';
import { readPartnerAdded, type PartnerAddedEvent } from './partner-added';
import { createPhoneNumberResolver } from './phone-number-resolver';
import { createSecurityEventHandler, type SecurityEventResult } from './security-event-handler';
import { readSecurityEvents } from './security-webhook';
import { bearerToken, secretsEqual, webhookSignatureMatches } from './webhook-signature';

/** What PARTNER_ADDED numbers get: they come straight from embedded signup, so not yet registered. */
export const PARTNER_ADDED_REGISTER_CHOICE: RegisterChoice = 'always';

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

/** Lists a WABA's numbers with the token of `tenant` (GRAPH_TOKEN_SOURCE); a GraphClient fits. */
export interface WabaNumberLister {
  listPhoneNumbers(input: ListPhoneNumbersInput & { tenant?: string }): Promise<PhoneNumberSummary[]>;
}

export interface TriggerServerOptions {
  client: Client;
  graph: WabaNumberLister;
  /**
   * Where Graph tokens come from. With a vault source a `security` event's WABA must be in the
   * vault's WABA index (its tenant's token lists the numbers); without one, every call uses `graph`.
   */
  tokens?: GraphTokenSource;
  /** What a security event on a closed number does (PIN_DRIFT_POLICY); DEFAULT_PIN_DRIFT_POLICY. */
  driftPolicy?: PinDriftPolicy;
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

/** Counts since start, for tests and a future metrics endpoint. */
export interface TriggerStats {
  /** Parts of signed webhooks set aside as never valid (answered 200 and logged). */
  webhookPartsIgnored: number;
  /** Connections closed unanswered because the connection cap was reached. */
  connectionsRefused: number;
  /** Callers that closed the connection before their request was read or answered. */
  clientsGone: number;
}

export interface TriggerServer {
  readonly server: Server;
  /** Resolves with the port actually bound (0 picks a free one). */
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets requests in progress finish, then closes the connections. */
  close(): Promise<void>;
  stats(): TriggerStats;
}

/**
 * Meta delivers webhooks from a handful of connections and a request takes seconds at most; the
 * internal callers are few. A slow or stuck client is cut long before it could pin the server.
 */
export const TRIGGER_LIMITS: HttpServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 20_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 256,
  maxHeaderBytes: 16 * 1024,
};

/** What Meta sends as hub.challenge: an integer. Anything else is not reflected. */
const CHALLENGE_PATTERN = /^[0-9]{1,32}$/;
/** A flood of unknown fields is named in part, not whole. */
const UNKNOWN_FIELDS_SHOWN = 5;
/** A webhook's set-aside parts are logged in one line, this many named. */
const PROBLEMS_LOGGED = 10;

const silentLogger: TriggerLogger = { info() {}, warn() {}, error() {} };
const ONBOARDED_FIELDS = new Set(['phoneNumberId', 'wabaId', 'displayPhoneNumber', 'tenant', 'register']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** How a refused bearer looked, never what it was. */
function presentedCredential(authorization: string | undefined): string {
  if (authorization === undefined) return 'none';
  return bearerToken(authorization) === undefined ? 'not a bearer token' : 'a wrong bearer token';
}

async function inBatches<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size)
    results.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return results;
}

/** The security-event outcomes that can never change on redelivery: answered 200, listed as ignored. */
const SET_ASIDE_OUTCOMES: ReadonlySet<SecurityEventResult['outcome']> = new Set([
  'unknown-number',
  'ambiguous-number',
  'not-onboarded',
]);

interface NumberOutcome {
  phoneNumberId: string;
  outcome: string;
  workflowId: string;
}

export function createTriggerServer(opts: TriggerServerOptions): TriggerServer {
  const log = opts.log ?? silentLogger;
  const maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024;
  const handlingTimeoutMs = opts.handlingTimeoutMs ?? 10_000;
  const startConcurrency = opts.startConcurrency ?? 8;
  const stats: TriggerStats = { webhookPartsIgnored: 0, connectionsRefused: 0, clientsGone: 0 };

  const tokens = opts.tokens;
  const tenantOfWaba = async (wabaId: string) => (tokens ? tokens.tenantOfWaba(wabaId) : undefined);
  const resolver = createPhoneNumberResolver({
    list: async (wabaId, signal) => {
      const tenant = await tenantOfWaba(wabaId);
      if (tokens?.kind === 'vault' && tenant === undefined) {
        // Fixable, so 503 and Meta delivers the event again once the index entry is written.
        throw new TenantTokenError(
          `WABA ${wabaId} has no tenant in the vault's WABA index, so no token may list its numbers: ` +
            `write {"tenant":"<tenant>"} at ${tokens.wabaIndexPathOf(wabaId)} (docs/pin-drift.md)`,
          undefined,
          tokens.wabaIndexPathOf(wabaId),
        );
      }
      return opts.graph.listPhoneNumbers({ wabaId, signal, ...(tenant !== undefined ? { tenant } : {}) });
    },
  });
  const handleSecurityEvent = createSecurityEventHandler({
    client: opts.client,
    resolver,
    tenantOfWaba,
    policy: opts.driftPolicy ?? DEFAULT_PIN_DRIFT_POLICY,
    onboardingOptions: opts.onboardingOptions,
    taskQueue: opts.taskQueue,
  });

  const start = (input: RegisterNumberInput, deadline: number): Promise<StartOnboardingResult> =>
    startOnboarding(
      opts.client,
      { ...input, ...opts.onboardingOptions },
      { taskQueue: opts.taskQueue, deadline },
    );

  async function onboarded(req: IncomingMessage, res: ServerResponse) {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined || !secretsEqual(token, opts.secrets.sharedSecret)) {
      log.warn('onboarded request refused: missing or wrong bearer token', {
        presented: presentedCredential(req.headers.authorization),
        remote: req.socket.remoteAddress,
      });
      // Refused before its body is read: the connection closes rather than reading it.
      throw new HttpError(401, 'Unauthorized', 'expected Authorization: Bearer <TRIGGER_SHARED_SECRET>', {
        headers: { 'www-authenticate': 'Bearer' },
      });
    }
    if (!declaresJson(req.headers['content-type'])) {
      throw new HttpError(415, 'UnsupportedMediaType', 'send Content-Type: application/json');
    }
    const body = parseJsonBody(await readBody(req, maxBodyBytes));
    if (!isObject(body)) {
      throw new HttpError(400, 'MalformedBody', 'expected an object {"phoneNumberId": "...", ...}');
    }
    const unknown = Object.keys(body).filter((k) => !ONBOARDED_FIELDS.has(k));
    if (unknown.length > 0) {
      const named = unknown.slice(0, UNKNOWN_FIELDS_SHOWN).map((k) => quoteUntrusted(k));
      const more = unknown.length > UNKNOWN_FIELDS_SHOWN ? ` and ${unknown.length - named.length} more` : '';
      throw new HttpError(
        400,
        'InvalidInput',
        `unknown field ${named.join(', ')}${more} (expected ${[...ONBOARDED_FIELDS].join(', ')})`,
      );
    }
    const input = body as unknown as RegisterNumberInput;
    const problems = onboardingInputProblems(input);
    if (problems.length > 0) throw new HttpError(400, 'InvalidInput', problems.join('; '));
    let result: StartOnboardingResult;
    try {
      result = await start(input, Date.now() + handlingTimeoutMs);
    } catch (err) {
      if (err instanceof OnboardingInputError) throw new HttpError(400, 'InvalidInput', err.message);
      log.error('start failed', { phoneNumberId: input.phoneNumberId, error: firstLine(err) });
      throw new HttpError(503, 'StartFailed', `could not start the onboarding: ${firstLine(err)}`);
    }
    log.info('onboarded request', { phoneNumberId: input.phoneNumberId, outcome: result.outcome });
    sendJson(res, 202, { outcome: result.outcome, workflowId: result.workflowId, runId: result.runId });
  }

  function verifySubscription(url: URL, res: ServerResponse) {
    const mode = url.searchParams.get('hub.mode');
    const token = url.searchParams.get('hub.verify_token');
    const challenge = url.searchParams.get('hub.challenge');
    if (mode !== 'subscribe' || token === null || !secretsEqual(token, opts.secrets.verifyToken)) {
      log.warn('webhook verification refused', {
        mode: quoteUntrusted(mode),
        verifyToken: token === null ? 'none' : 'wrong',
      });
      throw new HttpError(403, 'Forbidden', 'hub.mode must be subscribe and hub.verify_token must match');
    }
    if (challenge === null || !CHALLENGE_PATTERN.test(challenge)) {
      log.warn('webhook verification refused: hub.challenge is not digits', {
        challenge: quoteUntrusted(challenge),
      });
      throw new HttpError(400, 'BadChallenge', 'hub.challenge must be the integer Meta sends (digits only)');
    }
    log.info('webhook verification accepted');
    res.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': challenge.length,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(challenge);
  }

  /** Starts every usable number of the WABA; a number Graph lists under an id we refuse is set aside. */
  async function onboardWaba(event: PartnerAddedEvent, deadline: number, problems: string[]) {
    const listed: PhoneNumberSummary[] = await opts.graph.listPhoneNumbers({
      wabaId: event.wabaId,
      tenant: event.tenant,
      signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
    });
    const inputs: RegisterNumberInput[] = [];
    for (const n of listed) {
      // A WABA just shared with us brings numbers fresh from signup: register them.
      const input: RegisterNumberInput = {
        phoneNumberId: n.id,
        wabaId: event.wabaId,
        tenant: event.tenant,
        register: PARTNER_ADDED_REGISTER_CHOICE,
      };
      if (n.display_phone_number) input.displayPhoneNumber = n.display_phone_number;
      // Graph's display format may not be one we accept: the number still gets onboarded.
      if (onboardingInputProblems(input).length > 0) delete input.displayPhoneNumber;
      const unusable = onboardingInputProblems(input);
      if (unusable.length > 0) problems.push(`WABA ${event.wabaId}: ${unusable.join('; ')}, skipped`);
      else inputs.push(input);
    }
    const numbers = await inBatches(inputs, startConcurrency, async (input): Promise<NumberOutcome> => {
      const result = await start(input, deadline);
      return { phoneNumberId: input.phoneNumberId, outcome: result.outcome, workflowId: result.workflowId };
    });
    log.info('partner added', { wabaId: event.wabaId, tenant: event.tenant, numbers: numbers.length });
    return { wabaId: event.wabaId, numbers };
  }

  function reportIgnored(problems: string[]) {
    if (problems.length === 0) return;
    stats.webhookPartsIgnored += problems.length;
    const more = problems.length > PROBLEMS_LOGGED ? ` and ${problems.length - PROBLEMS_LOGGED} more` : '';
    log.warn(
      'webhook parts set aside: they can never be onboarded, Meta is told 200 so as not to redeliver',
      {
        count: problems.length,
        problems: `${problems.slice(0, PROBLEMS_LOGGED).join(' | ')}${more}`,
      },
    );
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
      log.warn('webhook with a missing or wrong signature refused', {
        bytes: raw.length,
        remote: req.socket.remoteAddress,
      });
      throw new HttpError(401, 'BadSignature', 'X-Hub-Signature-256 does not match the body');
    }
    const body = parseJsonBody(raw);
    const { events, problems } = readPartnerAdded(body);
    const reading = readSecurityEvents(body);
    problems.push(...reading.problems);
    const deadline = Date.now() + handlingTimeoutMs;
    let onboarded: Array<{ wabaId: string; numbers: NumberOutcome[] }>;
    let security: SecurityEventResult[];
    try {
      [onboarded, security] = await Promise.all([
        Promise.all(events.map((event) => onboardWaba(event, deadline, problems))),
        Promise.all(
          reading.events.map((event) =>
            opts.client.withDeadline(deadline, () =>
              handleSecurityEvent(event, AbortSignal.timeout(Math.max(1, deadline - Date.now()))),
            ),
          ),
        ),
      ]);
    } catch (err) {
      log.error('webhook not handed over; Meta will deliver it again', {
        wabaIds: [...new Set([...events, ...reading.events].map((e) => e.wabaId))],
        error: firstLine(err),
      });
      throw new HttpError(503, 'NotHandedOver', `will succeed on redelivery once fixed: ${firstLine(err)}`);
    }
    for (const result of security) {
      if (SET_ASIDE_OUTCOMES.has(result.outcome)) {
        problems.push(
          `security ${result.event} for WABA ${result.wabaId}: ${result.outcome}` +
            `${result.phoneNumberId ? ` (phone-number id ${result.phoneNumberId})` : ''}, set aside`,
        );
      } else {
        log.info('security event handed over', { ...result });
      }
    }
    reportIgnored(problems);
    sendJson(res, 200, {
      received: true,
      onboarded,
      ...(security.length > 0 ? { security } : {}),
      ...(problems.length > 0 ? { ignored: problems } : {}),
    });
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const path = canonicalPath(req);
    const url = new URL(req.url ?? '/', 'http://trigger.invalid');
    const method = req.method ?? 'GET';
    if (path === ONBOARDED_PATH) {
      if (method !== 'POST') {
        throw new HttpError(405, 'MethodNotAllowed', 'use POST', { headers: { allow: 'POST' } });
      }
      return onboarded(req, res);
    }
    if (path === WEBHOOK_PATH) {
      if (method === 'GET') return verifySubscription(url, res);
      if (method === 'POST') return webhookEvent(req, res);
      throw new HttpError(405, 'MethodNotAllowed', 'use GET (verification) or POST (events)', {
        headers: { allow: 'GET, POST' },
      });
    }
    if (path === '/healthz' && method === 'GET') return sendJson(res, 200, { ok: true });
    throw new HttpError(404, 'NotFound', `no route ${method} ${quoteUntrusted(path)}`);
  }

  const server = createHttpServer({ ...TRIGGER_LIMITS, ...opts.limits }, route, {
    unexpected: (err) => log.error('unexpected error', { error: quoteUntrusted(firstLine(err), 200) }),
    clientGone: (req) => {
      stats.clientsGone++;
      log.info('connection closed before the request was complete: the client hung up or was too slow', {
        method: req.method,
        path: quoteUntrusted((req.url ?? '').split('?')[0]),
      });
    },
    connectionsRefused: (count) => {
      stats.connectionsRefused += count;
      log.warn('connections refused: the connection cap is reached', {
        count,
        maxConnections: server.maxConnections,
      });
    },
  });

  return {
    server,
    listen: (port, host = '127.0.0.1') => listen(server, port, host),
    // Requests in progress had their handling time; then connections are cut.
    close: () => stopServer(server, handlingTimeoutMs + 1_000),
    stats: () => ({ ...stats }),
  };
}
