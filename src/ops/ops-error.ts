// What the operator CLI can tell an operator went wrong, each with a stable code the CLI maps to
// an exit code (and tests match on), never on message text.
import { CodedError } from '../cli/coded-error';

export type OpsErrorCode =
  /** No onboarding workflow exists for the number in this namespace. */
  | 'UNKNOWN_NUMBER'
  /** The workflow exists but is not waiting for an operator (still working, or closed). */
  | 'NOT_WAITING'
  /** The workflow refused the operator's request (its validator gave the reason). */
  | 'REFUSED'
  /** The workflow did not answer the status query in time (no worker polling?). */
  | 'NO_ANSWER';

export class OpsError extends CodedError<OpsErrorCode> {}
