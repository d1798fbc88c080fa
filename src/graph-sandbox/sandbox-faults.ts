// Fault injection in the sandbox: the scenarios in force (per number, or '*' for all), how many
// requests each number has seen under its scenario, and carrying out the fault a scenario plans
// (a Graph error, an HTML proxy page, a reset connection, a late answer).
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  DEFAULT_SCENARIO_KEY,
  parseScenario,
  planFault,
  scenarioAppliesTo,
  ScenarioError,
  type FaultEndpoint,
  type Fault,
  type MetaErrorBody,
  type Scenario,
  type ScenarioMap,
} from './scenarios';

const BAD_GATEWAY_PAGE =
  '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>' +
  '<body><h1>502 Bad Gateway</h1><p>The upstream server did not answer.</p><hr><address>edge-proxy</address></body></html>\n';

/** What a request was answered with, for the request log. */
export interface Outcome {
  status: number;
  graphCode?: number;
  fault?: string;
}

export type SendGraphError = (
  res: ServerResponse,
  status: number,
  error: MetaErrorBody,
  headers?: Record<string, string>,
) => Outcome;

export interface SandboxFaults {
  /**
   * The fault the scenario in force plans for this request to `objectId` at `endpoint`, counting
   * the request when the scenario applies to that endpoint.
   */
  faultFor(objectId: string, usageKey: string, endpoint?: FaultEndpoint): Fault | undefined;
  /**
   * Carries the fault out. Undefined when the request should go on to its normal answer (a delay
   * that has passed), else what was answered.
   */
  apply(req: IncomingMessage, res: ServerResponse, fault: Fault): Promise<Outcome | undefined>;
  setScenario(objectId: string, scenario: Scenario | undefined): void;
  scenario(objectId: string): Scenario | undefined;
  /** Deep copies of the scenarios in force. */
  scenarios(): ScenarioMap;
  /** Back to the start options' scenarios, counters forgotten. */
  reset(): void;
  /** Wakes every pending delay; from then on delayed requests are cut instead of answered. */
  close(): void;
}

interface Counter {
  seen: number;
  served: number;
}

function cloneScenarios(map: ScenarioMap | undefined): Map<string, Scenario> {
  return new Map(Object.entries(map ?? {}).map(([key, scenario]) => [key, structuredClone(scenario)]));
}

export function createSandboxFaults(initial: ScenarioMap | undefined, sendGraphError: SendGraphError) {
  let scenarios = cloneScenarios(initial);
  // scenario key ('*' or an id) -> object id -> counts under that scenario
  const counters = new Map<string, Map<string, Counter>>();
  const pendingDelays = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  let closed = false;

  function counterOf(key: string, id: string): Counter {
    let byId = counters.get(key);
    if (!byId) counters.set(key, (byId = new Map<string, Counter>()));
    let counter = byId.get(id);
    if (!counter) byId.set(id, (counter = { seen: 0, served: 0 }));
    return counter;
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

  const faults: SandboxFaults = {
    faultFor(objectId, usageKey, endpoint) {
      const scenarioKey = scenarios.has(objectId) ? objectId : DEFAULT_SCENARIO_KEY;
      const scenario = scenarios.get(scenarioKey);
      if (!scenario || !scenarioAppliesTo(scenario, endpoint)) return undefined;
      const counter = counterOf(scenarioKey, objectId);
      const fault = planFault(scenario, { objectId, usageKey, seen: counter.seen, served: counter.served });
      counter.seen++;
      if (fault) counter.served++;
      return fault;
    },

    async apply(req, res, fault) {
      switch (fault.action) {
        case 'error':
          return { ...sendGraphError(res, fault.status, fault.error, fault.headers), fault: fault.label };
        case 'text':
          if (!res.headersSent) {
            res.writeHead(fault.status, { 'content-type': 'text/plain; charset=utf-8' });
            res.end(fault.body);
          }
          return { status: fault.status, fault: fault.label };
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
    },

    setScenario(objectId, scenario) {
      if (objectId !== DEFAULT_SCENARIO_KEY && !/^\d{1,32}$/.test(objectId)) {
        throw new ScenarioError(`scenario key ${JSON.stringify(objectId)} must be a numeric id or "*"`);
      }
      // Validate even typed callers' input: tests build scenarios by hand too.
      if (scenario) scenarios.set(objectId, parseScenario(scenario, `scenario for ${objectId}`));
      else scenarios.delete(objectId);
      counters.delete(objectId);
    },

    scenario: (objectId) => scenarios.get(objectId),

    scenarios: () => Object.fromEntries([...scenarios].map(([key, s]) => [key, structuredClone(s)])),

    reset() {
      counters.clear();
      scenarios = cloneScenarios(initial);
    },

    close() {
      closed = true;
      for (const pending of pendingDelays) {
        clearTimeout(pending.timer);
        pending.wake();
      }
      pendingDelays.clear();
    },
  };
  return faults;
}
