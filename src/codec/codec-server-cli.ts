// `npm run codec-server`: the Temporal UI's codec server as a process of its own.
//
// Local keys are opt-in (--local) rather than the fallback for a missing PAYLOAD_CODEC_KEYS: a
// deployed codec server that silently generated its own key would decode nothing and encode with a
// key no worker knows, which is worse than refusing to start.
import { isTerminal, type CliIo } from '../cli/cli-io';
import { EXIT_FAILURE, EXIT_OK } from '../cli/exit-code-policy';
import { portSetting } from '../cli/flag-values';
import { firstLine } from '../cli/first-line';
import { listenFailure } from '../cli/listen-error';
import { parseFlags } from '../cli/parse-flags';
import { runMain, stopRequested } from '../cli/run-main';
import { ConfigError } from '../config/env-reader';
import { createLineLogger } from '../logging/line-logger';
import { loadLogFormat, loadLogLevel } from '../logging/log-format';
import {
  CODEC_SERVER_AUTH_TOKEN,
  CODEC_SERVER_CORS_ORIGINS,
  PAYLOAD_CODEC_KEYS,
  loadCodecServerConfig,
  localCodecTokenFile,
} from './codec-config';
import { startCodecServer } from './codec-server';
import { createOidcBearerVerifier } from './oidc-bearer';

const DEFAULT_PORT = 8888;
/** What --local supplies: a missing one outside the local stack gets that hint. */
const LOCAL_KEY_VARIABLES: readonly string[] = [PAYLOAD_CODEC_KEYS, CODEC_SERVER_AUTH_TOKEN];

const USAGE = `Usage: npm run codec-server -- [--local] [--port <port>] [--host <host>]

Serves POST /encode, /decode and /download for the Temporal Web UI, decrypting payloads with the
payload codec keys. Every call needs a credential: the token (Authorization: Bearer, or the
sign-in cookie) or, with CODEC_SERVER_OIDC_* set, the UI's own OIDC tokens.

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
  CODEC_SERVER_PORT          default port
  CODEC_SERVER_SECURE_COOKIE true: the sign-in cookie is always Secure (default: only over HTTPS,
                             as the request or X-Forwarded-Proto / Forwarded says)
  CODEC_SERVER_HEADERS_TIMEOUT_MS, CODEC_SERVER_REQUEST_TIMEOUT_MS, CODEC_SERVER_KEEP_ALIVE_TIMEOUT_MS,
  CODEC_SERVER_MAX_CONNECTIONS
                             transport limits (defaults 10000, 30000, 5000, 64; 0 connections = no cap)
  CODEC_SERVER_OIDC_JWKS_URL, CODEC_SERVER_OIDC_ISSUER, CODEC_SERVER_OIDC_AUDIENCE
                             accept the UI's OIDC access token (Authorization: Bearer) or ID token
                             (Authorization-Extras), checked against the provider's keys; then
                             ${CODEC_SERVER_AUTH_TOKEN} is optional (docs/secrets.md)
  CODEC_SERVER_OIDC_REQUIRED_CLAIM  e.g. groups=payload-readers: only engineers with that claim`;

async function main(io: CliIo): Promise<number> {
  const flags = parseFlags(io, { strings: 'port host', booleans: 'local', help: USAGE });
  const local = flags.values.local === true;
  const port = portSetting({
    flag: '--port',
    raw: flags.values.port,
    variable: 'CODEC_SERVER_PORT',
    env: io.env,
    fallback: DEFAULT_PORT,
    allowZero: true,
  });
  let config: ReturnType<typeof loadCodecServerConfig>;
  try {
    config = loadCodecServerConfig(io.env, { local });
  } catch (err) {
    if (err instanceof ConfigError && !local && LOCAL_KEY_VARIABLES.includes(err.variable)) {
      throw new ConfigError(err.variable, `${err.problem} (on the local stack, run with --local)`);
    }
    throw err;
  }

  // Its lines on stdout, JSON unless a person is at the terminal: refusals (never a token or a
  // payload) as warnings, the start-up summary as announcements.
  const log = createLineLogger({
    format: loadLogFormat(io.env, isTerminal(io.stdout)),
    level: loadLogLevel(io.env, 'INFO'),
    write: (line) => io.stdout.write(`${line}\n`),
  });
  const say = (line: string) => log.announce(line);
  const host = flags.values.host ?? '127.0.0.1';
  const server = await startCodecServer({
    port,
    host,
    keyring: config.keyring,
    ...(config.authToken !== undefined && { authToken: config.authToken }),
    ...(config.oidc && { oidc: createOidcBearerVerifier(config.oidc) }),
    allowedOrigins: config.allowedOrigins,
    limits: config.limits,
    secureCookie: config.secureCookie,
    log: (line) => log.warn(line),
  }).catch((err: unknown) => {
    throw listenFailure(err, host, port);
  });

  const tokenIsLocal = local && !io.env[CODEC_SERVER_AUTH_TOKEN]?.trim();
  say(`Codec server listening on ${server.url}`);
  say(`  keys: ${config.keyring.kids.join(', ')} (encrypting with ${config.keyring.currentKid})`);
  say(`  allowed UI origins: ${config.allowedOrigins.join(', ')}`);
  say(
    `Temporal UI: open the Codec Server settings, set the endpoint to ${server.url} and turn on ` +
      '"Include cross-origin credentials"; open the UI under the same host name as this server.',
  );
  if (config.oidc) {
    say(
      `Sign-in: the UI's OIDC tokens (turn on "Pass access token"), issuer ${config.oidc.issuer}, ` +
        `audience ${config.oidc.audiences.join(' or ')}` +
        (config.oidc.requiredClaim
          ? `, only with ${config.oidc.requiredClaim.claim}=${config.oidc.requiredClaim.value}`
          : ''),
    );
  }
  if (tokenIsLocal && config.authToken !== undefined) {
    // Local stack only: the token is a local credential kept in the data folder anyway.
    say(
      `Sign this browser in once: ${server.url}/login?token=${encodeURIComponent(config.authToken)}` +
        `  (token file: ${localCodecTokenFile()})`,
    );
  } else if (config.authToken !== undefined) {
    say(`Sign this browser in once at ${server.url}/login with ${CODEC_SERVER_AUTH_TOKEN}.`);
  }
  say(
    `Scripts: curl -H "Authorization: Bearer <token>" -H 'Content-Type: application/json' ${server.url}/decode ...`,
  );
  if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(host)) {
    log.warn(
      `warning: listening on ${host} over plain HTTP: tokens and decrypted payloads cross the network in clear; ` +
        'put the codec server behind HTTPS',
    );
  }

  const signal = await stopRequested(io.signal);
  say(`codec server: ${signal}, stopping`);
  try {
    await server.close();
  } catch (err) {
    log.error(`codec server: could not stop cleanly: ${firstLine(err)}`);
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}

if (require.main === module) runMain({ name: 'codec server', server: true, stop: { again: 'exit' } }, main);
