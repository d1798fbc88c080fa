// A stand-in for graph.facebook.com: the few endpoints the product calls, answering with Meta's
// documented shapes (error bodies, HTTP statuses, throttling headers), plus per-number fault injection
// and read-only inspection so tests and drills can check what "Meta" received. Meta cannot be reached
// from here, and its behaviour under failure is exactly what the product must survive.
import { randomBytes } from 'node:crypto';
import { PortBusyError } from '../local-stack/processes';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GRAPH_API_VERSION_PATTERN, SANDBOX_ACCESS_TOKEN } from '../graph/graph-config';
import {
  DEFAULT_SCENARIO_KEY,
  metaError,
  parseScenario,
  planFault,
  ScenarioError,
  type Fault,
  type MetaErrorBody,
  type Scenario,
  type ScenarioMap,
} from './scenarios';

export const DEFAULT_SANDBOX_PORT = 8099;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_LOG_ENTRIES = 2_000;
/** Meta's default page size for edges. */
const DEFAULT_PAGE_SIZE = 25;

export interface SandboxPhoneNumber {
  id: string;
  display_phone_number?: string;
  verified_name?: string;
}

export interface GraphSandboxOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** The token callers must present; defaults to SANDBOX_ACCESS_TOKEN. */
  accessToken?: string;
  scenarios?: ScenarioMap;
  /** WABA id -> the phone numbers registered to it. */
  wabas?: Record<string, SandboxPhoneNumber[]>;
  /** One line per Graph request; never contains a PIN or a token. */
  log?: (line: string) => void;
}

export interface RequestLogEntry {
  method: string;
  /** The path without its query string (which could carry access_token). */
  path: string;
  phoneNumberId?: string;
  /** HTTP status answered; 0 when the connection was destroyed instead. */
  status: number;
  at: string;
  durationMs: number;
  graphCode?: number;
  /** The injected fault, when a scenario produced this answer. */
  fault?: string;
}

export interface NumberState {
  id: string;
  pin: string | null;
  pinSetAt: string | null;
  /** POST requests received for this number, whatever their outcome. */
  posts: number;
  /** Successful PIN sets. */
  pinSets: number;
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
  requests(): RequestLogEntry[];
  /** Forgets PINs, counters and the request log; scenarios and WABAs go back to the start options. */
  reset(): void;
}

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface NumberRecord {
  pin?: string;
  pinSetAt?: string;
  posts: number;
  pinSets: number;
}

interface Counter {
  seen: number;
  served: number;
}

