// The operator CLI: `npm run ops -- list | show | reset | retry`. What an engineer does in the
// Temporal UI for a stuck number (find it, read why, tell the workflow what was done by hand),
// from a terminal, with one-line errors and exit codes a script can rely on.
import type { Client } from '@temporalio/client';
import type { CliIo } from '../cli/cli-io';
import { EXIT_FAILURE, EXIT_OK } from '../cli/exit-code-policy';
import { durationFlag, wholeNumberFlag } from '../cli/flag-values';
import { parseFlags, showHelp } from '../cli/parse-flags';
import { runCommand, runMain } from '../cli/run-main';
import { UsageError } from '../cli/usage-error';
import { connectOnboardingClient, loadOnboardingClientSettings } from '../onboarding/onboarding-client';
import { describeOnboarding, parsePhoneNumberId, queryStatus } from './onboarding-lookup';
import { requestManualReset, requestRetry, type RequestOutcome } from './operator-requests';
import { listOnboardings } from './parked-numbers';
import { failureLine, formatAllList, formatParkedList, formatStatus } from './status-text';

/** Exit codes beyond the common ones (src/cli/exit-code-policy.ts): the request was accepted
 * but the workflow was still working when --wait-timeout ran out. */
export const EXIT_STILL_WORKING = 3;

const QUERY_TIMEOUT_MS = 10_000;
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

export interface OpsIo extends CliIo {
  /** Used as is (and not closed) instead of connecting from the environment. */
  readonly client?: Client;
  /** For ages and deadlines; Date.now by default. */
  readonly now?: () => number;
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

const ALLOWED_FLAGS: Record<Command, string[]> = {
  list: ['all', 'json', 'limit'],
  show: ['json'],
  reset: ['operator', 'note', 'wait-timeout'],
  retry: ['operator', 'note', 'wait-timeout'],
};

/** `ops --help`, `ops reset --help` and `ops help reset`. */
function helpFor(positionals: readonly string[]): string {
  const [name, topic] = positionals;
  const subject = name === 'help' ? topic : name;
  return subject && isCommand(subject) ? COMMAND_HELP[subject] : OPS_HELP;
}

function parseOpsArgs(io: OpsIo): OpsArgs {
  const { values, positionals } = parseFlags(io, {
    strings: 'limit operator note wait-timeout',
    booleans: 'all json',
    positionals: true,
    help: helpFor,
  });
  const [name, ...rest] = positionals;
  if (name === 'help') showHelp(io, helpFor(positionals));
  if (name === undefined) throw new UsageError(`a command is required: one of ${COMMANDS.join(', ')}`);
  if (!isCommand(name)) {
    throw new UsageError(`unknown command "${name}": expected one of ${COMMANDS.join(', ')}`);
  }
  for (const [flag, value] of Object.entries(values)) {
    if (value !== undefined && !ALLOWED_FLAGS[name].includes(flag)) {
      throw new UsageError(`${name} does not take --${flag}`);
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
    if (rest.length > 0) throw new UsageError(`list takes no arguments (got "${rest.join(' ')}")`);
    args.limit = wholeNumberFlag('--limit', values.limit, { fallback: DEFAULT_LIST_LIMIT, max: 100_000 });
    return args;
  }
  if (rest.length > 1) throw new UsageError(`${name} takes one phone-number id (got ${rest.length})`);
  args.phoneNumberId = parsePhoneNumberId(rest[0]);
  if (name === 'show') return args;

  const operator = values.operator?.trim();
  if (name === 'reset' && !operator) {
    throw new UsageError('reset needs --operator NAME: who set the stored PIN in WhatsApp Manager');
  }
  if (values.operator !== undefined && !operator) throw new UsageError('--operator must not be empty');
  args.operator = operator;
  args.note = values.note;
  args.waitTimeoutMs = durationFlag('--wait-timeout', values['wait-timeout'], DEFAULT_WAIT_TIMEOUT);
  return args;
}

function isCommand(name: string): name is Command {
  return (COMMANDS as readonly string[]).includes(name);
}

/** Runs one command as the CLI would; returns the exit code. Never throws. */
export function runOps(io: OpsIo): Promise<number> {
  return runCommand('ops', io, ops);
}

async function ops(io: OpsIo): Promise<number> {
  const args = parseOpsArgs(io);
  if (io.client) return runOperation(io.client, args, io);
  const client = await connectOnboardingClient(loadOnboardingClientSettings(io.env));
  try {
    return await runOperation(client, args, io);
  } finally {
    await client.connection.close();
  }
}

async function runOperation(client: Client, args: OpsArgs, io: OpsIo): Promise<number> {
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
      return status.stage === 'Abandoned' ? EXIT_FAILURE : EXIT_OK;
    }
    case 'waiting-again': {
      const { lastError } = outcome.status;
      stderr.write(
        `ops: ${command} of number ${id} failed again, the workflow is back in AwaitingManualReset: ` +
          `${lastError ? failureLine(lastError) : 'no reason recorded'}\n`,
      );
      return EXIT_FAILURE;
    }
    case 'still-working':
      stdout.write(
        `${command}: accepted; number ${id} is still ${outcome.status?.stage ?? 'working'} after ` +
          `${Math.round(waitTimeoutMs / 1000)} s (the workflow goes on): follow it with "npm run ops -- show ${id}"\n`,
      );
      return EXIT_STILL_WORKING;
  }
}

if (require.main === module) runMain({ name: 'ops' }, runOps);
