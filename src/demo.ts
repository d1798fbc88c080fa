// `npm start`: the main job on the embedded local stack. Starts Temporal (with its Web UI),
// OpenBao, the Graph sandbox and the codec server, runs a worker, onboards the example batch
// through the batch starter, prints one line per number, and stops everything again. State
// is kept in .data/, so `npm run stack` afterwards shows the same workflows in the UI.
import { join } from 'node:path';
import type { CliIo } from './cli/cli-io';
import { EXIT_FAILURE, EXIT_OK } from './cli/exit-code-policy';
import { parseFlags } from './cli/parse-flags';
import { ListenError } from './cli/listen-error';
import { runMain } from './cli/run-main';
import { loadNumberSetupFile } from './graph-sandbox/number-setups';
import { loadScenarioFile } from './graph-sandbox/scenarios';
import { PortBusyError } from './local-stack/processes';
import { connectOnboardingClient, loadOnboardingClientSettings } from './onboarding/onboarding-client';
import {
  codecServerService,
  DEFAULT_PRODUCT_PORTS,
  graphSandboxService,
  workerAppRoleService,
} from './local-stack/product-services';
import { projectRoot } from './local-stack/server-binaries';
import { defaultStackDataDir, DEFAULT_STACK_PORTS, startLocalStack } from './local-stack/stack';
import { installRuntimeLogging } from './temporal/runtime-logging';
import { runStarter } from './batch/run-starter';
import { startWorker } from './worker/start-worker';
import { loadWorkerConfig } from './worker/worker-config';
import { statusQuery, workflowIdFor, type RegisterNumberStatus } from './workflows/messages';
import { readFileSync } from 'node:fs';
import type { ReportEntry } from './batch/report';
import { dataDir } from './local-stack/server-binaries';

const HELP = `Usage: npm start [-- --file FILE --scenarios FILE --numbers FILE]

Runs the whole product on the embedded local stack: Temporal dev server (UI ${DEFAULT_STACK_PORTS.ui}),
OpenBao (${DEFAULT_STACK_PORTS.vault}), the Graph sandbox (${DEFAULT_PRODUCT_PORTS.graphSandbox}) and the codec server
(${DEFAULT_PRODUCT_PORTS.codecServer}); a worker; and the batch starter over the example numbers. Some numbers
are failed on purpose by the sandbox (examples/sandbox-scenarios.json): they end waiting for a
manual reset, as a real permanent failure would. Some are fresh from signup and get registered on
Cloud API; one has its registration budget spent elsewhere (it waits for Meta's window), one has
a two-step PIN set by hand that the stored one does not match (examples/sandbox-numbers.json).

Options:
  --file FILE        numbers to onboard (default examples/numbers.csv)
  --scenarios FILE   Graph sandbox faults per number (default examples/sandbox-scenarios.json)
  --numbers FILE     how numbers start out in the sandbox (default examples/sandbox-numbers.json)
  --help             this text`;

// The demo shortens the Graph back-off so transient faults clear in seconds, through the same
// ONBOARDING_RETRY_SCHEDULES override operators use; production keeps the 30 s..30 min schedule.
const DEMO_SCHEDULES = JSON.stringify({ graph: { initialInterval: '1s', maximumInterval: '5s' } });

