// A request the product's HTTP services refuse: the status, a stable error name, a reason the
// caller can act on, and what the answer needs besides (Allow, WWW-Authenticate, closing).
export interface HttpErrorOptions {
  /** Extra answer headers, e.g. { allow: 'POST' } on a 405. */
  headers?: Record<string, string>;
  /**
   * Close the connection after answering: the request's body was left unread (refused before
   * reading, or cut at the size limit), so the connection cannot carry another request.
   */
  closeConnection?: boolean;
}

export class HttpError extends Error {
  readonly headers: Readonly<Record<string, string>>;
  readonly closeConnection: boolean;

  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
    options: HttpErrorOptions = {},
  ) {
    super(reason);
    this.headers = options.headers ?? {};
    this.closeConnection = options.closeConnection ?? false;
  }
}
