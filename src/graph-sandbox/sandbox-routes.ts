// The Graph endpoints the product calls, answering as Meta documents: POST /{version}/{phone-number-id}
// (set the two-step PIN; 133010 while the number is not registered), POST .../register and
// .../deregister (Meta's budget, verification and two-step PIN rules), GET /{version}/{phone-number-id},
// GET /{version}/{waba-id}/phone_numbers (paged), with Meta's error bodies for a bad path, a missing
// or wrong token, an unknown object.
import { parseJsonObject } from '../http/json-object';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GRAPH_API_VERSION_PATTERN } from '../graph/graph-config';
import type { SandboxBudget } from './sandbox-budget';
import type { Outcome, SandboxFaults } from './sandbox-faults';
import { readBody } from '../http/read-body';
import { sendJson } from '../http/send-json';
import { SANDBOX_MAX_BODY_BYTES } from './sandbox-limits';
import type { FaultEndpoint } from './scenarios';
import type { RequestLogEntry, SandboxState } from './sandbox-state';
import { tokenFingerprint, type SandboxTokens } from './sandbox-tokens';
import { metaError, type MetaErrorBody } from './scenarios';

/** Meta's default page size for edges. */
const DEFAULT_PAGE_SIZE = 25;

function fbtraceId(): string {
  return `A${randomBytes(8).toString('base64url')}`;
}

export function sendGraphError(
  res: ServerResponse,
  status: number,
  error: MetaErrorBody,
  headers: Record<string, string> = {},
): Outcome {
  const trace = fbtraceId();
  sendJson(res, status, { error: { ...error, fbtrace_id: trace } }, { 'x-fb-trace-id': trace, ...headers });
  return { status, graphCode: error.code };
}

export function sendMetaError(
  res: ServerResponse,
  code: number,
  overrides: Parameters<typeof metaError>[1] = {},
  headers: Record<string, string> = {},
): Outcome {
  const { status, error } = metaError(code, overrides);
  return sendGraphError(res, status, error, headers);
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
  return parseJsonObject(text);
}

/** Which endpoint a request is, for scenarios aimed at one endpoint only. */
function endpointOf(method: string, edge: string | undefined): FaultEndpoint | undefined {
  if (method === 'POST' && edge === undefined) return 'setPin';
  if (method === 'POST' && edge === 'register') return 'register';
  if (method === 'POST' && edge === 'deregister') return 'deregister';
  if (method === 'GET' && edge === undefined) return 'read';
  if (method === 'GET' && edge === 'phone_numbers') return 'list';
  return undefined;
}

const PIN_REQUIRED = '(#100) The parameter pin is required';

function selectFields(info: Record<string, unknown>, url: URL): Record<string, unknown> {
  const fields = url.searchParams.get('fields');
  if (!fields) return info;
  const wanted = new Set(fields.split(',').map((f) => f.trim()));
  wanted.add('id');
  return Object.fromEntries(Object.entries(info).filter(([key]) => wanted.has(key)));
}

export interface GraphRoutesOptions {
  /** Which tokens reach which WABAs (the partner's accessToken reaches all). */
  tokens: SandboxTokens;
  state: SandboxState;
  faults: SandboxFaults;
  budget: SandboxBudget;
  /** "host:port" for paging links when the request has no Host header. */
  hostAndPort: () => string;
}

export type GraphRoutes = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  segments: string[],
  entry: RequestLogEntry,
) => Promise<Outcome>;

