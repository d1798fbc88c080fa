// `npm run graph-sandbox`: the Graph sandbox as its own process, for the local stack, drills and
// manual runs. Scenarios come from GRAPH_SANDBOX_SCENARIOS and/or --scenarios FILE (the file wins per
// key) and can be changed while it runs through PUT /_sandbox/scenarios/{id}.
import type { CliIo } from '../cli/cli-io';
import { EXIT_OK } from '../cli/exit-code-policy';
import { portSetting, wholeNumberFlag } from '../cli/flag-values';
import { listenFailure } from '../cli/listen-error';
import { parseFlags } from '../cli/parse-flags';
import { runMain, stopRequested } from '../cli/run-main';
import { SANDBOX_ACCESS_TOKEN } from '../graph/graph-config';
import { loadNumberSetupFile, numberSetupsFromEnv, NUMBERS_ENV } from './number-setups';
import { readFileSync } from 'node:fs';
import { UsageError } from '../cli/usage-error';
import { parseSandboxTenants } from './sandbox-tokens';
import { loadScenarioFile, scenariosFromEnv, SCENARIOS_ENV, type ScenarioMap } from './scenarios';
import { DEFAULT_WABA_CALLS_PER_HOUR } from './sandbox-budget';
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
  --numbers FILE    JSON keyed by phone number id: how numbers start out, e.g.
                    {"1234":{"registered":false},"5678":{"registered":false,"twoStepPin":"135024"},
                     "9012":{"registered":false,"recentRegistrationCalls":10}}
                    (fields registered, verified, twoStepPin, recentRegistrationCalls; without an
                    entry a number is verified and registered on Cloud API, with no two-step PIN)
  --tenants FILE    client businesses' tokens, each reaching only its WABAs (App-Only install):
                    {"<token>": {"<waba id>": ["<phone-number id>", ...]}}
  --waba-budget N   calls each WABA may make per hour before code 80007 (default ${DEFAULT_WABA_CALLS_PER_HOUR});
                    every answer carries X-Business-Use-Case-Usage
  --app-budget N    calls the app may make per hour before code 4 (default none: no X-App-Usage)
  --budget-hour-ms MS  length of the budget's hour in ms, to watch a window pass (default 3600000)
  --quiet           do not print one line per request
  --help            show this help

Environment: ${SCENARIOS_ENV} and ${NUMBERS_ENV} hold scenarios and number setups in the same
JSON forms (a file wins per key).
With WHATSAPP_APP_SECRET and GRAPH_SANDBOX_WEBHOOK_URL (the trigger's /webhooks/whatsapp), the
WhatsApp Manager actions below send Meta's signed security webhook there:
  POST /_sandbox/numbers/{id}/change-pin | request-two-step-off | confirm-two-step-off {pin?, requester?}
Control while running: PUT/DELETE /_sandbox/scenarios/{id}, POST /_sandbox/wabas/{wabaId},
PUT /_sandbox/numbers/{id}, GET /_sandbox/numbers/{id}, GET /_sandbox/requests,
POST /_sandbox/clock {"advanceMs":N}, POST /_sandbox/reset.
`;

async function main(io: CliIo): Promise<number> {
  const { values } = parseFlags(io, {
    strings: 'port host token scenarios numbers tenants waba-budget app-budget budget-hour-ms',
    booleans: 'quiet',
    help: HELP,
  });
  const host = values.host ?? '127.0.0.1';
  const port = portSetting({
    flag: '--port',
    raw: values.port,
    variable: 'GRAPH_SANDBOX_PORT',
    env: io.env,
    fallback: DEFAULT_SANDBOX_PORT,
    allowZero: true,
  });
  const token = values.token ?? (io.env.GRAPH_ACCESS_TOKEN?.trim() || SANDBOX_ACCESS_TOKEN);
  const scenarios: ScenarioMap = {
    ...scenariosFromEnv(io.env),
    ...(values.scenarios ? loadScenarioFile(values.scenarios) : {}),
  };
  const numbers = {
    ...numberSetupsFromEnv(io.env),
    ...(values.numbers ? loadNumberSetupFile(values.numbers) : {}),
  };

  const tenants = values.tenants ? readTenants(values.tenants) : undefined;
  const appSecret = io.env.WHATSAPP_APP_SECRET?.trim();
  const webhookUrl = io.env.GRAPH_SANDBOX_WEBHOOK_URL?.trim();
  const optionalCount = (flag: string, raw: string | undefined, min: number) =>
    raw === undefined ? undefined : wholeNumberFlag(flag, raw, { fallback: 0, min, max: 1e9 });
  const budget = {
    wabaCallsPerHour: optionalCount('--waba-budget', values['waba-budget'], 1),
    appCallsPerHour: optionalCount('--app-budget', values['app-budget'], 1),
    hourMs: optionalCount('--budget-hour-ms', values['budget-hour-ms'], 1_000),
  };

  const sandbox = await startGraphSandbox({
    port,
    budget,
    host,
    accessToken: token,
    scenarios,
    numbers,
    ...(tenants ? { tokenGrants: tenants.grants, wabas: tenants.wabas } : {}),
    ...(appSecret ? { appSecret } : {}),
    ...(webhookUrl ? { webhookUrl } : {}),
    log: values.quiet ? undefined : (line) => console.log(`${new Date().toISOString()} ${line}`),
  }).catch((err: unknown) => {
    throw listenFailure(err, host, port);
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
  const setups = Object.keys(numbers);
  if (setups.length) console.log(`Number setups for: ${setups.join(', ')}`);

  const signal = await stopRequested(io.signal);
  console.log(`graph-sandbox: ${signal}, stopping`);
  await sandbox.close();
  return EXIT_OK;
}

function readTenants(file: string) {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--tenants ${file}: cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  try {
    return parseSandboxTenants(JSON.parse(text), `--tenants ${file}`);
  } catch (err) {
    throw new UsageError(
      err instanceof SyntaxError ? `--tenants ${file}: not JSON (${err.message})` : (err as Error).message,
    );
  }
}

if (require.main === module) runMain({ name: 'graph-sandbox', stop: { again: 'wait' } }, main);
