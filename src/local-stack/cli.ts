// `npm run stack`: the local stack alone, kept running until Ctrl-C or SIGTERM, which stop
// every child process before exiting 0. Prints where everything is and how to point the
// `temporal` and `bao` CLIs at it. A busy port, a missing binary or a bad flag is one line on
// stderr and exit code 2; any other start-up failure is one line and exit code 1.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CliIo } from '../cli/cli-io';
import { describeFailure, EXIT_FAILURE, EXIT_OK } from '../cli/exit-code-policy';
import { portSetting, wholeNumberFlag } from '../cli/flag-values';
import { firstLine } from '../cli/first-line';
import { parseFlags } from '../cli/parse-flags';
import { runMain, stopRequested } from '../cli/run-main';
import { UsageError } from '../cli/usage-error';
import {
  codecServerService,
  DEFAULT_PRODUCT_PORTS,
  graphSandboxService,
  LOCAL_KV_MOUNT,
  workerAppRoleService,
} from './product-services';
import { exampleTenantTokensService } from './example-tenants';
import { ensureProductionBinaries } from './production-binaries';
import { defaultProductionDataDir, startProductionStack } from './production-stack';
import { LOCAL_STACK_METRICS_BIND_ADDRESS } from '../metrics/metrics-config';
import { assertPortFree } from './processes';
import { serversDir } from './server-binaries';
import { stackWorkerService } from './stack-worker';
import {
  DEFAULT_STACK_PORTS,
  defaultStackDataDir,
  startLocalStack,
  wipeStackData,
  type ExtraServiceStarter,
  type LocalStack,
} from './stack';

const DEFAULT_METRICS_PORT = Number(LOCAL_STACK_METRICS_BIND_ADDRESS.split(':').pop());

/** The product's services on top of Temporal and OpenBao, started in this order. */
function productServices(settings: StackCliSettings): ExtraServiceStarter[] {
  return [
    workerAppRoleService(),
    exampleTenantTokensService({ mount: LOCAL_KV_MOUNT }),
    graphSandboxService({ port: settings.graphPort }),
    codecServerService({ port: settings.codecPort }),
    // --production runs its workers as processes of their own (--workers).
    ...(settings.worker && !settings.production
      ? [
          stackWorkerService({
            graphBaseUrl: `http://127.0.0.1:${settings.graphPort}`,
            metricsBindAddress: `127.0.0.1:${settings.metricsPort}`,
            report: (line) => console.error(line),
          }),
        ]
      : []),
  ];
}

const HELP = `Usage: npm run stack -- [options]

Runs the whole local product until Ctrl-C: the Temporal dev server (gRPC and Web UI, with the
OnboardingStatus search attribute), OpenBao (KV v2 at secret/), the Graph sandbox, the codec
server (also under the UI's own address at /codec) and a worker. State is kept in the data
folder, so workflows and the PINs they stored survive a restart of the stack.

The worker is a process of its own (log: <data-dir>/logs/worker.log). If it ends without being
asked, one line on stderr says so and it is started again after 1 s, then 2, 4, 8, 16 s while
it keeps failing within a minute of starting; failing a sixth time in a row stops the stack (exit 1).

Options (each also settable by the environment variable shown; a flag wins):
  --temporal-port <port>  Temporal gRPC frontend      TEMPORAL_PORT     default ${DEFAULT_STACK_PORTS.temporal}
  --ui-port <port>        Temporal Web UI             TEMPORAL_UI_PORT  default ${DEFAULT_STACK_PORTS.ui}
  --vault-port <port>     OpenBao HTTP API            VAULT_PORT        default ${DEFAULT_STACK_PORTS.vault}
  --graph-port <port>     Graph sandbox               GRAPH_SANDBOX_PORT default ${DEFAULT_PRODUCT_PORTS.graphSandbox}
  --codec-port <port>     codec server for the UI     CODEC_SERVER_PORT  default ${DEFAULT_PRODUCT_PORTS.codecServer}
  --metrics-port <port>   worker's Prometheus /metrics METRICS_PORT     default ${DEFAULT_METRICS_PORT}
  --data-dir <path>       state and logs              STACK_DATA_DIR    default ${defaultStackDataDir}
  --fresh                 delete the data folder first (Temporal history and OpenBao secrets)
  --in-memory             keep nothing: Temporal in memory, OpenBao in dev mode
  --no-worker             start no worker (run your own: npm run worker -- --local)
  --production            the production shape instead: PostgreSQL, the real Temporal server
                          (frontend, history, matching, worker processes; built on first use),
                          its own Web UI, OpenBao with Raft; data in ${defaultProductionDataDir}
  --workers <n>           with --production: worker processes (default 1; 0 with --no-worker)
                          (logs/worker-<i>.log), each restarted as the worker above
  -h, --help              this text

Exit codes: 0 after a clean stop, 2 for a busy port, a missing server binary or a bad option,
1 for any other failure.`;

