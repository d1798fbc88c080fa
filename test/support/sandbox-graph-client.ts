// A Graph client pointed at a Graph sandbox, with timeouts short enough for tests.
import { createGraphClient, type GraphClient } from '../../src/graph/graph-client';
import { SANDBOX_ACCESS_TOKEN } from '../../src/graph/graph-config';
import type { GraphSandbox } from '../../src/graph-sandbox/server';

export function sandboxGraphClient(sandbox: GraphSandbox): GraphClient {
  return createGraphClient({
    baseUrl: sandbox.url,
    apiVersion: 'v25.0',
    accessToken: SANDBOX_ACCESS_TOKEN,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
  });
}
