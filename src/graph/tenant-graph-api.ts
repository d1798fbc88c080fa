// The Graph calls the activities make, each with the token of the tenant named in its input: the
// activities stay unaware of where tokens come from, and a plain GraphClient (one token for all)
// still fits wherever this is expected.
import type { GraphApi } from './graph-client';
import type { TenantGraph } from './tenant-graph';

type WithTenant<F> = F extends (input: infer I) => infer R ? (input: I & { tenant?: string }) => R : never;

/** GraphApi whose inputs may name the number's tenant. */
export type TenantGraphApi = { [K in keyof GraphApi]: WithTenant<GraphApi[K]> };

const GRAPH_API_METHODS = [
  'setTwoStepPin',
  'registerPhoneNumber',
  'getPhoneNumber',
] as const satisfies readonly (keyof GraphApi)[];
// A Graph call added to GraphApi but not listed here would go out with no tenant's token: no compile.
type Unlisted = Exclude<keyof GraphApi, (typeof GRAPH_API_METHODS)[number]>;
const _everyGraphCallIsListed: [Unlisted] extends [never] ? true : { unlisted: Unlisted } = true;

export function tenantGraphApi(graph: TenantGraph): TenantGraphApi {
  const api: Partial<Record<keyof GraphApi, unknown>> = {};
  for (const name of GRAPH_API_METHODS) {
    api[name] = ({ tenant, ...input }: { tenant?: string }) =>
      graph.call(tenant, (client) => (client[name] as (i: unknown) => Promise<unknown>)(input));
  }
  return api as TenantGraphApi;
}
