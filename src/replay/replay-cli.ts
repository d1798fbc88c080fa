// `npm run replay`: replays workflow histories against this checkout's workflow code, so a change
// that would break running workflows (non-determinism) is found before it is deployed. Histories
// come from files (the Web UI's download, `temporal workflow show --output json`) or from the
// server by a visibility query.
import type { Client } from '@temporalio/client';
import type { CliIo } from '../cli/cli-io';
import { EXIT_FAILURE, EXIT_OK, EXIT_SETUP } from '../cli/exit-code-policy';
import { wholeNumberFlag } from '../cli/flag-values';
import { firstLine } from '../cli/first-line';
import { parseFlags } from '../cli/parse-flags';
import { runCommand, runMain } from '../cli/run-main';
import { UsageError } from '../cli/usage-error';
import { loadCodecKeyring, PAYLOAD_CODEC_KEYS } from '../codec/codec-config';
import { createDataConverter } from '../codec/data-converter';
import { isLocalStack } from '../onboarding/onboarding-client';
import { installRuntimeLogging } from '../temporal/runtime-logging';
import { connectClient, loadTemporalSettings } from '../temporal/temporal-connection';
import { readCodecKeysFile } from './codec-keys-file';
import { readHistoryFile, type HistorySource } from './history-file';
import { missingKeyIds, replayHistories, type ReplayOutcome } from './history-replayer';
import { historiesMatching, onboardingQuery } from './server-histories';

const DEFAULT_LIMIT = 20;

export const REPLAY_HELP = `Usage: npm run replay -- FILE.json [FILE.json ...]
       npm run replay -- --query 'VISIBILITY QUERY' [--limit N]

Replays registerNumber workflow histories against the workflow code of this checkout, with the
workers' failure converter and payload codec, and prints one line per history:
  ok              the code produces exactly the recorded commands: safe to deploy for it
  nondeterminism  the code would break this running workflow (the error says where)
  error           the history could not be replayed for another reason

Sources
  FILE.json            a history downloaded from the Temporal Web UI (Download, JSON) or
                       printed by "temporal workflow show --workflow-id ID --output json"
  --query Q            recent executions matching the visibility query Q, fetched from the
                       server, e.g. 'OnboardingStatus="AwaitingManualReset"' or
                       'ExecutionStatus="Running"' (only registerNumber executions are taken)
  --limit N            with --query: at most N executions, newest first (default ${DEFAULT_LIMIT})

Keys
  Histories hold encrypted payloads. The codec keys come from PAYLOAD_CODEC_KEYS, or on the
  local stack (no TEMPORAL_ADDRESS) from the git-ignored .data/ folder, or from
  --codec-keys-file FILE   a file holding "kid:base64key[,...]" ('#' lines are comments),
                           e.g. test/histories/codec-keys.txt for the committed fixtures

Environment
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*   for --query
  PAYLOAD_CODEC_KEYS   the payload codec keys, as the workers have them
  LOG_LEVEL            the SDK's log level (default ERROR)

Exit codes
  0  every history replayed
  1  some history failed to replay, or the query matched nothing
  2  bad command line, unreadable file, missing codec key, configuration, Temporal unreachable
`;

export interface ReplayIo extends CliIo {
  /** For --query: used as is (and not closed) instead of connecting from the environment. */
  readonly client?: Client;
  /** The workflows module to replay against; the product's by default (tests pass altered ones). */
  readonly workflowsPath?: string;
}

interface ReplayArgs {
  files: string[];
  query?: string;
  limit: number;
  codecKeysFile?: string;
}

