// `npm run stack`: the local stack alone, kept running until Ctrl-C or SIGTERM, which stop
// every child process before exiting 0. Prints where everything is and how to point the
// `temporal` and `bao` CLIs at it. A busy port, a missing binary or a bad flag is one line on
// stderr and exit code 2; any other start-up failure is one line and exit code 1.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  codecServerService,
  DEFAULT_PRODUCT_PORTS,
  graphSandboxService,
  workerAppRoleService,
} from './product-services';
import { installRuntimeLogging } from '../runtime-logging';
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

/** The product's services on top of Temporal and OpenBao, started in this order. */
function productServices(settings: StackCliSettings): ExtraServiceStarter[] {
  return [
    workerAppRoleService(),
    graphSandboxService({ port: settings.graphPort }),
    codecServerService({ port: settings.codecPort }),
    ...(settings.worker
      ? [stackWorkerService({ graphBaseUrl: `http://127.0.0.1:${settings.graphPort}` })]
      : []),
  ];
}

const HELP = `Usage: npm run stack -- [options]

Runs the whole local product until Ctrl-C: the Temporal dev server (gRPC and Web UI, with the
OnboardingStatus search attribute), OpenBao (KV v2 at secret/), the Graph sandbox, the codec
server (also under the UI's own address at /codec) and a worker. State is kept in the data
folder, so workflows and the PINs they stored survive a restart of the stack.

Options (each also settable by the environment variable shown; a flag wins):
  --temporal-port <port>  Temporal gRPC frontend      TEMPORAL_PORT     default ${DEFAULT_STACK_PORTS.temporal}
  --ui-port <port>        Temporal Web UI             TEMPORAL_UI_PORT  default ${DEFAULT_STACK_PORTS.ui}
  --vault-port <port>     OpenBao HTTP API            VAULT_PORT        default ${DEFAULT_STACK_PORTS.vault}
  --graph-port <port>     Graph sandbox               GRAPH_SANDBOX_PORT default ${DEFAULT_PRODUCT_PORTS.graphSandbox}
  --codec-port <port>     codec server for the UI     CODEC_SERVER_PORT  default ${DEFAULT_PRODUCT_PORTS.codecServer}
  --data-dir <path>       state and logs              STACK_DATA_DIR    default ${defaultStackDataDir}
  --fresh                 delete the data folder first (Temporal history and OpenBao secrets)
  --in-memory             keep nothing: Temporal in memory, OpenBao in dev mode
  --no-worker             start no worker (run your own: npm run worker -- --local)
  -h, --help              this text

Exit codes: 0 after a clean stop, 2 for a busy port, a missing server binary or a bad option,
1 for any other failure.`;

class UsageError extends Error {
  readonly code = 'USAGE';
}

interface StackCliSettings {
  help: boolean;
  temporalPort: number;
  uiPort: number;
  vaultPort: number;
  graphPort: number;
  codecPort: number;
  dataDir: string;
  fresh: boolean;
  persistent: boolean;
  worker: boolean;
}

function parsePort(raw: string, source: string): number {
  const port = /^\d{1,5}$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(port >= 1 && port <= 65_535)) {
    throw new UsageError(`${source} must be a port number from 1 to 65535 (got "${raw}")`);
  }
  return port;
}