export function createGraphRoutes({
  tokens,
  state,
  faults,
  budget,
  hostAndPort,
}: GraphRoutesOptions): GraphRoutes {
  /** The body's PIN, or the error Meta answers for a missing or malformed one. */
  function pinFrom(
    req: IncomingMessage,
    res: ServerResponse,
    bodyText: string,
  ): { pin: string; body: Record<string, unknown> } | Outcome {
    const body = parsePostBody(req, bodyText);
    if (!body) return sendMetaError(res, 100, { message: '(#100) The request body is not valid JSON' });
    if (body.pin === undefined) return sendMetaError(res, 100, { message: PIN_REQUIRED });
    // A number instead of a string is refused: it is how leading zeros get lost.
    if (typeof body.pin !== 'string' || !/^\d{6}$/.test(body.pin)) {
      return sendMetaError(res, 100, {
        message: '(#100) Invalid parameter',
        details: 'pin must be a string of exactly 6 digits',
      });
    }
    return { pin: body.pin, body };
  }

  function setPin(req: IncomingMessage, res: ServerResponse, id: string, bodyText: string): Outcome {
    const parsed = pinFrom(req, res, bodyText);
    if ('status' in parsed) return parsed;
    // Two-step settings belong to a number on Cloud API: before registration Meta answers 133010.
    if (!state.isRegistered(id)) return sendMetaError(res, 133010);
    state.setPin(id, parsed.pin);
    return sendOk(res, { success: true });
  }

  function register(req: IncomingMessage, res: ServerResponse, id: string, bodyText: string): Outcome {
    const parsed = pinFrom(req, res, bodyText);
    if ('status' in parsed) return parsed;
    const product = parsed.body.messaging_product;
    if (typeof product !== 'string' || product.toLowerCase() !== 'whatsapp') {
      return sendMetaError(res, 100, {
        message: '(#100) Invalid parameter',
        details: 'messaging_product must be "whatsapp"',
      });
    }
    const answer = state.register(id, parsed.pin);
    return answer.ok ? sendOk(res, { success: true }) : sendMetaError(res, answer.code);
  }

  function deregister(res: ServerResponse, id: string): Outcome {
    const answer = state.deregister(id);
    return answer.ok ? sendOk(res, { success: true }) : sendMetaError(res, answer.code);
  }

  function listNumbers(
    res: ServerResponse,
    url: URL,
    version: string,
    wabaId: string,
    req: IncomingMessage,
  ): Outcome {
    const list = state.wabaNumbers(wabaId);
    if (!list) {
      return sendMetaError(res, 100, {
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
      return sendMetaError(res, 100, { message: '(#100) Invalid cursor' });
    const page = list.slice(start, start + limit);
    const data = page.map((n) => selectFields(state.phoneInfo(n.id), url));
    const cursor = (index: number) => Buffer.from(String(index)).toString('base64url');
    const body: Record<string, unknown> = { data };
    if (page.length > 0) {
      const paging: Record<string, unknown> = {
        cursors: { before: cursor(start), after: cursor(start + page.length - 1) },
      };
      if (start + page.length < list.length) {
        const next = new URL(
          `http://${req.headers.host ?? hostAndPort()}/${version}/${wabaId}/phone_numbers`,
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

  return async function handleGraph(req, res, url, segments, entry) {
    const method = req.method ?? 'GET';
    const bodyText = (await readBody(req, SANDBOX_MAX_BODY_BYTES)).toString('utf8');
    const [version, objectId, edge, ...rest] = segments;
    if (!version || !GRAPH_API_VERSION_PATTERN.test(version) || rest.length > 0) {
      return sendMetaError(res, 2500, { message: `Unknown path components: ${url.pathname}` });
    }
    if (objectId) entry.phoneNumberId = objectId;
    const token = presentedToken(req, url);
    if (token === undefined) {
      return sendMetaError(res, 190, {
        message: 'An access token is required to request this resource.',
        subcode: null,
      });
    }
    entry.tokenId = tokenFingerprint(token);
    // The WABA an object belongs to: a number's WABA, or the WABA itself for its phone_numbers edge.
    const wabaId = objectId
      ? (state.wabaOf(objectId) ?? (state.wabaNumbers(objectId) ? objectId : undefined))
      : undefined;
    const verdict = tokens.verdict(token, wabaId);
    if (verdict === 'unknown-token') {
      return sendMetaError(res, 190, {
        message: 'Invalid OAuth access token - Cannot parse access token',
        subcode: null,
      });
    }
    if (!objectId)
      return sendMetaError(res, 100, { message: `Unsupported ${method.toLowerCase()} request.` });
    if (!/^\d+$/.test(objectId)) {
      return sendMetaError(res, 803, {
        message: `(#803) Some of the aliases you requested do not exist: ${objectId}`,
      });
    }
    // A client business's token on another client's asset, as Meta refuses it with App-Only installs.
    if (verdict === 'not-granted') return sendMetaError(res, 200, { message: '(#200) Permissions error' });
    if (method === 'POST' && edge === undefined) state.countPost(objectId);

    // Every answer from here on carries the usage headers of the object's WABA (itself for a WABA).
    const usageKey = state.wabaOf(objectId) ?? objectId;
    const admission = budget.admit(usageKey);
    for (const [name, value] of Object.entries(admission.headers)) res.setHeader(name, value);
    if (admission.refusedBy) {
      const { status, error } = metaError(admission.refusedBy === 'waba' ? 80007 : 4);
      return {
        ...sendGraphError(res, status, error, admission.headers),
        fault: `over the ${admission.refusedBy} budget`,
      };
    }

    const endpoint = endpointOf(method, edge);
    const fault = faults.faultFor(objectId, usageKey, endpoint);
    if (fault) {
      const outcome = await faults.apply(req, res, fault);
      if (outcome) return outcome;
      entry.fault = fault.label;
    }

    if (endpoint === 'setPin') return setPin(req, res, objectId, bodyText);
    if (endpoint === 'register') return register(req, res, objectId, bodyText);
    if (endpoint === 'deregister') return deregister(res, objectId);
    if (method === 'GET' && edge === undefined)
      return sendOk(res, selectFields(state.phoneInfo(objectId), url));
    if (method === 'GET' && edge === 'phone_numbers') return listNumbers(res, url, version, objectId, req);
    const what = edge === undefined ? '' : ` on edge ${edge}`;
    return sendMetaError(res, 100, {
      message: `Unsupported ${method.toLowerCase()} request${what}. Object with ID '${objectId}' does not support this operation`,
      subcode: 33,
    });
  };
}
