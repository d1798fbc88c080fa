// The worker process: both task queues in one process; scale out by running more of them.
import type { CliIo } from './cli/cli-io';
import { EXIT_OK } from './cli/exit-code-policy';
import { parseFlags } from './cli/parse-flags';
import { runMain } from './cli/run-main';
import { isTerminal } from './cli/cli-io';
import { createLineLogger } from './logging/line-logger';
import { loadLogFormat, loadLogLevel } from './logging/log-format';
import { installRuntimeTelemetry } from './metrics/runtime-telemetry';
import { startWorker } from './worker/start-worker';
import { loadWorkerConfig } from './worker/worker-config';
import { GRAPH_TASK_QUEUE, ONBOARDING_TASK_QUEUE } from './workflows/messages';

const HELP = `Usage: npm run worker -- [--local]

Runs the onboarding worker: the registerNumber workflow and vault work on the
"${ONBOARDING_TASK_QUEUE}" task queue, Graph calls on "${GRAPH_TASK_QUEUE}" (rate-capped globally by
GRAPH_MAX_REQUESTS_PER_SECOND). Stops gracefully on SIGINT/SIGTERM.

Options:
  --local   use the embedded local stack's defaults (npm run stack): Temporal 127.0.0.1:7233,
            OpenBao 127.0.0.1:8200 with the stack's AppRole, keys from the git-ignored .data/
            folder, and the stack's Graph sandbox (http://127.0.0.1:8099 unless GRAPH_BASE_URL is set)
  --help    this text

Environment (see README "Configuration"): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_*; GRAPH_BASE_URL, GRAPH_API_VERSION, GRAPH_ACCESS_TOKEN, GRAPH_MAX_REQUESTS_PER_SECOND;
VAULT_ADDR, VAULT_TOKEN or VAULT_ROLE_ID + VAULT_SECRET_ID, VAULT_NAMESPACE, VAULT_KV_MOUNT,
VAULT_PIN_PREFIX; PIN_SEALING_KEYS; PAYLOAD_CODEC_KEYS; METRICS_BIND_ADDRESS (Prometheus /metrics,
off unless set; npm run stack's own worker serves 127.0.0.1:9464); LOG_FORMAT (json or text; json when stdout is not a
terminal); LOG_LEVEL (INFO).

Exit codes: 0 stopped cleanly, 2 configuration or connection error, 1 anything else.`;

async function main(io: CliIo): Promise<number> {
  const flags = parseFlags(io, { booleans: 'local', help: HELP });
  const level = loadLogLevel(io.env, 'INFO');
  const log = createLineLogger({
    format: loadLogFormat(io.env, isTerminal(io.stdout)),
    level,
    write: (line) =>
      io.stderr.write(`${line}
`),
  });
  const config = loadWorkerConfig(io.env, {
    local: flags.values.local === true || io.env.ONBOARDING_LOCAL_STACK === '1',
  });
  installRuntimeTelemetry({ logger: log, level, metricsBindAddress: config.metricsBindAddress });
  const worker = await startWorker(config, log);
  await worker.done;
  log.announce('worker: stopped');
  return EXIT_OK;
}

// SIGINT and SIGTERM are the Temporal runtime's: it shuts the workers down, then `done` resolves.
// A server: its refusals are log lines too, JSON unless a person is at the terminal.
if (require.main === module) runMain({ name: 'worker', server: true }, main);
