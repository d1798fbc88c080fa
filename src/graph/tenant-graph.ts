// Graph calls made with the right tenant's token: the token source picks the credential when the
// call is made, and when Meta refuses it (190 expired or invalid, 200-299 not allowed on this WABA)
// the error names where that token lives, so the operator rotates the right one, and the cached
// copy is dropped so the next attempt reads the vault again.
import type { GraphClient, ListPhoneNumbersInput, PhoneNumberSummary } from './graph-client';
import { GraphError, GRAPH_FAILURE_TYPES, isGraphError } from './graph-errors';
import { ENV_TOKEN_ORIGIN, type GraphCredential, type GraphTokenSource } from './graph-token-source';

export interface TenantGraph {
  readonly tokens: GraphTokenSource;
  /** Runs `work` with a Graph client holding the tenant's token. */
  call<T>(tenant: string | undefined, work: (client: GraphClient) => Promise<T>): Promise<T>;
  /** A WABA's numbers, listed with the tenant's token (the trigger's PARTNER_ADDED and security). */
  listPhoneNumbers(input: ListPhoneNumbersInput & { tenant?: string }): Promise<PhoneNumberSummary[]>;
}

export interface TenantGraphOptions {
  tokens: GraphTokenSource;
  /** A Graph client calling with this token (cheap: the connection pool is shared). */
  clientFor(token: string): GraphClient;
}

const REFUSED_TOKEN_TYPES: ReadonlySet<string> = new Set([
  GRAPH_FAILURE_TYPES.GraphAuthError,
  GRAPH_FAILURE_TYPES.GraphPermissionError,
]);

/** What to tell the operator about the token Meta refused. */
export function refusedTokenHint(credential: GraphCredential, type: string): string {
  const whose = credential.tenant ? `tenant "${credential.tenant}"'s token` : 'the token';
  if (credential.origin === ENV_TOKEN_ORIGIN) {
    return type === GRAPH_FAILURE_TYPES.GraphAuthError
      ? 'Meta refused GRAPH_ACCESS_TOKEN: give the workers a valid one and restart them, then send retry'
      : "GRAPH_ACCESS_TOKEN may not act on this WABA: with an App-Only install only the client business's own token can (GRAPH_TOKEN_SOURCE=vault)";
  }
  return type === GRAPH_FAILURE_TYPES.GraphAuthError
    ? `Meta refused ${whose} from vault ${credential.origin}: put a valid one there (no restart needed), then send retry`
    : `${whose} from vault ${credential.origin} may not act on this number: grant its system user the WABA, or put the right tenant's token there, then send retry`;
}

export function createTenantGraph(opts: TenantGraphOptions): TenantGraph {
  // One client per tenant, replaced when the tenant's token changes.
  const clients = new Map<string, { token: string; client: GraphClient }>();

  function clientOf(credential: GraphCredential): GraphClient {
    const key = credential.tenant ?? '';
    const known = clients.get(key);
    if (known?.token === credential.token) return known.client;
    const client = opts.clientFor(credential.token);
    clients.set(key, { token: credential.token, client });
    return client;
  }

  const graph: TenantGraph = {
    tokens: opts.tokens,
    listPhoneNumbers: ({ tenant, ...input }) => graph.call(tenant, (c) => c.listPhoneNumbers(input)),
    async call(tenant, work) {
      const credential = await opts.tokens.credentialFor(tenant);
      try {
        return await work(clientOf(credential));
      } catch (err) {
        if (!isGraphError(err) || !REFUSED_TOKEN_TYPES.has(err.type)) throw err;
        opts.tokens.forget(tenant);
        throw new GraphError({
          type: err.type,
          retryable: err.retryable,
          message: `${err.message} (${refusedTokenHint(credential, err.type)})`,
          httpStatus: err.httpStatus,
          graphCode: err.graphCode,
          graphSubcode: err.graphSubcode,
          fbtraceId: err.fbtraceId,
          isTransient: err.isTransient,
          details: err.details,
          userTitle: err.userTitle,
          userMessage: err.userMessage,
          ...(credential.origin !== ENV_TOKEN_ORIGIN ? { tokenPath: credential.origin } : {}),
          cause: err,
        });
      }
    },
  };
  return graph;
}