interface StackCliSettings {
  temporalPort: number;
  uiPort: number;
  vaultPort: number;
  graphPort: number;
  codecPort: number;
  metricsPort: number;
  dataDir: string;
  fresh: boolean;
  persistent: boolean;
  worker: boolean;
  production: boolean;
  workers: number;
}

function readSettings(io: CliIo): StackCliSettings {
  const { values } = parseFlags(io, {
    strings: 'temporal-port ui-port vault-port graph-port codec-port metrics-port data-dir workers',
    booleans: 'fresh in-memory no-worker production',
    help: HELP,
  });
  const port = (flag: keyof typeof values & `${string}-port`, variable: string, fallback: number) =>
    portSetting({ flag: `--${flag}`, raw: values[flag], variable, env: io.env, fallback });
  const production = values.production ?? false;
  if (values.workers !== undefined && !production) throw new UsageError('--workers needs --production');
  if (production && values['in-memory'])
    throw new UsageError('--production keeps its state: drop --in-memory');
  const workers = values['no-worker']
    ? 0
    : wholeNumberFlag('--workers', values.workers, { fallback: 1, min: 0, max: 32 });
  return {
    temporalPort: port('temporal-port', 'TEMPORAL_PORT', DEFAULT_STACK_PORTS.temporal),
    uiPort: port('ui-port', 'TEMPORAL_UI_PORT', DEFAULT_STACK_PORTS.ui),
    vaultPort: port('vault-port', 'VAULT_PORT', DEFAULT_STACK_PORTS.vault),
    graphPort: port('graph-port', 'GRAPH_SANDBOX_PORT', DEFAULT_PRODUCT_PORTS.graphSandbox),
    codecPort: port('codec-port', 'CODEC_SERVER_PORT', DEFAULT_PRODUCT_PORTS.codecServer),
    metricsPort: port('metrics-port', 'METRICS_PORT', DEFAULT_METRICS_PORT),
    dataDir:
      values['data-dir'] ??
      (io.env.STACK_DATA_DIR?.trim() || (production ? defaultProductionDataDir : defaultStackDataDir)),
    fresh: values.fresh ?? false,
    persistent: !(values['in-memory'] ?? false),
    worker: !(values['no-worker'] ?? false),
    production,
    workers,
  };
}

function summary(stack: LocalStack): string[] {
  const bin = join(serversDir, 'venv', 'bin');
  const rows: Array<[string, string]> = [
    ['Temporal gRPC', `${stack.temporalAddress}  (namespace ${stack.namespace})`],
    ['Temporal Web UI', stack.uiUrl],
    ['OpenBao', `${stack.vaultAddress}  (KV v2 at secret/)`],
    ...stack.services.map((s): [string, string] => [s.name, s.url]),
  ];
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  const pids = [
    ...stack.processes.map((p) => `${p.name} pid ${p.pid}`),
    ...stack.services.filter((s) => s.pid !== undefined).map((s) => `${s.name} pid ${s.pid}`),
  ];
  const serviceEnv = stack.services.flatMap((s) =>
    Object.entries(s.env ?? {}).map(([k, v]) => `  export ${k}=${v}`),
  );
  return [
    '',
    `Local stack is up (${stack.persistent ? 'state kept' : 'in memory'}):`,
    ...rows.map(([name, value]) => `  ${name.padEnd(width)}${value}`),
    '',
    `Processes: ${pids.join(', ')}`,
    `Data: ${stack.dataDir}`,
    `Logs: ${stack.logDir}`,
    '',
    `Point the CLIs at it (temporal and bao are in ${bin}):`,
    `  export PATH="${bin}:$PATH"`,
    `  export TEMPORAL_ADDRESS=${stack.temporalAddress} TEMPORAL_NAMESPACE=${stack.namespace}`,
    `  temporal workflow list --address ${stack.temporalAddress}`,
    `  temporal operator search-attribute list --address ${stack.temporalAddress}`,
    '  # the root token of this local OpenBao only: never use it anywhere else',
    `  export BAO_ADDR=${stack.vaultAddress} BAO_TOKEN=${stack.vaultToken}`,
    `  export VAULT_ADDR=${stack.vaultAddress} VAULT_TOKEN=${stack.vaultToken}`,
    '  bao kv put secret/hello a=b',
    '  bao kv get secret/hello',
    ...serviceEnv,
    '',
    ...stack.services.flatMap((s) => s.notes ?? []),
    '',
    'Local stack ready. Ctrl-C stops it.',
  ];
}