function parseReplayArgs(io: ReplayIo): ReplayArgs {
  const { values, positionals } = parseFlags(io, {
    strings: 'query limit codec-keys-file',
    positionals: true,
    help: REPLAY_HELP,
  });
  if (values.query !== undefined && positionals.length > 0) {
    throw new UsageError('give history files or --query, not both');
  }
  if (values.query === undefined && positionals.length === 0) {
    throw new UsageError('nothing to replay: give history files (JSON) or --query');
  }
  if (values.query !== undefined && values.query.trim() === '') throw new UsageError('--query is empty');
  if (values.limit !== undefined && values.query === undefined)
    throw new UsageError('--limit goes with --query');
  return {
    files: positionals,
    query: values.query,
    limit: wholeNumberFlag('--limit', values.limit, { fallback: DEFAULT_LIMIT, max: 10_000 }),
    codecKeysFile: values['codec-keys-file'],
  };
}

function outcomeLine(o: ReplayOutcome): string {
  return `${o.verdict.padEnd(14)}  ${o.label}${o.message ? `: ${firstLine(o.message)}` : ''}\n`;
}

/** Runs the replay as the CLI would; returns the exit code. Never throws. */
export function runReplay(io: ReplayIo): Promise<number> {
  return runCommand('replay', io, replay);
}

async function replay(io: ReplayIo): Promise<number> {
  const { stdout, stderr } = io;
  const args = parseReplayArgs(io);
  const keyring = args.codecKeysFile
    ? readCodecKeysFile(args.codecKeysFile)
    : loadCodecKeyring(io.env, { local: isLocalStack(io.env) });
  // Every file is read and checked before anything replays: a typo fails at once.
  const fileSources = args.files.map(readHistoryFile);

  let client = io.client;
  let ownClient: Client | undefined;
  const counts = { ok: 0, nondeterminism: 0, error: 0, missingKey: 0 };
  try {
    if (args.query !== undefined && !client) {
      ownClient = await connectClient(loadTemporalSettings(io.env));
      client = ownClient;
    }
    const sources: AsyncIterable<HistorySource> | Iterable<HistorySource> =
      args.query !== undefined && client ? historiesMatching(client, args.query, args.limit) : fileSources;

    // A history under a codec key this process lacks is reported, not replayed: replaying it
    // would fail on decoding, which says nothing about the code.
    async function* decodable(): AsyncGenerator<HistorySource> {
      for await (const source of sources) {
        const missing = missingKeyIds(source.history, keyring);
        if (missing.length === 0) {
          yield source;
          continue;
        }
        counts.missingKey++;
        stdout.write(
          `${'error'.padEnd(14)}  ${source.label}: payloads are encrypted under codec key ` +
            `${missing.map((k) => `"${k}"`).join(', ')}, which is not in the keyring ` +
            `(known: ${keyring.kids.join(', ')}; set ${PAYLOAD_CODEC_KEYS} or --codec-keys-file)\n`,
        );
      }
    }

    const dataConverter = createDataConverter(keyring);
    for await (const outcome of replayHistories(decodable(), {
      dataConverter,
      workflowsPath: io.workflowsPath,
    })) {
      counts[outcome.verdict]++;
      stdout.write(outcomeLine(outcome));
    }
  } finally {
    await ownClient?.connection.close();
  }

  const total = counts.ok + counts.nondeterminism + counts.error + counts.missingKey;
  if (total === 0) {
    stderr.write(`replay: no executions match ${onboardingQuery(args.query ?? '')}: nothing was replayed\n`);
    return EXIT_FAILURE;
  }
  stdout.write(
    `replayed ${total} histor${total === 1 ? 'y' : 'ies'}: ${counts.ok} ok, ` +
      `${counts.nondeterminism} nondeterministic, ${counts.error + counts.missingKey} errors\n`,
  );
  // A history nobody here can decode is a missing key, not a code change: exit 2.
  if (counts.missingKey > 0) return EXIT_SETUP;
  return counts.nondeterminism + counts.error > 0 ? EXIT_FAILURE : EXIT_OK;
}

if (require.main === module) {
  runMain({ name: 'replay' }, async (io) => {
    installRuntimeLogging(io.env.LOG_LEVEL, 'ERROR');
    return runReplay(io);
  });
}
