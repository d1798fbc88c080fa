// `npm run graph-sandbox`: the Graph sandbox as its own process, for the local stack, drills and
// manual runs. Scenarios come from GRAPH_SANDBOX_SCENARIOS and/or --scenarios FILE (the file wins per
// key) and can be changed while it runs through PUT /_sandbox/scenarios/{id}.
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/env-reader';
import { SANDBOX_ACCESS_TOKEN } from '../graph/graph-config';
import {
  loadScenarioFile,
  ScenarioError,
  scenariosFromEnv,
  SCENARIOS_ENV,
  type ScenarioMap,
} from './scenarios';
import { PortBusyError } from '../local-stack/processes';
import { DEFAULT_SANDBOX_PORT, startGraphSandbox } from './server';

const HELP = `Graph sandbox: a local stand-in for graph.facebook.com with fault injection.

Usage: npm run graph-sandbox -- [options]

Options:
  --port N          port to listen on (default ${DEFAULT_SANDBOX_PORT}, or GRAPH_SANDBOX_PORT; 0 = any free port)
  --host HOST       address to listen on (default 127.0.0.1)
  --token TOKEN     access token callers must present (default GRAPH_ACCESS_TOKEN, else the
                    built-in sandbox token the worker uses for a loopback GRAPH_BASE_URL)
  --scenarios FILE  JSON scenarios keyed by phone number id or "*", e.g.
                    {"*":{"kind":"chaos","probability":0.2,"seed":7},"1234":{"kind":"throttled","times":2}}
  --quiet           do not print one line per request
  --help            show this help

Environment: ${SCENARIOS_ENV} holds scenarios in the same JSON form.
Control while running: PUT/DELETE /_sandbox/scenarios/{id}, POST /_sandbox/wabas/{wabaId},
GET /_sandbox/numbers/{id}, GET /_sandbox/requests, POST /_sandbox/reset.
`;

function fail(line: string): never {
  console.error(`graph-sandbox: ${line}`);
  process.exit(1);
}

function parsePort(raw: string, source: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65_535) fail(`${source} must be a port number 0-65535 (got "${raw}")`);
  return port;
}

async function main() {
  let args: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        token: { type: 'string' },
        scenarios: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  }
  try {
    args = parse();
  } catch (err) {
    fail(`${(err as Error).message} (see --help)`);
  }
  const { values } = args;
  if (values.help) {
    console.log(HELP);
    return;
  }

  const envPort = process.env.GRAPH_SANDBOX_PORT?.trim();
  const port =
    values.port !== undefined
      ? parsePort(values.port, '--port')
      : envPort
        ? parsePort(envPort, 'GRAPH_SANDBOX_PORT')
        : DEFAULT_SANDBOX_PORT;
  const token = values.token ?? (process.env.GRAPH_ACCESS_TOKEN?.trim() || SANDBOX_ACCESS_TOKEN);

  let scenarios: ScenarioMap;
  try {
    scenarios = {
      ...scenariosFromEnv(process.env),
      ...(values.scenarios ? loadScenarioFile(values.scenarios) : {}),
    };
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ScenarioError) fail(err.message);
    throw err;
  }

  const sandbox = await startGraphSandbox({
    port,
    host: values.host,
    accessToken: token,
    scenarios,
    log: values.quiet ? undefined : (line) => console.log(`${new Date().toISOString()} ${line}`),
  }).catch((err: unknown) => {
    if (err instanceof PortBusyError) fail(err.message);
    fail(`could not listen on ${values.host}:${port}: ${(err as Error).message}`);
  });

  const keys = Object.keys(scenarios);
  console.log(`Graph sandbox listening on ${sandbox.url}`);
  console.log(`Point the worker at it: GRAPH_BASE_URL=${sandbox.url}`);
  console.log(
    token === SANDBOX_ACCESS_TOKEN
      ? 'Token: the built-in sandbox token (used automatically for a loopback GRAPH_BASE_URL)'
      : 'Token: the one given with --token / GRAPH_ACCESS_TOKEN (set the same GRAPH_ACCESS_TOKEN for the worker)',
  );
  console.log(keys.length ? `Scenarios for: ${keys.join(', ')}` : 'No fault scenarios: every call succeeds');

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`graph-sandbox: ${signal}, stopping`);
    sandbox.close().then(
      () => process.exit(0),
      (err: unknown) => fail(`error while stopping: ${(err as Error).message}`),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => fail((err as Error).stack ?? String(err)));
