// A batch file that cannot be read as rows at all (a bad CSV header, a JSON file that is not an
// array): unlike an invalid row, nothing after this point can be trusted, so the run stops here.
export class BatchFileError extends Error {
  override readonly name = 'BatchFileError';
  readonly code = 'BATCH_FILE_INVALID';
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
  }
}
