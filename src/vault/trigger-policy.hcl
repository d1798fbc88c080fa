# Least privilege for the onboarding trigger with GRAPH_TOKEN_SOURCE=vault (rendered by
# src/vault/apply-worker-access.ts with the KV mount and the Graph token prefix). The trigger lists
# a WABA's numbers with the tenant's token: it reads the WABA index (which tenant a WABA is) and the
# tenants' tokens. It never sees a PIN, writes nothing, lists nothing.
path "{{KV_MOUNT}}/data/{{TOKEN_PREFIX}}/tenants/*" {
  capabilities = ["read"]
}

path "{{KV_MOUNT}}/data/{{TOKEN_PREFIX}}/wabas/*" {
  capabilities = ["read"]
}
