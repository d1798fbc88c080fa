// A stand-in for graph.facebook.com: the few endpoints the product calls, answering with Meta's
// documented shapes (error bodies, HTTP statuses, throttling headers), plus per-number fault injection
// and read-only inspection so tests and drills can check what "Meta" received. Meta cannot be reached
// from here, and its behaviour under failure is exactly what the product must survive.
// This file starts the server and dispatches; the parts live beside it: sandbox-routes.ts (Graph
// endpoints), sandbox-faults.ts (scenarios in force), sandbox-state.ts (PINs, WABAs, request log),
// sandbox-control-api.ts (/_sandbox/...).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SANDBOX_ACCESS_TOKEN } from '../graph/graph-config';
import { ClientGoneError } from '../http/client-gone';
import { HttpError } from '../http/http-error';
import { createHttpServer, httpUrl, listen, stopServer } from '../http/http-server';
import { PortBusyError } from '../local-stack/processes';
import {
  createSandboxByHand,
  type ByHandAction,
  type ByHandInput,
  type ByHandResult,
} from './sandbox-by-hand';
import { createSandboxBudget, type SandboxBudgetOptions } from './sandbox-budget';
import { createControlApi } from './sandbox-control-api';
import { createSandboxFaults, type Outcome } from './sandbox-faults';
import { SANDBOX_LIMITS } from './sandbox-limits';
import { createGraphRoutes, sendGraphError, sendMetaError } from './sandbox-routes';
import {
  createSandboxState,
  type NumberState,
  type RequestLogEntry,
  type SandboxNumberSetup,
  type SandboxNumberSetups,
  type SandboxPhoneNumber,
} from './sandbox-state';
import type { Scenario, ScenarioMap } from './scenarios';
import { createSandboxTokens, type SandboxTokenGrants } from './sandbox-tokens';

export type {
  NumberState,
  RequestLogEntry,
  SandboxNumberSetup,
  SandboxNumberSetups,
  SandboxPhoneNumber,
} from './sandbox-state';

export const DEFAULT_SANDBOX_PORT = 8099;

export interface GraphSandboxOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** The token callers must present; defaults to SANDBOX_ACCESS_TOKEN. */
  accessToken?: string;
  scenarios?: ScenarioMap;
  /** WABA id -> the phone numbers registered to it. */
  wabas?: Record<string, SandboxPhoneNumber[]>;
  /** How numbers start out (registered, verified, a PIN set by hand, calls made elsewhere). */
  numbers?: SandboxNumberSetups;
  /** The sandbox's clock, epoch ms (Meta's registration window); defaults to the system clock. */
  now?: () => number;
  /** One line per Graph request; never contains a PIN or a token. */
  log?: (line: string) => void;
  /** Client businesses' tokens and the WABAs each may act on (App-Only install); accessToken reaches all. */
  tokenGrants?: SandboxTokenGrants;
  /** Where "WhatsApp Manager" changes send the signed security webhook (the trigger's endpoint). */
  webhookUrl?: string;
  /** The Meta app secret that signs those webhooks (X-Hub-Signature-256). */
  appSecret?: string;
  /** Meta's rolling-hour budgets per WABA (and app); Meta's default of 200 calls a WABA when absent. */
  budget?: SandboxBudgetOptions;
}

export interface GraphSandbox {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
  setScenario(objectId: string, scenario: Scenario | undefined): void;
  scenarios(): ScenarioMap;
  addWaba(wabaId: string, numbers: SandboxPhoneNumber[]): void;
  pinOf(phoneNumberId: string): string | undefined;
  numberState(phoneNumberId: string): NumberState;
  /** Sets how a number starts out, e.g. {registered:false} for one fresh from embedded signup. */
  setupNumber(phoneNumberId: string, setup: SandboxNumberSetup): void;
  /** Moves the sandbox's clock forward (Meta's 72-hour registration window). */
  advanceClock(ms: number): void;
  requests(): RequestLogEntry[];
  /** Forgets PINs, counters and the request log; scenarios and WABAs go back to the start options. */
  reset(): void;
  /** A person in WhatsApp Manager: changes the PIN, or asks for / completes turning two-step off. */
  byHand(phoneNumberId: string, action: ByHandAction, input?: ByHandInput): Promise<ByHandResult>;
  setWebhookUrl(url: string | undefined): void;
  grantToken(token: string, wabas: readonly string[] | '*'): void;
}

