// The base of the project's own errors that a command tells apart: a stable `code` that callers
// and the exit-code policy (exit-code-policy.ts) match on, as undici's errors are matched, never
// the message text. Each subclass narrows `Code` to its one literal, so a renamed code fails
// `npm run typecheck` wherever it is matched.
export class CodedError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    // The subclass's own name ("ConfigError"), for stack traces and logs.
    this.name = new.target.name;
  }
}

/**
 * A CodedError class whose instances all carry one code and are built from a message alone:
 * `export class UsageError extends codedErrorClass('USAGE') {}`, then `new UsageError(message)`.
 */
export function codedErrorClass<Code extends string>(code: Code) {
  return class extends CodedError<Code> {
    constructor(message: string, options?: ErrorOptions) {
      super(code, message, options);
    }
  };
}
