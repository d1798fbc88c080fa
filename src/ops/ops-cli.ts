// The operator CLI: `npm run ops -- list | show | reset | retry`. What an engineer does in the
// Temporal UI for a stuck number (find it, read why, tell the workflow what was done by hand),
// from a terminal, with one-line errors and exit codes a script can rely on.
import { parseArgs } from 'node:util';
import { isGrpcServiceError, type Client } from '@temporalio/client';
import { NamespaceNotFoundError } from '@temporalio/common';
import { ConfigError, type Env } from '../config/env-reader';
import { durationToMs } from '../onboarding/onboarding-config';
import { connectOnboardingClient, loadOnboardingClientSettings } from '../onboarding/onboarding-client';
import { TemporalUnreachableError } from '../temporal/temporal-connection';
import { describeOnboarding, firstLine, parsePhoneNumberId, queryStatus } from './onboarding-lookup';
import { OpsError } from './ops-error';
import { requestManualReset, requestRetry, type RequestOutcome } from './operator-requests';
import { listOnboardings } from './parked-numbers';
import { failureLine, formatAllList, formatParkedList, formatStatus } from './status-text';

export const EXIT_OK = 0;
/** Unknown number, a workflow not waiting, a refused request, or a step that failed again. */
export const EXIT_NOT_DONE = 1;
/** Bad command line, configuration, or Temporal unreachable. */
export const EXIT_CONFIG = 2;
/** The workflow accepted the request but was still working when --wait-timeout ran out. */
export const EXIT_STILL_WORKING = 3;

const QUERY_TIMEOUT_MS = 10_000;
/** gRPC's status code for a server that went away (grpc-js is not a direct dependency). */
const GRPC_UNAVAILABLE = 14;
const DEFAULT_WAIT_TIMEOUT = '60s';
const DEFAULT_LIST_LIMIT = 200;

const ENVIRONMENT_HELP = `Environment
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*   where Temporal is
      (default: the local stack at 127.0.0.1:7233, namespace "default")
  PAYLOAD_CODEC_KEYS   payload encryption keys, as the workers have them (local stack: read
                       from the git-ignored .data/ folder when TEMPORAL_ADDRESS is unset)`;

const EXIT_HELP = `Exit codes
  0  done          1  unknown number, not waiting, refused, or the step failed again
  2  bad command line, configuration, or Temporal unreachable
  3  accepted, but the workflow was still working when --wait-timeout ran out`;

export const OPS_HELP = `Usage: npm run ops -- <command> [options]

Operates the two-step-PIN onboarding workflows (registerNumber, one per phone number) that
need a person: the ones in AwaitingManualReset after a failure no retry could fix.

Commands
  list                 numbers awaiting a manual reset, with the reason and how long they wait
  show <number>        a number's status: stage, last error, vault location, deadline, operators
  reset <number> --operator NAME [--note TEXT]
                       you set the stored PIN by hand in WhatsApp Manager: mark it active and
                       complete the workflow (CompletedManually)
  retry <number> [--operator NAME] [--note TEXT]
                       you fixed the cause (rotated the token, say): run the failed step again

<number> is the phone-number id (or the workflow id, register-number-<id>).
"npm run ops -- <command> --help" explains each command.

${ENVIRONMENT_HELP}

${EXIT_HELP}
`;

const COMMAND_HELP: Record<Command, string> = {
  list: `Usage: npm run ops -- list [--all] [--json] [--limit N]

Lists the numbers whose workflow waits for an operator: the Temporal search
  OnboardingStatus="AwaitingManualReset" AND ExecutionStatus="Running"
(the same search works in the Web UI), each with its live reason (status query): the failed
step, failure type, Graph code and Meta's message; the vault path and version of the stored PIN;
and how long it has been waiting.

Options
  --all        every onboarding workflow, whatever its stage, running or closed
  --json       a JSON array instead of the table
  --limit N    at most N workflows (default ${DEFAULT_LIST_LIMIT})
`,
  show: `Usage: npm run ops -- show <number> [--json]

Prints the number's status query, readably: stage, attempts, last error (type, Graph code,
Meta's message, fbtrace_id), where the PIN is in the vault (path and version, never the PIN),
the deadline, what operators did, and the WhatsApp Manager procedure while a person is needed.

Options
  --json       the raw status and execution as JSON
`,
  reset: `Usage: npm run ops -- reset <number> --operator NAME [--note TEXT] [--wait-timeout D]

Use after you set the number's two-step PIN in WhatsApp Manager to the PIN stored in the vault
(see "show" for the path and version). Sends the workflow's manualReset request: it marks that
vault version active, records who did it, and completes as CompletedManually. The workflow
checks the request at once and refuses it (exit 1, with its reason) when it is not waiting.

Options
  --operator NAME     required: who changed the PIN
  --note TEXT         optional note kept in the workflow's history
  --wait-timeout D    how long to wait for the outcome (default ${DEFAULT_WAIT_TIMEOUT}; e.g. 30s, 5m)
`,
  retry: `Usage: npm run ops -- retry <number> [--operator NAME] [--note TEXT] [--wait-timeout D]

Use after you fixed what made the step fail (a rotated Graph token, a granted permission, an
unsealed vault). Sends the workflow's retry request: the failed step runs again with a fresh
retry budget. Waits for the outcome: Completed, or back to waiting with the new reason (exit 1).

Options
  --operator NAME     who fixed it (recommended)
  --note TEXT         what was fixed
  --wait-timeout D    how long to wait for the outcome (default ${DEFAULT_WAIT_TIMEOUT}); the workflow
                      keeps working after that, see "show"
`,
};

