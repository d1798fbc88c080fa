// A command line the command cannot run: a missing or malformed flag, an unknown command.

export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'USAGE';
}
