// A batch file that cannot be read as rows at all (a bad CSV header, a JSON file that is not an
// array): unlike an invalid row, nothing after this point can be trusted, so the run stops here.
import { CodedError } from '../cli/coded-error';

export class BatchFileError extends CodedError<'BATCH_FILE_INVALID'> {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super('BATCH_FILE_INVALID', `line ${line}: ${problem}`);
  }
}
