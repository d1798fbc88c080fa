// The product's own pieces of the local stack, plugged into startLocalStack: the Graph sandbox
// (port 8099), the codec server the Web UI decodes payloads through (8888), and the worker's
// least-privilege AppRole in OpenBao, whose credentials land in the git-ignored data folder.
import { writeFileSync } from 'node:fs';
import { loadCodecServerAuthToken, loadCodecServerConfig } from '../codec/codec-config';
import { startCodecServer } from '../codec/codec-server';
import { SANDBOX_ACCESS_TOKEN } from '../graph/graph-config';
import { numberSetupsFromEnv } from '../graph-sandbox/number-setups';
import { startGraphSandbox, type SandboxNumberSetups } from '../graph-sandbox/server';
import { scenariosFromEnv, type ScenarioMap } from '../graph-sandbox/scenarios';
import type { Env } from '../config/env-reader';
import { applyWorkerAccess } from '../vault/apply-worker-access';
import { WORKER_APPROLE_FILE_NAME } from '../worker/worker-config';
import { join } from 'node:path';
import { codecSignIn, codecSignInLines } from './codec-sign-in';
import { exampleTenants, sandboxGrantsOf } from './example-tenants';
import { assertPortFree } from './processes';
import type { ExtraServiceStarter } from './stack';

export const DEFAULT_PRODUCT_PORTS = { graphSandbox: 8099, codecServer: 8888 } as const;

export const LOCAL_KV_MOUNT = 'secret';
export const LOCAL_PIN_PREFIX = 'whatsapp/two-step-pins';

export function graphSandboxService(opts: {
  port: number;
  scenarios?: ScenarioMap;
  numbers?: SandboxNumberSetups;
}): ExtraServiceStarter {
  return async () => {
    await assertPortFree(opts.port, 'Graph sandbox');
    // The example tenants' own tokens reach their WABAs only, beside the partner's sandbox token.
    const tenants = await exampleTenants();
    const sandbox = await startGraphSandbox({
      port: opts.port,
      accessToken: SANDBOX_ACCESS_TOKEN,
      tokenGrants: sandboxGrantsOf(tenants),
      wabas: Object.assign({}, ...tenants.map((t) => t.wabas)) as Record<string, Array<{ id: string }>>,
      scenarios: { ...scenariosFromEnv(process.env), ...opts.scenarios },
      numbers: { ...numberSetupsFromEnv(process.env), ...opts.numbers },
    });
    return {
      name: 'Graph sandbox',
      url: sandbox.url,
      env: { GRAPH_BASE_URL: sandbox.url },
      stop: () => sandbox.close(),
    };
  };
}

export function codecServerService(opts: { port: number; uiUrl?: string; env?: Env }): ExtraServiceStarter {
  return async (stack) => {
    await assertPortFree(opts.port, 'codec server');
    const env = opts.env ?? process.env;
    const config = loadCodecServerConfig(env, { local: true });
    // The local stack always has its generated token (the sign-in URL carries it).
    const authToken = config.authToken ?? loadCodecServerAuthToken(env, { local: true });
    const ui = opts.uiUrl ?? stack.uiUrl;
    const origins = new Set([...config.allowedOrigins, ui, ui.replace('127.0.0.1', 'localhost')]);
    const server = await startCodecServer({
      port: opts.port,
      keyring: config.keyring,
      authToken,
      allowedOrigins: [...origins],
      limits: config.limits,
      secureCookie: config.secureCookie,
    });
    const signIn = codecSignIn(ui, stack.uiCodecEndpoint, server.url, authToken);
    return {
      name: 'codec server',
      url: server.url,
      env: { TEMPORAL_CODEC_ENDPOINT: server.url },
      notes: codecSignInLines(signIn),
      stop: () => server.close(),
    };
  };
}

/**
 * Creates (idempotently) the worker's policy and AppRole, and leaves its credentials in the
 * stack's data folder, where `npm run worker -- --local` finds them.
 */
export function workerAppRoleService(): ExtraServiceStarter {
  return async (stack) => {
    const access = await applyWorkerAccess({
      address: stack.vaultAddress,
      rootToken: stack.vaultToken,
      mount: LOCAL_KV_MOUNT,
      prefix: LOCAL_PIN_PREFIX,
    });
    writeFileSync(
      join(stack.dataDir, WORKER_APPROLE_FILE_NAME),
      JSON.stringify({ roleId: access.roleId, secretId: access.secretId, vaultAddress: stack.vaultAddress }),
      { mode: 0o600 },
    );
    return {
      name: 'worker AppRole',
      url: `${stack.vaultAddress}/v1/auth/${access.approleMount}/role/${access.roleName}`,
      env: { VAULT_ROLE_ID: access.roleId },
      stop: async () => {},
    };
  };
}