function fbtraceId(): string {
  return `A${randomBytes(8).toString('base64url')}`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpProblem(413, 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

const BAD_GATEWAY_PAGE =
  '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>' +
  '<body><h1>502 Bad Gateway</h1><p>The upstream server did not answer.</p><hr><address>edge-proxy</address></body></html>\n';

function cloneScenarios(map: ScenarioMap | undefined): Map<string, Scenario> {
  return new Map(Object.entries(map ?? {}).map(([key, scenario]) => [key, structuredClone(scenario)]));
}

function cloneWabas(
  wabas: Record<string, SandboxPhoneNumber[]> | undefined,
): Map<string, SandboxPhoneNumber[]> {
  return new Map(Object.entries(wabas ?? {}).map(([id, numbers]) => [id, numbers.map((n) => ({ ...n }))]));
}

function parseWabaNumbers(value: unknown): SandboxPhoneNumber[] {
  const list = Array.isArray(value) ? value : (value as { phone_numbers?: unknown } | null)?.phone_numbers;
  if (!Array.isArray(list)) {
    throw new HttpProblem(
      400,
      'body must be a list of {id, display_phone_number?, verified_name?} or {phone_numbers:[...]}',
    );
  }
  return list.map((item: unknown, i) => {
    const entry = item as Record<string, unknown> | null;
    if (typeof entry?.id !== 'string' || !/^\d{1,32}$/.test(entry.id)) {
      throw new HttpProblem(400, `phone_numbers[${i}].id must be a string of digits`);
    }
    for (const field of ['display_phone_number', 'verified_name'] as const) {
      if (entry[field] !== undefined && typeof entry[field] !== 'string') {
        throw new HttpProblem(400, `phone_numbers[${i}].${field} must be a string`);
      }
    }
    return {
      id: entry.id,
      display_phone_number: entry.display_phone_number as string | undefined,
      verified_name: entry.verified_name as string | undefined,
    };
  });
}

export async function startGraphSandbox(options: GraphSandboxOptions = {}): Promise<GraphSandbox> {
  const host = options.host ?? '127.0.0.1';
  const accessToken = options.accessToken ?? SANDBOX_ACCESS_TOKEN;
  const log = options.log ?? (() => {});

  let scenarios = cloneScenarios(options.scenarios);
  let wabas = cloneWabas(options.wabas);
  const numbers = new Map<string, NumberRecord>();
  // scenario key ('*' or an id) -> object id -> counts under that scenario
  const counters = new Map<string, Map<string, Counter>>();
  let requestLog: RequestLogEntry[] = [];
  const pendingDelays = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  let closed = false;

  function recordOf(id: string): NumberRecord {
    let record = numbers.get(id);
    if (!record) {
      record = { posts: 0, pinSets: 0 };
      numbers.set(id, record);
    }
    return record;
  }

  function counterOf(key: string, id: string): Counter {
    let byId = counters.get(key);
    if (!byId) counters.set(key, (byId = new Map<string, Counter>()));
    let counter = byId.get(id);
    if (!counter) byId.set(id, (counter = { seen: 0, served: 0 }));
    return counter;
  }

  function wabaOf(phoneNumberId: string): string | undefined {
    for (const [wabaId, list] of wabas) if (list.some((n) => n.id === phoneNumberId)) return wabaId;
    return undefined;
  }

  function phoneInfo(id: string): Record<string, unknown> {
    const known = [...wabas.values()].flat().find((n) => n.id === id);
    return {
      id,
      display_phone_number: known?.display_phone_number ?? `+1 555-01${id.slice(-2).padStart(2, '0')}`,
      verified_name: known?.verified_name ?? 'Sandbox Business',
      code_verification_status: 'VERIFIED',
      quality_rating: 'GREEN',
      platform_type: 'CLOUD_API',
      throughput: { level: 'STANDARD' },
    };
  }

  function delay(ms: number): Promise<void> {
    return new Promise((wake) => {
      const entry = {
        timer: setTimeout(() => {
          pendingDelays.delete(entry);
          wake();
        }, ms),
        wake,
      };
      pendingDelays.add(entry);
    });
  }

  // ------------------------------------------------------------------------------------------------
  // Graph endpoints

  interface Outcome {
    status: number;
    graphCode?: number;
    fault?: string;
  }

  function sendGraphError(
    res: ServerResponse,
    status: number,
    error: MetaErrorBody,
    headers: Record<string, string> = {},
  ): Outcome {
    const trace = fbtraceId();
    sendJson(res, status, { error: { ...error, fbtrace_id: trace } }, { 'x-fb-trace-id': trace, ...headers });
    return { status, graphCode: error.code };
  }

  function sendError(
    res: ServerResponse,
    code: number,
    overrides: Parameters<typeof metaError>[1] = {},
  ): Outcome {
    const { status, error } = metaError(code, overrides);
    return sendGraphError(res, status, error);
  }

  function sendOk(res: ServerResponse, body: unknown): Outcome {
    sendJson(res, 200, body, { 'x-fb-trace-id': fbtraceId() });
    return { status: 200 };
  }

  function presentedToken(req: IncomingMessage, url: URL): string | undefined {
    const auth = req.headers.authorization;
    if (auth) return /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim() ?? '';
    return url.searchParams.get('access_token') ?? undefined;
  }

  function parsePostBody(req: IncomingMessage, text: string): Record<string, unknown> | undefined {
    if (text.trim() === '') return {};
    // Meta takes form-encoded parameters too; curl sends that content type even for JSON bodies.
    const type = req.headers['content-type'] ?? '';
    if (/application\/x-www-form-urlencoded/i.test(type) && !text.trimStart().startsWith('{')) {
      return Object.fromEntries(new URLSearchParams(text));
    }
    try {
      const parsed: unknown = JSON.parse(text);
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>)
        : undefined;
    } catch {
      return undefined;
    }
  }

  async function applyFault(
    res: ServerResponse,
    req: IncomingMessage,
    fault: Fault,
  ): Promise<Outcome | undefined> {
    switch (fault.action) {
      case 'error':
        return { ...sendGraphError(res, fault.status, fault.error, fault.headers), fault: fault.label };
      case 'html':
        if (!res.headersSent) {
          res.writeHead(fault.status, { 'content-type': 'text/html; charset=utf-8' });
          res.end(BAD_GATEWAY_PAGE);
        }
        return { status: fault.status, fault: fault.label };
      case 'reset':
        req.socket.destroy();
        return { status: 0, fault: fault.label };
      case 'delay':
        await delay(fault.ms);
        if (closed) {
          req.socket.destroy();
          return { status: 0, fault: `${fault.label} (sandbox closed)` };
        }
        return undefined;
    }
  }

  async function handleGraph(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    segments: string[],
    entry: RequestLogEntry,
  ): Promise<Outcome> {
    const method = req.method ?? 'GET';
    const bodyText = await readBody(req);
    const [version, objectId, edge, ...rest] = segments;
    if (!version || !GRAPH_API_VERSION_PATTERN.test(version) || rest.length > 0) {
      return sendError(res, 2500, { message: `Unknown path components: ${url.pathname}` });
    }
    if (objectId) entry.phoneNumberId = objectId;
    const token = presentedToken(req, url);
    if (token === undefined) {
      return sendError(res, 190, {
        message: 'An access token is required to request this resource.',
        subcode: null,
      });
    }
    if (token !== accessToken) {
      return sendError(res, 190, {
        message: 'Invalid OAuth access token - Cannot parse access token',
        subcode: null,
      });
    }
    if (!objectId) return sendError(res, 100, { message: `Unsupported ${method.toLowerCase()} request.` });
    if (!/^\d+$/.test(objectId)) {
      return sendError(res, 803, {
        message: `(#803) Some of the aliases you requested do not exist: ${objectId}`,
      });
    }
    if (method === 'POST' && edge === undefined) recordOf(objectId).posts++;

    const scenarioKey = scenarios.has(objectId) ? objectId : DEFAULT_SCENARIO_KEY;
    const scenario = scenarios.get(scenarioKey);
    if (scenario) {
      const counter = counterOf(scenarioKey, objectId);
      const fault = planFault(scenario, {
        objectId,
        usageKey: wabaOf(objectId) ?? objectId,
        seen: counter.seen,
        served: counter.served,
      });
      counter.seen++;
      if (fault) {
        counter.served++;
        const outcome = await applyFault(res, req, fault);
        if (outcome) return outcome;
        entry.fault = fault.label;
      }
    }

    if (method === 'POST' && edge === undefined) return setPin(req, res, objectId, bodyText);
    if (method === 'GET' && edge === undefined) return sendOk(res, selectFields(phoneInfo(objectId), url));
    if (method === 'GET' && edge === 'phone_numbers') return listNumbers(res, url, version, objectId, req);
    const what = edge === undefined ? '' : ` on edge ${edge}`;
    return sendError(res, 100, {
      message: `Unsupported ${method.toLowerCase()} request${what}. Object with ID '${objectId}' does not support this operation`,
      subcode: 33,
    });
  }

  function setPin(req: IncomingMessage, res: ServerResponse, id: string, bodyText: string): Outcome {
    const body = parsePostBody(req, bodyText);
    if (!body) return sendError(res, 100, { message: '(#100) The request body is not valid JSON' });
    if (body.pin === undefined)
      return sendError(res, 100, { message: '(#100) The parameter pin is required' });
    // A number instead of a string is refused: it is how leading zeros get lost.
    if (typeof body.pin !== 'string' || !/^\d{6}$/.test(body.pin)) {
      return sendError(res, 100, {
        message: '(#100) Invalid parameter',
        details: 'pin must be a string of exactly 6 digits',
      });
    }
    const record = recordOf(id);
    record.pin = body.pin;
    record.pinSetAt = new Date().toISOString();
    record.pinSets++;
    return sendOk(res, { success: true });
  }

  function selectFields(info: Record<string, unknown>, url: URL): Record<string, unknown> {
    const fields = url.searchParams.get('fields');
    if (!fields) return info;
    const wanted = new Set(fields.split(',').map((f) => f.trim()));
    wanted.add('id');
    return Object.fromEntries(Object.entries(info).filter(([key]) => wanted.has(key)));
  }

  function listNumbers(
    res: ServerResponse,
    url: URL,
    version: string,
    wabaId: string,
    req: IncomingMessage,
  ): Outcome {
    const list = wabas.get(wabaId);
    if (!list) {
      return sendError(res, 100, {
        message: `Unsupported get request. Object with ID '${wabaId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation`,
        subcode: 33,
      });
    }
    const limitParam = Number(url.searchParams.get('limit') ?? DEFAULT_PAGE_SIZE);
    const limit =
      Number.isInteger(limitParam) && limitParam > 0 ? Math.min(limitParam, 100) : DEFAULT_PAGE_SIZE;
    const afterParam = url.searchParams.get('after');
    const start = afterParam ? Number(Buffer.from(afterParam, 'base64url').toString('utf8')) + 1 : 0;
    if (!Number.isInteger(start) || start < 0)
      return sendError(res, 100, { message: '(#100) Invalid cursor' });
    const page = list.slice(start, start + limit);
    const data = page.map((n) => selectFields(phoneInfo(n.id), url));
    const cursor = (index: number) => Buffer.from(String(index)).toString('base64url');
    const body: Record<string, unknown> = { data };
    if (page.length > 0) {
      const paging: Record<string, unknown> = {
        cursors: { before: cursor(start), after: cursor(start + page.length - 1) },
      };
      if (start + page.length < list.length) {
        const next = new URL(
          `http://${req.headers.host ?? `${host}:${port}`}/${version}/${wabaId}/phone_numbers`,
        );
        for (const [key, value] of url.searchParams)
          if (key !== 'after' && key !== 'access_token') next.searchParams.set(key, value);
        next.searchParams.set('limit', String(limit));
        next.searchParams.set('after', cursor(start + page.length - 1));
        paging.next = next.toString();
      }
      body.paging = paging;
    }
    return sendOk(res, body);
  }

  // ------------------------------------------------------------------------------------------------
  // Inspection and control (/_sandbox/...): for tests, drills and operators, never part of Graph.

  function numberState(id: string): NumberState {
    const record = numbers.get(id);
    return {
      id,
      pin: record?.pin ?? null,
      pinSetAt: record?.pinSetAt ?? null,
      posts: record?.posts ?? 0,
      pinSets: record?.pinSets ?? 0,
    };
  }

  function setScenario(objectId: string, scenario: Scenario | undefined) {
    if (objectId !== DEFAULT_SCENARIO_KEY && !/^\d{1,32}$/.test(objectId)) {
      throw new ScenarioError(`scenario key ${JSON.stringify(objectId)} must be a numeric id or "*"`);
    }
    // Validate even typed callers' input: tests build scenarios by hand too.
    if (scenario) scenarios.set(objectId, parseScenario(scenario, `scenario for ${objectId}`));
    else scenarios.delete(objectId);
    counters.delete(objectId);
  }

  function addWaba(wabaId: string, list: SandboxPhoneNumber[]) {
    if (!/^\d{1,32}$/.test(wabaId)) throw new HttpProblem(400, 'WABA id must be digits');
    wabas.set(wabaId, parseWabaNumbers(list));
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, segments: string[]) {
    const method = req.method ?? 'GET';
    const [area, id] = segments;
    const body = method === 'PUT' || method === 'POST' ? await readBody(req) : '';
    const json = (): unknown => {
      try {
        return JSON.parse(body);
      } catch {
        throw new HttpProblem(400, 'body is not valid JSON');
      }
    };
    if (method === 'GET' && area === 'health' && !id) return sendJson(res, 200, { ok: true });
    if (method === 'GET' && area === 'numbers' && id) return sendJson(res, 200, numberState(id));
    if (method === 'GET' && area === 'requests' && !id) return sendJson(res, 200, { requests: requestLog });
    if (method === 'GET' && area === 'scenarios' && !id) {
      return sendJson(res, 200, { scenarios: Object.fromEntries(scenarios) });
    }
    if (area === 'scenarios' && id && (method === 'PUT' || method === 'DELETE')) {
      try {
        setScenario(id, method === 'PUT' ? parseScenario(json(), `scenario for ${id}`) : undefined);
      } catch (err) {
        if (err instanceof ScenarioError) throw new HttpProblem(400, err.message);
        throw err;
      }
      return sendJson(res, 200, { id, scenario: scenarios.get(id) ?? null });
    }
    if (method === 'POST' && area === 'wabas' && id) {
      addWaba(id, parseWabaNumbers(json()));
      return sendJson(res, 200, { wabaId: id, phone_numbers: wabas.get(id) });
    }
    if (method === 'POST' && area === 'reset' && !id) {
      reset();
      return sendJson(res, 200, { ok: true });
    }
    throw new HttpProblem(404, `no sandbox endpoint ${method} /_sandbox/${segments.join('/')}`);
  }

  function reset() {
    numbers.clear();
    counters.clear();
    requestLog = [];
    scenarios = cloneScenarios(options.scenarios);
    wabas = cloneWabas(options.wabas);
  }

  // ------------------------------------------------------------------------------------------------

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (segments[0] === '_sandbox') {
      try {
        await handleControl(req, res, segments.slice(1));
      } catch (err) {
        const status = err instanceof HttpProblem ? err.status : 500;
        sendJson(res, status, { error: { message: (err as Error).message } });
      }
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
      outcome = await handleGraph(req, res, url, segments, entry);
    } catch (err) {
      const status = err instanceof HttpProblem ? err.status : 500;
      outcome = sendError(res, status === 413 ? 100 : 1, {
        message: status === 413 ? '(#100) Request body too large' : 'An unknown error occurred',
        httpStatus: status,
      });
    }
    entry.status = outcome.status;
    entry.graphCode = outcome.graphCode;
    if (outcome.fault) entry.fault = outcome.fault;
    entry.durationMs = Date.now() - started;
    requestLog.push(entry);
    if (requestLog.length > MAX_LOG_ENTRIES) requestLog.splice(0, requestLog.length - MAX_LOG_ENTRIES);
    const extras = [
      entry.graphCode === undefined ? '' : ` code ${entry.graphCode}`,
      entry.fault ? ` [${entry.fault}]` : '',
    ];
    log(`${entry.method} ${entry.path} -> ${entry.status}${extras.join('')} ${entry.durationMs}ms`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`sandbox internal error: ${(err as Error).message}`);
      if (!res.headersSent) sendJson(res, 500, { error: { message: 'sandbox internal error' } });
    });
  });

  await new Promise<void>((resolveListen, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new PortBusyError(options.port ?? 0, 'Graph sandbox', host) : err);
    };
    server.once('error', onError);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', onError);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url,
    port,
    async close() {
      if (closed) return;
      closed = true;
      for (const pending of pendingDelays) {
        clearTimeout(pending.timer);
        pending.wake();
      }
      pendingDelays.clear();
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
    },
    setScenario,
    scenarios: () => Object.fromEntries([...scenarios].map(([key, s]) => [key, structuredClone(s)])),
    addWaba,
    pinOf: (id) => numbers.get(id)?.pin,
    numberState,
    requests: () => requestLog.map((e) => ({ ...e })),
    reset,
  };
}
