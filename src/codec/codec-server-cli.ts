// `npm run codec-server`: the Temporal UI's codec server as a process of its own.
//
// Local keys are opt-in (--local) rather than the fallback for a missing PAYLOAD_CODEC_KEYS: a
// deployed codec server that silently generated its own key would decode nothing and encode with a
// key no worker knows, which is worse than refusing to start.
import { parseArgs } from 'node:util';
import { ConfigError, EnvReader } from '../config/env-reader';
import {
  CODEC_SERVER_AUTH_TOKEN,
  CODEC_SERVER_CORS_ORIGINS,
  PAYLOAD_CODEC_KEYS,
  loadCodecServerConfig,
  localCodecTokenFile,
} from './codec-config';
import { startCodecServer } from './codec-server';

const DEFAULT_PORT = 8888;

const USAGE = `Usage: npm run codec-server -- [--local] [--port <port>] [--host <host>]

Serves POST /encode and /decode for the Temporal Web UI, decrypting payloads with the
payload codec keys. Every call needs the token (Authorization: Bearer, or the sign-in cookie).

Options:
  --local          use the local stack's keys and token, generated once into the data folder
                   (.data/payload-codec.keys, .data/codec-server.token) when not set in the environment
  --port <port>    port to listen on (default: $CODEC_SERVER_PORT or ${DEFAULT_PORT}; 0 = any free port)
  --host <host>    interface to listen on (default 127.0.0.1)
  -h, --help       show this help

Environment:
  ${PAYLOAD_CODEC_KEYS}         "kid:base64key[,kid:base64key...]", first = current; same value as the workers
  ${CODEC_SERVER_AUTH_TOKEN}    the credential callers must present (at least 24 characters)
  ${CODEC_SERVER_CORS_ORIGINS}  allowed Temporal UI origins (default http://localhost:8233,http://127.0.0.1:8233)
  CODEC_SERVER_PORT          default port`;

function parsePort(raw: string, source: string): number {
  const port = Number(raw);
  if (!/^\d{1,5}$/.test(raw) || port > 65535) {
    throw new ConfigError(source, `must be a port number from 0 to 65535 (got "${raw}")`);
  }
  return port;
}

async function main(): Promise<number | undefined> {
  let args: { local?: boolean; port?: string; host?: string; help?: boolean };
  try {
    args = parseArgs({
      options: {
        local: { type: 'boolean' },
        port: { type: 'string' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    console.error(`codec server: ${(err as Error).message} (see --help)`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }

  const env = new EnvReader(process.env);
  const local = args.local === true;
  let config: ReturnType<typeof loadCodecServerConfig>;
  let port: number;
  try {
    const envPort = env.optional('CODEC_SERVER_PORT');
    port =
      args.port !== undefined
        ? parsePort(args.port, '--port')
        : envPort !== undefined
          ? parsePort(envPort, 'CODEC_SERVER_PORT')
          : DEFAULT_PORT;
    config = loadCodecServerConfig(process.env, { local });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const hint =
      !local && (err.variable === PAYLOAD_CODEC_KEYS || err.variable === CODEC_SERVER_AUTH_TOKEN)
        ? ' (on the local stack, run with --local)'
        : '';
    console.error(`codec server: ${err.message}${hint}`);
    return 2;
  }

  const host = args.host ?? '127.0.0.1';
  let server: Awaited<ReturnType<typeof startCodecServer>>;
  try {
    server = await startCodecServer({
      port,
      host,
      keyring: config.keyring,
      authToken: config.authToken,
      allowedOrigins: config.allowedOrigins,
      log: (line) => console.error(line),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      const why =
        code === 'EADDRINUSE'
          ? 'is already in use'
          : code === 'EACCES'
            ? 'is not allowed'
            : 'is not available';
      console.error(
        `codec server: port ${port} on ${host} ${why}: stop whatever holds it or choose another with --port`,
      );
      return 2;
    }
    throw err;
  }

  const tokenIsLocal = local && env.optional(CODEC_SERVER_AUTH_TOKEN) === undefined;
  console.log(`Codec server listening on ${server.url}`);
  console.log(`  keys: ${config.keyring.kids.join(', ')} (encrypting with ${config.keyring.currentKid})`);
  console.log(`  allowed UI origins: ${config.allowedOrigins.join(', ')}`);
  console.log(
    `Temporal UI: open the Codec Server settings, set the endpoint to ${server.url} and turn on ` +
      '"Include cross-origin credentials"; open the UI under the same host name as this server.',
  );
  if (tokenIsLocal) {
    // Local stack only: the token is a local credential kept in the data folder anyway.
    console.log(
      `Sign this browser in once: ${server.url}/login?token=${encodeURIComponent(config.authToken)}` +
        `  (token file: ${localCodecTokenFile()})`,
    );
  } else {
    console.log(`Sign this browser in once at ${server.url}/login with ${CODEC_SERVER_AUTH_TOKEN}.`);
  }
  console.log(
    `Scripts: curl -H "Authorization: Bearer <token>" -H 'Content-Type: application/json' ${server.url}/decode ...`,
  );
  if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(host)) {
    console.warn(
      `warning: listening on ${host} over plain HTTP: tokens and decrypted payloads cross the network in clear; ` +
        'put the codec server behind HTTPS',
    );
  }

  const stop = (signal: NodeJS.Signals) => {
    console.log(`codec server: ${signal}, stopping`);
    server.close().then(
      () => (process.exitCode = 0),
      (err: unknown) => {
        console.error(`codec server: could not stop cleanly: ${(err as Error).message}`);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return undefined;
}

main().then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`codec server: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  },
);
