/** A request the product's HTTP services refuse: the status, a stable error name and a reason. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}
