// `npm run replay`: replays workflow histories against this checkout's workflow code, so a change
// that would break running workflows (non-determinism) is found before it is deployed. Histories
// come from files (the Web UI's download, `temporal workflow show --output json`) or from the
// server by a visibility query.
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { NamespaceNotFoundError } from '@temporalio/common';
import { loadCodecKeyring, PAYLOAD_CODEC_KEYS } from '../codec/codec-config';
import { createDataConverter } from '../codec/data-converter';
import { ConfigError, type Env } from '../config/env-reader';
import type { Keyring } from '../crypto/keyring';
import { isLocalStack } from '../onboarding/onboarding-client';
import { installRuntimeLogging } from '../runtime-logging';
import {
  connectClient,
  loadTemporalSettings,
  TemporalUnreachableError,
} from '../temporal/temporal-connection';
import { readCodecKeysFile } from './codec-keys-file';
import { HistoryFileError, readHistoryFile, type HistorySource } from './history-file';
import { missingKeyIds, replayHistories, type ReplayOutcome } from './history-replayer';
import { historiesMatching, onboardingQuery } from './server-histories';

export const EXIT_OK = 0;
/** A history did not replay (non-determinism or another replay error), or nothing was replayed. */
export const EXIT_REPLAY_FAILED = 1;
/** Bad command line, unreadable file, missing codec key, configuration, or Temporal unreachable. */
export const EXIT_CONFIG = 2;

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

export interface TextWriter {
  write(text: string): unknown;
}

export interface ReplayIo {
  argv: readonly string[];
  env: Env;
  stdout: TextWriter;
  stderr: TextWriter;
  /** For --query: used as is (and not closed) instead of connecting from the environment. */
  client?: Client;
  /** The workflows module to replay against; the product's by default (tests pass altered ones). */
  workflowsPath?: string;
}

class UsageError extends Error {}

interface ReplayArgs {
  files: string[];
  query?: string;
  limit: number;
  codecKeysFile?: string;
}

function parseReplayArgs(argv: readonly string[]): ReplayArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        query: { type: 'string' },
        limit: { type: 'string' },
        'codec-keys-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (values.query !== undefined && positionals.length > 0) {
    throw new UsageError('give history files or --query, not both');
  }
  if (values.query === undefined && positionals.length === 0) {
    throw new UsageError('nothing to replay: give history files (JSON) or --query');
  }
  if (values.query !== undefined && values.query.trim() === '') throw new UsageError('--query is empty');
  let limit = DEFAULT_LIMIT;
  if (values.limit !== undefined) {
    if (values.query === undefined) throw new UsageError('--limit goes with --query');
    limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new UsageError(`--limit must be a whole number from 1 to 10000 (got "${values.limit}")`);
    }
  }
  return { files: positionals, query: values.query, limit, codecKeysFile: values['codec-keys-file'] };
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

function outcomeLine(o: ReplayOutcome): string {
  return `${o.verdict.padEnd(14)}  ${o.label}${o.message ? `: ${firstLine(o.message)}` : ''}\n`;
}

/** Runs the replay as the CLI would; returns the exit code. Never throws for expected failures. */
export async function runReplay(io: ReplayIo): Promise<number> {
  const { stdout, stderr } = io;
  let args: ReplayArgs;
  let keyring: Keyring;
  let fileSources: HistorySource[];
  try {
    const parsed = parseReplayArgs(io.argv);
    if (parsed === 'help') {
      stdout.write(REPLAY_HELP);
      return EXIT_OK;
    }
    args = parsed;
    keyring = args.codecKeysFile
      ? readCodecKeysFile(args.codecKeysFile)
      : loadCodecKeyring(io.env, { local: isLocalStack(io.env) });
    // Every file is read and checked before anything replays: a typo fails at once.
    fileSources = args.files.map(readHistoryFile);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof HistoryFileError) {
      stderr.write(`replay: ${err.message}\n`);
      if (err instanceof UsageError) stderr.write('replay: see --help\n');
      return EXIT_CONFIG;
    }
    throw err;
  }

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
  } catch (err) {
    if (err instanceof ConfigError || err instanceof TemporalUnreachableError) {
      stderr.write(`replay: ${err.message}\n`);
      return EXIT_CONFIG;
    }
    if (err instanceof NamespaceNotFoundError) {
      stderr.write(`replay: ${err.message}: check TEMPORAL_NAMESPACE\n`);
      return EXIT_CONFIG;
    }
    throw err;
  } finally {
    await ownClient?.connection.close();
  }

  const total = counts.ok + counts.nondeterminism + counts.error + counts.missingKey;
  if (total === 0) {
    stderr.write(`replay: no executions match ${onboardingQuery(args.query ?? '')}: nothing was replayed\n`);
    return EXIT_REPLAY_FAILED;
  }
  stdout.write(
    `replayed ${total} histor${total === 1 ? 'y' : 'ies'}: ${counts.ok} ok, ` +
      `${counts.nondeterminism} nondeterministic, ${counts.error + counts.missingKey} errors\n`,
  );
  if (counts.missingKey > 0) return EXIT_CONFIG;
  return counts.nondeterminism + counts.error > 0 ? EXIT_REPLAY_FAILED : EXIT_OK;
}

async function main(): Promise<void> {
  try {
    installRuntimeLogging(process.env.LOG_LEVEL, 'ERROR');
    process.exitCode = await runReplay({
      argv: process.argv.slice(2),
      env: process.env,
      stdout: process.stdout,
      stderr: process.stderr,
    });
  } catch (err) {
    console.error(`replay: ${firstLine(err)}`);
    process.exitCode = err instanceof ConfigError ? EXIT_CONFIG : EXIT_REPLAY_FAILED;
  }
}

if (require.main === module) void main();