const COMMANDS = ['list', 'show', 'reset', 'retry'] as const;
type Command = (typeof COMMANDS)[number];

export interface TextWriter {
  write(text: string): unknown;
}

export interface OpsIo {
  argv: readonly string[];
  env: Env;
  stdout: TextWriter;
  stderr: TextWriter;
  /** Used as is (and not closed) instead of connecting from the environment. */
  client?: Client;
  /** For ages and deadlines; Date.now by default. */
  now?: () => number;
}

interface OpsArgs {
  command: Command;
  phoneNumberId?: string;
  all: boolean;
  json: boolean;
  limit: number;
  operator?: string;
  note?: string;
  waitTimeoutMs: number;
}

function usage(message: string): OpsError {
  return new OpsError('USAGE', message);
}

function parseOpsArgs(argv: readonly string[]): OpsArgs | { help: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        all: { type: 'boolean' },
        json: { type: 'boolean' },
        limit: { type: 'string' },
        operator: { type: 'string' },
        note: { type: 'string' },
        'wait-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw usage(firstLine(err));
  }
  const { values, positionals } = parsed;
  const [name, ...rest] = positionals;
  if (name === undefined || name === 'help') {
    if (values.help || name === 'help') {
      const topic = rest[0];
      return { help: topic && isCommand(topic) ? COMMAND_HELP[topic] : OPS_HELP };
    }
    throw usage(`a command is required: one of ${COMMANDS.join(', ')}`);
  }
  if (!isCommand(name)) throw usage(`unknown command "${name}": expected one of ${COMMANDS.join(', ')}`);
  if (values.help) return { help: COMMAND_HELP[name] };

  const allowed: Record<Command, string[]> = {
    list: ['all', 'json', 'limit'],
    show: ['json'],
    reset: ['operator', 'note', 'wait-timeout'],
    retry: ['operator', 'note', 'wait-timeout'],
  };
  for (const [flag, value] of Object.entries(values)) {
    if (value !== undefined && flag !== 'help' && !allowed[name].includes(flag)) {
      throw usage(`${name} does not take --${flag}`);
    }
  }
  const args: OpsArgs = {
    command: name,
    all: values.all ?? false,
    json: values.json ?? false,
    limit: DEFAULT_LIST_LIMIT,
    waitTimeoutMs: 0,
  };
  if (name === 'list') {
    if (rest.length > 0) throw usage(`list takes no arguments (got "${rest.join(' ')}")`);
    if (values.limit !== undefined) {
      const n = Number(values.limit);
      if (!Number.isInteger(n) || n < 1 || n > 100_000) {
        throw usage(`--limit must be a whole number from 1 to 100000 (got "${values.limit}")`);
      }
      args.limit = n;
    }
    return args;
  }
  if (rest.length > 1) throw usage(`${name} takes one phone-number id (got ${rest.length})`);
  args.phoneNumberId = parsePhoneNumberId(rest[0]);
  if (name === 'show') return args;

  const operator = values.operator?.trim();
  if (name === 'reset' && !operator) {
    throw usage('reset needs --operator NAME: who set the stored PIN in WhatsApp Manager');
  }
  if (values.operator !== undefined && !operator) throw usage('--operator must not be empty');
  args.operator = operator;
  args.note = values.note;
  const waitTimeout = values['wait-timeout'] ?? DEFAULT_WAIT_TIMEOUT;
  const waitTimeoutMs = durationToMs(waitTimeout);
  if (waitTimeoutMs === undefined) {
    throw usage(`--wait-timeout must be a duration like 30s, 5m or 1h (got "${waitTimeout}")`);
  }
  args.waitTimeoutMs = waitTimeoutMs;
  return args;
}

function isCommand(name: string): name is Command {
  return (COMMANDS as readonly string[]).includes(name);
}

