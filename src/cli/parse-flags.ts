// The command line of every command: node's parseArgs, strict, with -h/--help added, and its
// complaints turned into usage errors (exit 2, "see --help"); --help prints and ends the command (exit 0). Flags are declared by name, in two
// space-separated lists, so that a command's flag table reads in a line or two.
import { parseArgs } from 'node:util';
import type { CliIo } from './cli-io';
import { firstLine } from './first-line';
import { UsageError } from './usage-error';

/** "a b c" -> "a" | "b" | "c". */
type Words<S extends string> = S extends `${infer Head} ${infer Tail}` ? Head | Words<Tail> : S;

export interface FlagSpec<S extends string, B extends string> {
  /** Flags that take a value ("--port 8080"), space-separated: 'port host'. */
  strings?: S;
  /** Flags that are on or off ("--fresh"), space-separated. */
  booleans?: B;
  /** One-letter aliases: { f: 'file' }. */
  short?: Readonly<Record<string, NoInfer<Words<S> | Words<B>>>>;
  /** Whether positional arguments (files, an ops command) are taken; none by default. */
  positionals?: boolean;
  /** The --help text, or one chosen by the positionals (commands with topics: ops). */
  help: string | ((positionals: readonly string[]) => string);
}

type Options<S extends string, B extends string> = { [K in Words<S>]: { type: 'string'; short?: string } } & {
  [K in Words<B> | 'help']: { type: 'boolean'; short?: string };
};

interface FlagConfig<S extends string, B extends string> {
  args: string[];
  options: Options<S, B>;
  allowPositionals: boolean;
  strict: true;
}

export type ParsedFlags<S extends string, B extends string> = ReturnType<typeof parseArgs<FlagConfig<S, B>>>;

/** Thrown once the help has been printed: runCommand ends the command there, with exit 0. */
export class HelpPrinted extends Error {
  override readonly name = 'HelpPrinted';
}

/** The flags and positionals; with --help, prints the help and throws HelpPrinted. */
export function parseFlags<const S extends string = never, const B extends string = never>(
  io: Pick<CliIo, 'argv' | 'stdout'>,
  spec: FlagSpec<S, B>,
): ParsedFlags<S, B> {
  let parsed: ParsedFlags<S, B>;
  try {
    parsed = parseArgs<FlagConfig<S, B>>({
      args: [...io.argv],
      options: flagOptions(spec),
      allowPositionals: spec.positionals ?? false,
      strict: true,
    });
  } catch (err) {
    // Node's advice about positionals starting with '-' does not apply to these commands.
    throw new UsageError(firstLine(err).replace(/\. To specify a positional argument.*$/, ''));
  }
  if ((parsed.values as { help?: boolean }).help !== true) return parsed;
  showHelp(io, typeof spec.help === 'string' ? spec.help : spec.help(parsed.positionals));
}

function flagOptions<S extends string, B extends string>(spec: FlagSpec<S, B>): Options<S, B> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean' },
  };
  for (const name of words(spec.strings)) options[name] = { type: 'string' };
  for (const name of words(spec.booleans)) options[name] = { type: 'boolean' };
  for (const [letter, name] of Object.entries({ h: 'help', ...spec.short })) {
    const option = options[name];
    if (option) option.short = letter;
  }
  return options as Options<S, B>;
}

function words(list: string | undefined): string[] {
  return list ? list.split(' ').filter(Boolean) : [];
}

/** Prints the help on stdout and ends the command (exit 0). */
export function showHelp(io: Pick<CliIo, 'stdout'>, text: string): never {
  io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  throw new HelpPrinted();
}
