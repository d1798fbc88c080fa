// `npm run trigger`: the onboarding trigger as a process. Reads its configuration from the
// environment, connects to Temporal, serves until SIGINT/SIGTERM, then drains and stops.
import { parseArgs } from 'node:util';
import { createGraphClient } from '../graph/graph-client';
import { connectOnboardingClient } from '../onboarding/onboarding-client';
import { TemporalUnreachableError } from '../temporal/temporal-connection';
import { loadTriggerConfig, TriggerConfigErrors } from './trigger-config';
import {
  createTriggerServer,
  DEFAULT_TRIGGER_PORT,
  ONBOARDED_PATH,
  WEBHOOK_PATH,
  type TriggerLogger,
} from './trigger-server';

export const TRIGGER_HELP = `Usage: npm run trigger -- [--port N] [--host ADDRESS]

Starts the two-step-verification onboarding (workflow registerNumber) when a number joins:

  POST ${ONBOARDED_PATH}          {"phoneNumberId":"...","wabaId"?,"displayPhoneNumber"?,"tenant"?}
                               with Authorization: Bearer <TRIGGER_SHARED_SECRET>
                               -> 202 {"outcome":"started"|"already-running"|"already-completed",
                                       "workflowId":"register-number-..."}
  GET  ${WEBHOOK_PATH}   Meta's subscription handshake (hub.verify_token = WEBHOOK_VERIFY_TOKEN)
  POST ${WEBHOOK_PATH}   Meta's signed webhooks (X-Hub-Signature-256 with WHATSAPP_APP_SECRET);
                               account_update / PARTNER_ADDED onboards every number of the WABA
                               (listed through Graph), tenant = the owner business id
  GET  /healthz                liveness

Webhooks are answered once the starts are accepted by Temporal; if Graph or Temporal fail, the
answer is 503 and Meta delivers the event again (starts are idempotent: no number twice).
Bad secrets or signatures get 401, malformed bodies 400, and start nothing.

Options
  --port N       listen port (default TRIGGER_PORT or ${DEFAULT_TRIGGER_PORT})
  --host ADDRESS listen address (default TRIGGER_HOST or 127.0.0.1; 0.0.0.0 behind a proxy)
  --help

Environment (required)
  TRIGGER_SHARED_SECRET  bearer token for POST ${ONBOARDED_PATH} (at least 16 characters)
  WHATSAPP_APP_SECRET    the Meta app secret (verifies X-Hub-Signature-256)
  WEBHOOK_VERIFY_TOKEN   the verify token configured with the webhook in the App Dashboard
Environment (optional)
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, PAYLOAD_CODEC_KEYS
  GRAPH_BASE_URL, GRAPH_API_VERSION, GRAPH_ACCESS_TOKEN   (listing a WABA's phone numbers)
  ONBOARDING_RETRY_SCHEDULES, MANUAL_RESET_DEADLINE        (as for the starter)
`;

/** One line per event on stdout; attributes as JSON. Never given a secret. */
function consoleLogger(): TriggerLogger {
  const line = (level: string, message: string, attrs?: Record<string, unknown>) =>
    console.log(`${new Date().toISOString()} ${level} ${message}${attrs ? ` ${JSON.stringify(attrs)}` : ''}`);
  return {
    info: (m, a) => line('info', m, a),
    warn: (m, a) => line('warn', m, a),
    error: (m, a) => line('error', m, a),
  };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }).values;
  } catch (err) {
    console.error(`trigger: ${(err as Error).message}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(TRIGGER_HELP);
    return 0;
  }
  const env = { ...process.env };
  if (args.port !== undefined) env.TRIGGER_PORT = args.port;
  if (args.host !== undefined) env.TRIGGER_HOST = args.host;

  let config;
  try {
    config = loadTriggerConfig(env);
  } catch (err) {
    if (err instanceof TriggerConfigErrors) {
      for (const e of err.errors) console.error(`trigger: ${e.message}`);
      return 2;
    }
    throw err;
  }
  let client;
  try {
    client = await connectOnboardingClient(config.temporal);
  } catch (err) {
    if (err instanceof TemporalUnreachableError) {
      console.error(`trigger: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const log = consoleLogger();
  const trigger = createTriggerServer({
    client,
    graph: createGraphClient(config.graph),
    secrets: config.secrets,
    onboardingOptions: config.onboarding,
    log,
  });
  let port: number;
  try {
    port = await trigger.listen(config.port, config.host);
  } catch (err) {
    console.error(`trigger: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
    await client.connection.close();
    return 2;
  }
  log.info('trigger listening', {
    url: `http://${config.host}:${port}`,
    namespace: config.temporal.temporal.namespace,
    graph: config.graph.baseUrl,
  });
  await new Promise<void>((resolveStop) => {
    const stop = (signal: NodeJS.Signals) => {
      log.info('stopping: finishing requests in progress', { signal });
      resolveStop();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await trigger.close();
  await client.connection.close();
  log.info('trigger stopped');
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`trigger: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      process.exitCode = 2;
    },
  );
}