/**
 * Resolves with the first server process that ends on its own, or the first service that gave up
 * (the worker, which its supervisor restarts until it keeps failing).
 */
function firstExit(stack: LocalStack): Promise<string> {
  return Promise.race([
    ...stack.processes.map((p) =>
      p.exited.then((code) => `${p.name} (pid ${p.pid}) exited with ${code} on its own`),
    ),
    ...stack.services.flatMap((s) => (s.failed ? [s.failed.then(() => `${s.name} kept failing`)] : [])),
  ]);
}

async function main(io: CliIo): Promise<number> {
  const settings = readSettings(io);
  const stopped = stopRequested(io.signal);

  let stack: LocalStack;
  try {
    if (settings.fresh) wipeStackData(settings.dataDir);
    // The stack's worker process serves its Prometheus endpoint there: a busy port is named now.
    if (settings.worker && !settings.production) await assertPortFree(settings.metricsPort, 'worker metrics');
    console.log('stack: starting Temporal and OpenBao...');
    const options = {
      temporalPort: settings.temporalPort,
      uiPort: settings.uiPort,
      vaultPort: settings.vaultPort,
      dataDir: settings.dataDir,
      extraServices: productServices(settings),
    };
    if (settings.production) ensureProductionBinaries();
    stack = settings.production
      ? await startProductionStack({
          ...options,
          // As in the compose file: the UI calls the codec server directly, with credentials.
          uiCodecEndpoint: `http://127.0.0.1:${settings.codecPort}`,
          workers: settings.workers,
          report: (line) => console.error(line),
        })
      : await startLocalStack({
          ...options,
          persistent: settings.persistent,
          uiCodecServer: `http://127.0.0.1:${settings.codecPort}`,
        });
  } catch (err) {
    // Stopped while starting: the servers may have died of the same Ctrl-C, which is no failure.
    if (io.signal?.aborted) return EXIT_OK;
    // What the person fixes themselves (a busy port, a missing binary) needs no logs.
    if (describeFailure(err).exitCode !== EXIT_FAILURE) throw err;
    throw new Error(`${firstLine(err)} (logs in ${join(settings.dataDir, 'logs')})`, { cause: err });
  }

  let exitCode = EXIT_OK;
  if (!io.signal?.aborted) {
    for (const line of summary(stack)) console.log(line);
    const ended = await Promise.race([stopped.then(() => undefined), firstExit(stack)]);
    // A Ctrl-C in the terminal reaches the servers too (same process group): give the signal
    // handler a moment so that their exit is not mistaken for a crash.
    if (ended !== undefined) await sleep(500);
    if (ended !== undefined && !io.signal?.aborted) {
      console.error(`stack: ${ended}; stopping the rest (logs in ${stack.logDir})`);
      exitCode = EXIT_FAILURE;
    }
  }
  console.log('stack: stopping...');
  await stack.stop();
  console.log('stack: stopped.');
  return exitCode;
}

runMain({ name: 'stack', stop: { again: 'wait', signals: ['SIGINT', 'SIGTERM', 'SIGHUP'] } }, main);
