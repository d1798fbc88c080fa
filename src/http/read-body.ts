// Reading a request body with one behaviour for every server: a body over the limit (declared in
// Content-Length, or counted as it arrives) stops being read right there and is refused with 413
// and a closed connection; nothing past the limit is read or kept.
import type { IncomingMessage } from 'node:http';
import { ClientGoneError } from './client-gone';
import { HttpError } from './http-error';

export function bodyTooLarge(limit: number): HttpError {
  return new HttpError(413, 'PayloadTooLarge', `the body must be at most ${limit} bytes`, {
    closeConnection: true,
  });
}

/** The whole body, or a rejection with 413 (over `limit` bytes) or ClientGoneError (hung up). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(bodyTooLarge(limit));
  return new Promise((resolveBody, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Paused, the socket is no longer read; the 413 goes out and the connection closes.
        req.pause();
        stop();
        reject(bodyTooLarge(limit));
        return;
      }
      parts.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolveBody(Buffer.concat(parts, size));
    };
    const onGone = () => {
      stop();
      reject(new ClientGoneError());
    };
    const onClose = () => {
      if (!req.complete) onGone();
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onGone);
    req.once('close', onClose);
  });
}