async function main(io: CliIo): Promise<number> {
  const flags = parseFlags(io, { strings: 'file scenarios numbers', help: HELP });
  const args = flags.values;
  installRuntimeLogging(io.env.LOG_LEVEL, 'ERROR');
  const file = args.file ?? join(projectRoot, 'examples', 'numbers.csv');
  const scenarios = loadScenarioFile(
    args.scenarios ?? join(projectRoot, 'examples', 'sandbox-scenarios.json'),
  );
  const numbers = loadNumberSetupFile(args.numbers ?? join(projectRoot, 'examples', 'sandbox-numbers.json'));
  const codecUrl = `http://127.0.0.1:${DEFAULT_PRODUCT_PORTS.codecServer}`;

  console.log('Starting the local stack (Temporal, OpenBao, Graph sandbox, codec server)...');
  const stack = await startLocalStack({
    dataDir: defaultStackDataDir,
    uiCodecEndpoint: codecUrl,
    extraServices: [
      workerAppRoleService(),
      graphSandboxService({ port: DEFAULT_PRODUCT_PORTS.graphSandbox, scenarios, numbers }),
      codecServerService({ port: DEFAULT_PRODUCT_PORTS.codecServer }),
    ],
  }).catch((err: unknown) => {
    // The usual holder of these ports is a local stack left running.
    if (!(err instanceof PortBusyError)) throw err;
    throw new ListenError(`${err.message}. Is "npm run stack" already running? Stop it first.`, {
      cause: err,
    });
  });
  const sandboxUrl = stack.services.find((s) => s.name === 'Graph sandbox')?.url ?? '';
  const env = {
    ...io.env,
    TEMPORAL_ADDRESS: undefined,
    GRAPH_BASE_URL: sandboxUrl,
    ONBOARDING_RETRY_SCHEDULES: io.env.ONBOARDING_RETRY_SCHEDULES ?? DEMO_SCHEDULES,
  };
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  try {
    worker = await startWorker(loadWorkerConfig(env, { local: true }));
    const reportFile = join(dataDir, 'demo-report.json');
    const code = await runStarter({
      argv: ['--file', file, '--wait', '--wait-timeout', '3m', '--report', reportFile],
      env,
      stdout: io.stdout,
      stderr: process.stderr,
      signal: io.signal,
    });
    await printPerNumberSummary(reportFile, env);
    console.log(
      [
        '',
        `Look in the Temporal UI: run "npm run stack" and open ${stack.uiUrl}`,
        `  numbers that need a person: search  OnboardingStatus="AwaitingManualReset"`,
        '  each one\'s "current details" say what failed and how to finish (manualReset / retry).',
        '  to read decoded payloads there, open once the sign-in URL that "npm run stack" prints last.',
      ].join('\n'),
    );
    // Numbers parked for a person are the expected end for the sandbox's permanent faults:
    // the job itself succeeded unless the starter could not run (2) or was interrupted.
    return code === EXIT_FAILURE ? EXIT_OK : code;
  } finally {
    worker?.shutdown();
    await worker?.done.catch(() => undefined);
    await stack.stop();
  }
}

async function printPerNumberSummary(reportFile: string, env: NodeJS.ProcessEnv): Promise<void> {
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { rows: ReportEntry[] };
  const client = await connectOnboardingClient(loadOnboardingClientSettings(env));
  try {
    console.log('\nPer number:');
    for (const row of report.rows) {
      const id = row.phoneNumberId;
      if (!id) continue;
      const status: RegisterNumberStatus | undefined = await client.workflow
        .getHandle(workflowIdFor(id))
        .query(statusQuery)
        .catch(() => undefined);
      const reason = status?.lastError
        ? `  ${status.lastError.type}${status.lastError.graphCode !== undefined ? ` (Graph code ${status.lastError.graphCode})` : ''}`
        : '';
      const vault = status?.vault ? `  PIN at ${status.vault.path} v${status.vault.version}` : '';
      console.log(
        `  ${id}  ${(status?.stage ?? 'unknown').padEnd(20)}${registrationText(status).padEnd(38)}${vault}${reason}`,
      );
    }
  } finally {
    await client.connection.close();
  }
}

/** "registered", "already registered", "waiting for the budget until ..." (the run's registration). */
function registrationText(status: RegisterNumberStatus | undefined): string {
  const r = status?.registration;
  if (!r) return '';
  if (r.waitingUntil) return `budget spent, waits to ${r.waitingUntil.slice(0, 16)}Z`;
  if (r.outcome === 'registered') return 'registered on Cloud API';
  if (r.outcome === 'alreadyRegistered') return 'already registered';
  if (r.outcome === 'notRequested') return 'registration not requested';
  if (r.outcome === 'onPremises') return 'on On-Premises API: not registered';
  return status?.runbook ? `parked: runbook ${status.runbook}` : `register: ${r.choice}`;
}

// Ctrl-C stops starting numbers; the worker and the stack are then stopped as at the end.
if (require.main === module) runMain({ name: 'start', stop: { again: 'wait' } }, main);