/** Runs one command as the CLI would; returns the exit code. Never throws for expected failures. */
export async function runOps(io: OpsIo): Promise<number> {
  const { stdout, stderr } = io;
  let args: OpsArgs;
  try {
    const parsed = parseOpsArgs(io.argv);
    if ('help' in parsed) {
      stdout.write(parsed.help);
      return EXIT_OK;
    }
    args = parsed;
  } catch (err) {
    stderr.write(`ops: ${(err as Error).message}\nops: see --help\n`);
    return EXIT_CONFIG;
  }

  let client = io.client;
  let ownClient: Client | undefined;
  try {
    if (!client) {
      ownClient = await connectOnboardingClient(loadOnboardingClientSettings(io.env));
      client = ownClient;
    }
    return await runCommand(client, args, io);
  } catch (err) {
    const { code, message } = explain(err);
    stderr.write(`ops: ${message}\n`);
    return code;
  } finally {
    await ownClient?.connection.close();
  }
}

function explain(err: unknown): { code: number; message: string } {
  if (err instanceof OpsError) {
    return { code: err.code === 'USAGE' ? EXIT_CONFIG : EXIT_NOT_DONE, message: err.message };
  }
  if (err instanceof ConfigError || err instanceof TemporalUnreachableError) {
    return { code: EXIT_CONFIG, message: err.message };
  }
  if (err instanceof NamespaceNotFoundError) {
    return { code: EXIT_CONFIG, message: `${err.message}: check TEMPORAL_NAMESPACE` };
  }
  if (isGrpcServiceError(err) && (err.code as number) === GRPC_UNAVAILABLE) {
    return { code: EXIT_CONFIG, message: `lost the connection to Temporal: ${firstLine(err.details)}` };
  }
  return { code: EXIT_NOT_DONE, message: firstLine(err) };
}

async function runCommand(client: Client, args: OpsArgs, io: OpsIo): Promise<number> {
  const { stdout } = io;
  const now = io.now ?? Date.now;
  const namespace = client.options.namespace;
  switch (args.command) {
    case 'list': {
      const entries = await listOnboardings(client, {
        all: args.all,
        limit: args.limit,
        queryTimeoutMs: QUERY_TIMEOUT_MS,
      });
      if (args.json) {
        const at = now();
        const rows = entries.map((e) => ({
          ...e,
          ...(e.waitingSince !== undefined && { waitingForMs: at - Date.parse(e.waitingSince) }),
        }));
        stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      } else {
        stdout.write((args.all ? formatAllList : formatParkedList)(entries, namespace, now()));
      }
      return EXIT_OK;
    }
    case 'show': {
      const id = args.phoneNumberId as string;
      const execution = await describeOnboarding(client, id);
      const status = await queryStatus(client, execution.workflowId, QUERY_TIMEOUT_MS);
      stdout.write(
        args.json
          ? `${JSON.stringify({ execution, status }, null, 2)}\n`
          : formatStatus(execution, status, namespace, now()),
      );
      return EXIT_OK;
    }
    case 'reset':
    case 'retry': {
      const id = args.phoneNumberId as string;
      const opts = { waitTimeoutMs: args.waitTimeoutMs, queryTimeoutMs: QUERY_TIMEOUT_MS };
      const input = {
        ...(args.operator !== undefined && { operator: args.operator }),
        ...(args.note !== undefined && { note: args.note }),
      };
      const outcome =
        args.command === 'reset'
          ? await requestManualReset(client, id, { operator: args.operator as string, ...input }, opts)
          : await requestRetry(client, id, input, opts);
      return report(args.command, id, outcome, args.waitTimeoutMs, io);
    }
  }
}

function report(
  command: 'reset' | 'retry',
  id: string,
  outcome: RequestOutcome,
  waitTimeoutMs: number,
  io: OpsIo,
): number {
  const { stdout, stderr } = io;
  switch (outcome.kind) {
    case 'finished': {
      const { status } = outcome;
      const where = status.vault
        ? `; vault ${status.vault.path} version ${status.vault.version} is active`
        : '';
      stdout.write(`${command}: number ${id} is ${status.stage}${where}\n`);
      return status.stage === 'Abandoned' ? EXIT_NOT_DONE : EXIT_OK;
    }
    case 'waiting-again': {
      const { lastError } = outcome.status;
      stderr.write(
        `ops: ${command} of number ${id} failed again, the workflow is back in AwaitingManualReset: ` +
          `${lastError ? failureLine(lastError) : 'no reason recorded'}\n`,
      );
      return EXIT_NOT_DONE;
    }
    case 'still-working':
      stdout.write(
        `${command}: accepted; number ${id} is still ${outcome.status?.stage ?? 'working'} after ` +
          `${Math.round(waitTimeoutMs / 1000)} s (the workflow goes on): follow it with "npm run ops -- show ${id}"\n`,
      );
      return EXIT_STILL_WORKING;
  }
}

async function main(): Promise<void> {
  try {
    process.exitCode = await runOps({
      argv: process.argv.slice(2),
      env: process.env,
      stdout: process.stdout,
      stderr: process.stderr,
    });
  } catch (err) {
    console.error(`ops: ${firstLine(err)}`);
    process.exitCode = EXIT_NOT_DONE;
  }
}

if (require.main === module) void main();
