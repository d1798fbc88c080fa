// The exit codes of every command (starter, ops, replay, worker, trigger, stack, codec-server,
// graph-sandbox, vault setup, npm start, bench, drill), and which failure gets which:
//
//   0    done: what was asked happened (a server: stopped cleanly on SIGINT or SIGTERM)
//   1    failure: the command ran and what was asked did not happen (invalid rows, a refused
//        request, a history that does not replay, a vault that said no), or a bug
//   2    usage, configuration or connection: nothing was done; fix the command line, the
//        environment or what it connects to, and run it again
//   130  interrupted (Ctrl-C) before it was done (128 + SIGINT, as shells report it)
//
// A command may add a code above 2 for an outcome a script must tell apart (ops: 3, accepted but
// still working); its --help lists it. Errors are recognised by their stable `code` (as undici's
// are), never by message text, and each is told in one line that says what to do.
import type { ConfigError } from '../config/env-reader';
import type { ScenarioError } from '../graph-sandbox/scenarios';
import type { OpenBaoLocalStateError } from '../local-stack/openbao-persistent';
import type { PortBusyError } from '../local-stack/processes';
import type { MissingServerBinaryError, StackDataDirError, StackOptionsError } from '../local-stack/stack';
import type { StackWorkerError } from '../local-stack/stack-worker';
import type { HistoryFileError } from '../replay/history-file';
import type { TemporalUnreachableError } from '../temporal/temporal-connection';
import { firstLine } from './first-line';
import type { ListenError } from './listen-error';
import type { UsageError } from './usage-error';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_SETUP = 2;
export const EXIT_INTERRUPTED = 130;

/** Codes of the errors the person running the command fixes before trying again: exit 2. */
type SetupErrorCode =
  | UsageError['code']
  | ConfigError['code']
  | TemporalUnreachableError['code']
  | PortBusyError['code']
  | ListenError['code']
  | MissingServerBinaryError['code']
  | StackOptionsError['code']
  | StackDataDirError['code']
  | OpenBaoLocalStateError['code']
  | StackWorkerError['code']
  | HistoryFileError['code']
  | ScenarioError['code'];

// Typed by the classes themselves: a misspelt or renamed code fails `npm run typecheck`.
const SETUP_ERROR_CODES: ReadonlySet<unknown> = new Set<SetupErrorCode>([
  'USAGE',
  'CONFIG_INVALID',
  'TEMPORAL_UNREACHABLE',
  'PORT_BUSY',
  'CANNOT_LISTEN',
  'SERVER_BINARY_MISSING',
  'STACK_OPTIONS',
  'STACK_DATA_DIR',
  'OPENBAO_LOCAL_STATE',
  'STACK_WORKER',
  'HISTORY_FILE_INVALID',
  'SCENARIO_INVALID',
]);

/** gRPC's status code for a server that went away (grpc-js is not a direct dependency). */
const GRPC_UNAVAILABLE = 14;

export interface Failure {
  exitCode: number;
  /** What the command prints, one line per problem (several for a configuration with many). */
  lines: string[];
}

/** The exit code and the words for whatever a command threw. */
export function describeFailure(err: unknown): Failure {
  const fields = (typeof err === 'object' && err !== null ? err : {}) as {
    code?: unknown;
    name?: unknown;
    details?: unknown;
    errors?: unknown;
  };
  // Temporal's own errors, recognised by name and shape so that no command loads the client for it.
  if (fields.name === 'NamespaceNotFoundError') {
    return { exitCode: EXIT_SETUP, lines: [`${firstLine(err)}: check TEMPORAL_NAMESPACE`] };
  }
  if (fields.code === GRPC_UNAVAILABLE && typeof fields.details === 'string') {
    return { exitCode: EXIT_SETUP, lines: [`lost the connection to Temporal: ${firstLine(fields.details)}`] };
  }
  const exitCode = SETUP_ERROR_CODES.has(fields.code) ? EXIT_SETUP : EXIT_FAILURE;
  // An error that gathers several (every bad variable at once) is told one line each.
  const grouped = Array.isArray(fields.errors) && fields.errors.length > 0 ? fields.errors : [err];
  const lines = grouped.map(firstLine);
  return { exitCode, lines: fields.code === 'USAGE' ? lines.map((line) => `${line} (see --help)`) : lines };
}
