// The starter's command line, checked before anything is read or contacted.
import type { CliIo } from '../cli/cli-io';
import { durationFlag, positiveNumberFlag, wholeNumberFlag } from '../cli/flag-values';
import { parseFlags } from '../cli/parse-flags';
import { UsageError } from '../cli/usage-error';
import { REGISTER_CHOICES, type RegisterChoice } from '../workflows/messages';
import { BATCH_FORMATS, formatFromPath, type BatchFormat } from './read-rows';
import { STARTER_HELP } from './starter-help';

export interface StarterArgs {
  /** A path, or "-" for stdin. */
  file: string;
  format: BatchFormat;
  dryRun: boolean;
  concurrency: number;
  ratePerSecond?: number;
  reonboard: boolean;
  reportPath?: string;
  wait: boolean;
  waitTimeoutMs: number;
  progressEvery: number;
  stats: boolean;
  /** For rows without a register column; absent: the workflow's default (auto). */
  register?: RegisterChoice;
}

/** The starter's arguments (--help prints the help and ends the command). */
export function parseStarterArgs(io: Pick<CliIo, 'argv' | 'stdout'>): StarterArgs {
  const { values, positionals } = parseFlags(io, {
    strings: 'file format concurrency rate report wait-timeout progress-every register',
    booleans: 'dry-run reonboard wait stats',
    short: { f: 'file' },
    positionals: true,
    help: STARTER_HELP,
  });
  if (positionals.length > 1 || (positionals.length === 1 && values.file !== undefined)) {
    throw new UsageError(
      `one batch file at a time (got ${[values.file, ...positionals].filter(Boolean).join(', ')})`,
    );
  }
  const file = values.file ?? positionals[0];
  if (!file) throw new UsageError('--file is required: the CSV, JSON or JSON Lines file of numbers');
  return {
    file,
    format: batchFormat(file, values.format),
    dryRun: values['dry-run'] ?? false,
    concurrency: wholeNumberFlag('--concurrency', values.concurrency, { fallback: 20, max: 1_000 }),
    ratePerSecond: positiveNumberFlag('--rate', values.rate, 'starts per second'),
    reonboard: values.reonboard ?? false,
    reportPath: values.report,
    wait: values.wait ?? false,
    waitTimeoutMs: durationFlag('--wait-timeout', values['wait-timeout'], '30m'),
    progressEvery: wholeNumberFlag('--progress-every', values['progress-every'], {
      fallback: 10_000,
      max: 10_000_000,
    }),
    stats: values.stats ?? false,
    ...(values.register !== undefined && { register: registerChoice(values.register) }),
  };
}

function registerChoice(flag: string): RegisterChoice {
  if (!(REGISTER_CHOICES as readonly string[]).includes(flag)) {
    throw new UsageError(`--register must be one of ${REGISTER_CHOICES.join(', ')} (got "${flag}")`);
  }
  return flag as RegisterChoice;
}

function batchFormat(file: string, flag: string | undefined): BatchFormat {
  if (flag !== undefined) {
    if (!(BATCH_FORMATS as readonly string[]).includes(flag)) {
      throw new UsageError(`--format must be one of ${BATCH_FORMATS.join(', ')} (got "${flag}")`);
    }
    return flag as BatchFormat;
  }
  const format = file === '-' ? undefined : formatFromPath(file);
  if (!format) {
    throw new UsageError(
      `cannot tell the format of "${file}" from its name: use .csv, .json, .jsonl or .ndjson, or --format`,
    );
  }
  return format;
}
