// Inspection and control under /_sandbox/...: for tests, drills and operators, never part of Graph.
//   GET /_sandbox/health | /numbers/{id} | /requests | /scenarios
//   PUT|DELETE /_sandbox/scenarios/{id}    POST /_sandbox/wabas/{wabaId}    POST /_sandbox/reset
//   PUT /_sandbox/numbers/{id} {registered?, verified?, twoStepPin?, recentRegistrationCalls?}
//   POST /_sandbox/clock {"advanceMs": N}
//   POST /_sandbox/numbers/{id}/change-pin | request-two-step-off | confirm-two-step-off
//        {pin?, requester?}: a person in WhatsApp Manager; sends the signed security webhook
//   PUT  /_sandbox/webhook {url}: where those webhooks go
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SandboxFaults } from './sandbox-faults';
import { HttpError } from '../http/http-error';
import { readBody } from '../http/read-body';
import { sendJson } from '../http/send-json';
import { SANDBOX_MAX_BODY_BYTES } from './sandbox-limits';
import { parseNumberSetup } from './number-setups';
import { isByHandAction, parseByHandInput, type SandboxByHand } from './sandbox-by-hand';
import { parseWabaNumbers, type SandboxState } from './sandbox-state';
import { parseScenario, ScenarioError } from './scenarios';

export type ControlApi = (req: IncomingMessage, res: ServerResponse, segments: string[]) => Promise<void>;

export function createControlApi(
  state: SandboxState,
  faults: SandboxFaults,
  reset: () => void,
  byHand: SandboxByHand,
): ControlApi {
  return async function handleControl(req, res, segments) {
    const method = req.method ?? 'GET';
    const [area, id, action] = segments;
    const body =
      method === 'PUT' || method === 'POST'
        ? (await readBody(req, SANDBOX_MAX_BODY_BYTES)).toString('utf8')
        : '';
    const json = (): unknown => {
      try {
        return JSON.parse(body);
      } catch {
        throw new HttpError(400, 'BadRequest', 'body is not valid JSON');
      }
    };
    if (method === 'GET' && area === 'health' && !id) return sendJson(res, 200, { ok: true });
    if (method === 'POST' && area === 'numbers' && id && isByHandAction(action)) {
      if (!/^\d{1,32}$/.test(id))
        throw new HttpError(400, 'BadRequest', 'the phone number id must be digits');
      return sendJson(res, 200, await byHand.act(id, action, parseByHandInput(body.trim() ? json() : {})));
    }
    if (method === 'PUT' && area === 'webhook' && !id) {
      const url = (json() as { url?: unknown } | null)?.url;
      if (url !== null && (typeof url !== 'string' || !/^https?:\/\//.test(url))) {
        throw new HttpError(
          400,
          'BadRequest',
          'body must be {"url":"http://..."} (or {"url":null} to stop sending)',
        );
      }
      byHand.setWebhookUrl(url ?? undefined);
      return sendJson(res, 200, { url });
    }
    if (segments.length > 2) {
      throw new HttpError(404, 'NotFound', `no sandbox endpoint ${method} /_sandbox/${segments.join('/')}`);
    }
    if (method === 'GET' && area === 'numbers' && id) return sendJson(res, 200, state.numberState(id));
    if (method === 'GET' && area === 'requests' && !id)
      return sendJson(res, 200, { requests: state.requests() });
    if (method === 'GET' && area === 'scenarios' && !id) {
      return sendJson(res, 200, { scenarios: faults.scenarios() });
    }
    if (area === 'scenarios' && id && (method === 'PUT' || method === 'DELETE')) {
      try {
        faults.setScenario(id, method === 'PUT' ? parseScenario(json(), `scenario for ${id}`) : undefined);
      } catch (err) {
        if (err instanceof ScenarioError) throw new HttpError(400, 'BadRequest', err.message);
        throw err;
      }
      return sendJson(res, 200, { id, scenario: faults.scenario(id) ?? null });
    }
    if (method === 'PUT' && area === 'numbers' && id) {
      if (!/^\d{1,32}$/.test(id))
        throw new HttpError(400, 'BadRequest', 'the phone number id must be digits');
      try {
        state.setupNumber(id, parseNumberSetup(json(), 'body'));
      } catch (err) {
        if (err instanceof ScenarioError) throw new HttpError(400, 'BadRequest', err.message);
        throw err;
      }
      return sendJson(res, 200, state.numberState(id));
    }
    if (method === 'POST' && area === 'clock' && !id) {
      const advanceMs = (json() as { advanceMs?: unknown } | null)?.advanceMs;
      if (typeof advanceMs !== 'number' || !Number.isInteger(advanceMs) || advanceMs < 0) {
        throw new HttpError(
          400,
          'BadRequest',
          'body must be {"advanceMs": N} with N a whole number of milliseconds >= 0',
        );
      }
      state.advanceClock(advanceMs);
      return sendJson(res, 200, { ok: true });
    }
    if (method === 'POST' && area === 'wabas' && id) {
      state.addWaba(id, parseWabaNumbers(json()));
      return sendJson(res, 200, { wabaId: id, phone_numbers: state.wabaNumbers(id) });
    }
    if (method === 'POST' && area === 'reset' && !id) {
      reset();
      return sendJson(res, 200, { ok: true });
    }
    throw new HttpError(404, 'NotFound', `no sandbox endpoint ${method} /_sandbox/${segments.join('/')}`);
  };
}