export async function startGraphSandbox(options: GraphSandboxOptions = {}): Promise<GraphSandbox> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => {});
  const state = createSandboxState({ wabas: options.wabas, numbers: options.numbers, now: options.now });
  const faults = createSandboxFaults(options.scenarios, sendGraphError);
  const budget = createSandboxBudget(options.budget);
  let closed = false;
  let port = 0;
  const tokens = createSandboxTokens({
    ...options.tokenGrants,
    [options.accessToken ?? SANDBOX_ACCESS_TOKEN]: '*',
  });
  const byHand = createSandboxByHand({
    state,
    ...(options.appSecret !== undefined ? { appSecret: options.appSecret } : {}),
    ...(options.webhookUrl !== undefined ? { webhookUrl: options.webhookUrl } : {}),
  });
  const reset = () => {
    state.reset();
    faults.reset();
    tokens.reset();
    budget.reset();
  };
  const graphRoutes = createGraphRoutes({
    tokens,
    state,
    faults,
    budget,
    hostAndPort: () => `${host}:${port}`,
  });
  const controlApi = createControlApi(state, faults, reset, byHand);

  /** Graph callers get Graph's error shape even for the sandbox's own refusals. */
  function answerGraphFailure(res: ServerResponse, err: unknown): Outcome {
    // A caller gone mid-request was answered nothing: logged as 0, like a reset connection.
    if (err instanceof ClientGoneError) return { status: 0 };
    const problem = err instanceof HttpError ? err : undefined;
    if (problem === undefined) log(`sandbox internal error: ${(err as Error).message}`);
    const status = problem?.status ?? 500;
    return sendMetaError(
      res,
      status === 413 ? 100 : 1,
      {
        message: status === 413 ? '(#100) Request body too large' : 'An unknown error occurred',
        httpStatus: status,
      },
      problem?.closeConnection ? { connection: 'close' } : {},
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (segments[0] === '_sandbox') {
      await controlApi(req, res, segments.slice(1));
      return;
    }
    const started = Date.now();
    const entry: RequestLogEntry = {
      method: req.method ?? 'GET',
      path: url.pathname,
      status: 0,
      at: new Date(started).toISOString(),
      durationMs: 0,
    };
    let outcome: Outcome;
    try {
      outcome = await graphRoutes(req, res, url, segments, entry);
    } catch (err) {
      outcome = answerGraphFailure(res, err);
    }
    entry.status = outcome.status;
    entry.graphCode = outcome.graphCode;
    if (outcome.fault) entry.fault = outcome.fault;
    entry.durationMs = Date.now() - started;
    state.logRequest(entry);
    const extras = [
      entry.graphCode === undefined ? '' : ` code ${entry.graphCode}`,
      entry.fault ? ` [${entry.fault}]` : '',
    ];
    log(`${entry.method} ${entry.path} -> ${entry.status}${extras.join('')} ${entry.durationMs}ms`);
  }

  const server = createHttpServer(SANDBOX_LIMITS, handle, {
    unexpected: (err) => log(`sandbox internal error: ${(err as Error).message}`),
  });
  try {
    port = await listen(server, options.port ?? 0, host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw code === 'EADDRINUSE' ? new PortBusyError(options.port ?? 0, 'Graph sandbox', host) : err;
  }
  const url = httpUrl(host, port);

  return {
    url,
    port,
    async close() {
      if (closed) return;
      closed = true;
      faults.close();
      await stopServer(server, 0);
    },
    setScenario: (objectId, scenario) => faults.setScenario(objectId, scenario),
    scenarios: () => faults.scenarios(),
    addWaba: (wabaId, numbers) => state.addWaba(wabaId, numbers),
    pinOf: (id) => state.pinOf(id),
    numberState: (id) => state.numberState(id),
    setupNumber: (id, setup) => state.setupNumber(id, setup),
    advanceClock: (ms) => state.advanceClock(ms),
    requests: () => state.requests(),
    reset,
    byHand: (id, action, input) => byHand.act(id, action, input),
    setWebhookUrl: (url) => byHand.setWebhookUrl(url),
    grantToken: (token, wabas) => tokens.grant(token, wabas),
  };
}
