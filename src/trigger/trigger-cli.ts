// `npm run trigger`: the onboarding trigger as a process. Reads its configuration from the
// environment, connects to Temporal, serves until SIGINT/SIGTERM, then drains and stops.
import { isTerminal, type CliIo } from '../cli/cli-io';
import { EXIT_OK } from '../cli/exit-code-policy';
import { listenFailure } from '../cli/listen-error';
import { parseFlags } from '../cli/parse-flags';
import { runMain, stopRequested } from '../cli/run-main';
import { tenantGraphFromConfig } from '../graph/tenant-graph-from-config';
import { createLineLogger } from '../logging/line-logger';
import { loadLogFormat, loadLogLevel } from '../logging/log-format';
import { connectOnboardingClient } from '../onboarding/onboarding-client';
import { createVaultClient, type VaultClient } from '../vault/vault-client';
import { loadTriggerConfig } from './trigger-config';
import { createTriggerServer, DEFAULT_TRIGGER_PORT, ONBOARDED_PATH, WEBHOOK_PATH } from './trigger-server';

export const TRIGGER_HELP = `Usage: npm run trigger -- [--port N] [--host ADDRESS]

Starts the two-step-verification onboarding (workflow registerNumber) when a number joins:

  POST ${ONBOARDED_PATH}          {"phoneNumberId":"...","wabaId"?,"displayPhoneNumber"?,"tenant"?}
                               with Authorization: Bearer <TRIGGER_SHARED_SECRET>
                               -> 202 {"outcome":"started"|"already-running"|"already-completed",
                                       "workflowId":"register-number-..."}
  GET  ${WEBHOOK_PATH}   Meta's subscription handshake (hub.verify_token = WEBHOOK_VERIFY_TOKEN)
  POST ${WEBHOOK_PATH}   Meta's signed webhooks (X-Hub-Signature-256 with WHATSAPP_APP_SECRET);
                               account_update / PARTNER_ADDED onboards every number of the WABA
                               (listed through Graph), tenant = the owner business id;
                               security (PIN changed / two-step turned off in WhatsApp Manager)
                               reaches the number's workflow, PIN_DRIFT_POLICY decides (docs/pin-drift.md)
  GET  /healthz                liveness

Webhooks are answered once the starts are accepted by Temporal; if Graph or Temporal fail, the
answer is 503 and Meta delivers the event again (starts are idempotent: no number twice).
Bad secrets or signatures get 401, malformed bodies 400, and start nothing. A signed webhook
with parts that can never be valid (a poison PARTNER_ADDED: a bad WABA id, a strange owner) is
answered 200: its usable parts are handled, the rest listed under "ignored" in the answer and
logged in one line, so Meta does not deliver it again and again. Likewise a security event for a
number that is unknown, ambiguous or never onboarded: 200, listed as ignored, nothing changed.

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
  GRAPH_TOKEN_SOURCE=env|vault, VAULT_GRAPH_TOKEN_PREFIX, GRAPH_TOKEN_CACHE_SECONDS, and with vault
  VAULT_ADDR + VAULT_TOKEN or VAULT_ROLE_ID/VAULT_SECRET_ID     (each tenant's own token)
  PIN_DRIFT_POLICY=reset|alert|record                        (default reset)
  ONBOARDING_RETRY_SCHEDULES, MANUAL_RESET_DEADLINE        (as for the starter)
  TRIGGER_HEADERS_TIMEOUT_MS, TRIGGER_REQUEST_TIMEOUT_MS, TRIGGER_KEEP_ALIVE_TIMEOUT_MS,
  TRIGGER_MAX_CONNECTIONS   transport limits (defaults 10000, 20000, 5000, 256; 0 = no cap)
`;

async function main(io: CliIo): Promise<number> {
  const flags = parseFlags(io, { strings: 'port host', help: TRIGGER_HELP });
  // The flags win over their variables; the configuration checks both alike.
  const env = { ...io.env };
  if (flags.values.port !== undefined) env.TRIGGER_PORT = flags.values.port;
  if (flags.values.host !== undefined) env.TRIGGER_HOST = flags.values.host;
  const config = loadTriggerConfig(env);
  const client = await connectOnboardingClient(config.temporal);
  let vault: VaultClient | undefined;
  try {
    // One line per event on stdout, JSON unless a person is at the terminal; never given a secret.
    const log = createLineLogger({
      format: loadLogFormat(io.env, isTerminal(io.stdout)),
      level: loadLogLevel(io.env, 'INFO'),
      write: (line) => io.stdout.write(`${line}\n`),
    });
    if (config.vault) {
      vault = createVaultClient({
        address: config.vault.address,
        namespace: config.vault.namespace,
        auth: config.vault.auth,
        timeoutMs: config.vault.requestTimeoutMs,
      });
    }
    const graph = tenantGraphFromConfig({
      graph: config.graph,
      ...(vault && config.vault ? { vault: { client: vault, mount: config.vault.kvMount } } : {}),
    });
    const trigger = createTriggerServer({
      client,
      graph,
      tokens: graph.tokens,
      driftPolicy: config.driftPolicy,
      secrets: config.secrets,
      onboardingOptions: config.onboarding,
      limits: config.limits,
      log,
    });
    const port = await trigger.listen(config.port, config.host).catch((err: unknown) => {
      throw listenFailure(err, config.host, config.port);
    });
    log.announce('trigger listening', {
      url: `http://${config.host}:${port}`,
      namespace: config.temporal.temporal.namespace,
      graph: config.graph.baseUrl,
      graphTokens: config.graph.tokens.source,
      driftPolicy: config.driftPolicy,
    });
    const signal = await stopRequested(io.signal);
    log.info('stopping: finishing requests in progress', { signal });
    await trigger.close();
    log.announce('trigger stopped');
    return EXIT_OK;
  } finally {
    await vault?.close();
    await client.connection.close();
  }
}

if (require.main === module) runMain({ name: 'trigger', server: true, stop: { again: 'exit' } }, main);