function readSettings(argv: string[], env: NodeJS.ProcessEnv): StackCliSettings {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        help: { type: 'boolean', short: 'h' },
        'temporal-port': { type: 'string' },
        'ui-port': { type: 'string' },
        'vault-port': { type: 'string' },
        'graph-port': { type: 'string' },
        'codec-port': { type: 'string' },
        'data-dir': { type: 'string' },
        fresh: { type: 'boolean' },
        'in-memory': { type: 'boolean' },
        'no-worker': { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const port = (flag: string, variable: string, fallback: number): number => {
    const fromFlag = values[flag as keyof typeof values];
    if (typeof fromFlag === 'string') return parsePort(fromFlag, `--${flag}`);
    const fromEnv = env[variable]?.trim();
    return fromEnv ? parsePort(fromEnv, variable) : fallback;
  };
  return {
    help: values.help ?? false,
    temporalPort: port('temporal-port', 'TEMPORAL_PORT', DEFAULT_STACK_PORTS.temporal),
    uiPort: port('ui-port', 'TEMPORAL_UI_PORT', DEFAULT_STACK_PORTS.ui),
    vaultPort: port('vault-port', 'VAULT_PORT', DEFAULT_STACK_PORTS.vault),
    graphPort: port('graph-port', 'GRAPH_SANDBOX_PORT', DEFAULT_PRODUCT_PORTS.graphSandbox),
    codecPort: port('codec-port', 'CODEC_SERVER_PORT', DEFAULT_PRODUCT_PORTS.codecServer),
    dataDir: values['data-dir'] ?? (env.STACK_DATA_DIR?.trim() || defaultStackDataDir),
    fresh: values.fresh ?? false,
    persistent: !(values['in-memory'] ?? false),
    worker: !(values['no-worker'] ?? false),
  };
}

/** Problems the person running the command fixes themselves: exit code 2. */
const USER_FIXABLE = new Set([
  'USAGE',
  'STACK_OPTIONS',
  'PORT_BUSY',
  'SERVER_BINARY_MISSING',
  'STACK_DATA_DIR',
  'OPENBAO_LOCAL_STATE',
  'STACK_WORKER',
  'CONFIG_INVALID',
]);

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
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

/** Resolves with the first server process that ends on its own. */
function firstExit(stack: LocalStack): Promise<string> {
  return Promise.race(
    stack.processes.map((p) => p.exited.then((code) => `${p.name} (pid ${p.pid}) exited with ${code}`)),
  );
}

async function main(): Promise<number> {
  let settings: StackCliSettings;
  try {
    settings = readSettings(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`stack: ${firstLine(err)} (see --help)`);
    return 2;
  }
  if (settings.help) {
    console.log(HELP);
    return 0;
  }

  let stopRequested: NodeJS.Signals | undefined;
  let onStop: (signal: NodeJS.Signals) => void = () => undefined;
  const stopSignal = new Promise<NodeJS.Signals>((resolveStop) => (onStop = resolveStop));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (stopRequested) return console.error('stack: still stopping, please wait...');
      stopRequested = signal;
      onStop(signal);
    });
  }

  let stack: LocalStack;
  try {
    if (settings.fresh) wipeStackData(settings.dataDir);
    installRuntimeLogging(process.env.LOG_LEVEL, 'ERROR');
    console.log('stack: starting Temporal and OpenBao...');
    stack = await startLocalStack({
      temporalPort: settings.temporalPort,
      uiPort: settings.uiPort,
      vaultPort: settings.vaultPort,
      dataDir: settings.dataDir,
      persistent: settings.persistent,
      uiCodecServer: `http://127.0.0.1:${settings.codecPort}`,
      extraServices: productServices(settings),
    });
  } catch (err) {
    // Stopped while starting: the servers may have died of the same Ctrl-C, which is no failure.
    if (stopRequested) return 0;
    const code = (err as { code?: unknown }).code;
    const fixable = typeof code === 'string' && USER_FIXABLE.has(code);
    const logs = fixable ? '' : ` (logs in ${join(settings.dataDir, 'logs')})`;
    console.error(`stack: ${firstLine(err)}${logs}`);
    return fixable ? 2 : 1;
  }

  let exitCode = 0;
  if (!stopRequested) {
    for (const line of summary(stack)) console.log(line);
    const ended = await Promise.race([stopSignal.then(() => undefined), firstExit(stack)]);
    // A Ctrl-C in the terminal reaches the servers too (same process group): give the signal
    // handler a moment so that their exit is not mistaken for a crash.
    if (ended !== undefined) await sleep(500);
    if (ended !== undefined && !stopRequested) {
      console.error(`stack: ${ended} on its own; stopping the rest (logs in ${stack.logDir})`);
      exitCode = 1;
    }
  }
  console.log('stack: stopping...');
  try {
    await stack.stop();
  } catch (err) {
    console.error(`stack: ${firstLine(err)}`);
    return 1;
  }
  console.log('stack: stopped.');
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`stack: ${firstLine(err)}`);
    process.exit(1);
  },
);
