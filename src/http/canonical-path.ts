// Routing on the path exactly as sent, and only when it is already in canonical form. A path
// that normalises to another one ("/a/%2e%2e/b", "/a/../b", "//b", "\\b", an absolute URL)
// would let a request slip past a proxy's path rule and still reach the route it names, so it
// is refused instead of normalised; headers chosen by route (Allow, WWW-Authenticate) then
// always belong to the route that answers.
import type { IncomingMessage } from 'node:http';
import { quoteUntrusted } from '../text/quote-untrusted';
import { HttpError } from './http-error';

export function canonicalPath(req: IncomingMessage): string {
  const raw = req.url ?? '/';
  const query = raw.indexOf('?');
  const path = query === -1 ? raw : raw.slice(0, query);
  const normalised = path.startsWith('/') ? new URL(path, 'http://path.invalid').pathname : undefined;
  // "//x" parses as a host name: a path of "/" on another origin.
  if (normalised !== path || path.startsWith('//')) {
    throw new HttpError(
      400,
      'NonCanonicalPath',
      `the path ${quoteUntrusted(path)} is not in canonical form: send it without dot segments, ` +
        'doubled or back slashes, and without a scheme and host',
    );
  }
  return path;
}
