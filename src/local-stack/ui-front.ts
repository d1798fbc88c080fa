// The local stack's Web UI address, served by a small reverse proxy: everything goes to the
// Temporal dev server's own UI (on an internal port), except `/codec/...`, which goes to the codec
// server. The point is the browser's same-origin rule. The dev server's UI can only be told a codec
// endpoint (`--ui-codec-endpoint`), not to send credentials with it, so against a codec server on
// another port the browser never sends the sign-in cookie and every engineer has to switch on
// "Include cross-origin credentials" by hand. Under the UI's own origin the cookie goes along by
// default, and the codec server still refuses every call without it (docs/secrets.md).
import { request as httpRequest, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CREDENTIAL_COOKIE } from '../codec/codec-server';
import { PortBusyError } from './processes';

/** Where the codec server appears under the UI's origin; the dev server's UI is told this path. */
export const UI_CODEC_PATH = '/codec';

export interface UiFrontOptions {
  port: number;
  host?: string;
  /** The dev server's own UI, e.g. http://127.0.0.1:41234. */
  uiTarget: string;
  /** The codec server, e.g. http://127.0.0.1:8888. */
  codecTarget: string;
}

export interface UiFront {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

// Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection and are never forwarded.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export function isCodecPath(pathname: string): boolean {
  return pathname === UI_CODEC_PATH || pathname.startsWith(`${UI_CODEC_PATH}/`);
}

/** The Cookie header without the codec credential: the Temporal UI server has no use for it. */
export function withoutCodecCookie(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const kept = header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '' && !part.startsWith(`${CREDENTIAL_COOKIE}=`));
  return kept.length > 0 ? kept.join('; ') : undefined;
}

function forwardedHeaders(req: IncomingMessage, toCodec: boolean): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    headers[name] = value;
  }
  if (!toCodec) {
    const cookie = withoutCodecCookie(req.headers.cookie);
    if (cookie === undefined) delete headers.cookie;
    else headers.cookie = cookie;
  }
  return headers;
}

function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`${text}\n`);
}

export async function startUiFront(opts: UiFrontOptions): Promise<UiFront> {
  const host = opts.host ?? '127.0.0.1';
  const ui = new URL(opts.uiTarget);
  const codec = new URL(opts.codecTarget);

  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const toCodec = isCodecPath(new URL(path, 'http://front.invalid').pathname);
    const target = toCodec ? codec : ui;
    const upstream = httpRequest(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path,
        headers: forwardedHeaders(req, toCodec),
      },
      (answer) => {
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
        }
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
        answer.pipe(res);
        answer.once('error', () => res.destroy());
      },
    );
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      const what = toCodec ? 'the codec server' : "the Temporal dev server's Web UI";
      sendText(res, 502, `${what} (${target.origin}) did not answer: ${err.code ?? err.message}`);
    });
    // A browser that gives up (the UI polls and cancels a lot) must not leave the upstream open.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortBusyError(opts.port, 'Temporal Web UI', host) : err),
    );
    server.listen(opts.port, host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    async close() {
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
    },
  };
}
