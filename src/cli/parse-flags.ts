// The command line of every command: node's parseArgs, strict, with -h/--help added, and its
// complaints turned into usage errors (exit 2, "see --help").
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CliIo } from './cli-io';
import { firstLine } from './first-line';
import { UsageError } from './usage-error';

const HELP_FLAG = { help: { type: 'boolean', short: 'h' } } as const;

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

export interface FlagSpec<O extends ParseArgsOptionsConfig> {
  options: O;
  /** Whether positional arguments (files, an ops command) are taken; none by default. */
  positionals?: boolean;
  /** The --help text, or one chosen by the positionals (commands with topics: ops). */
  help: string | ((positionals: readonly string[]) => string);
}

interface FlagConfig<O extends ParseArgsOptionsConfig> {
  args: string[];
  options: O & typeof HELP_FLAG;
  allowPositionals: boolean;
  strict: true;
}

export type ParsedFlags<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<FlagConfig<O>>>;

/** The flags and positionals; undefined when --help was asked for and has been printed. */
export function parseFlags<O extends ParseArgsOptionsConfig>(
  io: Pick<CliIo, 'argv' | 'stdout'>,
  spec: FlagSpec<O>,
): ParsedFlags<O> | undefined {
  let parsed: ParsedFlags<O>;
  try {
    parsed = parseArgs<FlagConfig<O>>({
      args: [...io.argv],
      options: { ...spec.options, ...HELP_FLAG },
      allowPositionals: spec.positionals ?? false,
      strict: true,
    });
  } catch (err) {
    // Node's advice about positionals starting with '-' does not apply to these commands.
    throw new UsageError(firstLine(err).replace(/\. To specify a positional argument.*$/, ''));
  }
  if ((parsed.values as { help?: boolean }).help !== true) return parsed;
  printHelp(io, typeof spec.help === 'string' ? spec.help : spec.help(parsed.positionals));
  return undefined;
}

export function printHelp(io: Pick<CliIo, 'stdout'>, text: string): void {
  io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
