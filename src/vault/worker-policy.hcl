# Least privilege for the onboarding worker (applied by src/vault/apply-worker-access.ts, which
# fills in the KV mount, the PIN prefix and the Graph token prefix). The worker writes one KV v2 version per PIN, reads
# back exactly the version it sends to Meta, and records pending/active versions in the key's
# custom metadata. It cannot list, delete, undelete or destroy anything, and sees nothing
# outside the PIN prefix.

# PIN versions: write with check-and-set ("create" for a new key, "update" for a new version),
# read a given version.
path "{{KV_MOUNT}}/data/{{PIN_PREFIX}}/*" {
  capabilities = ["create", "update", "read"]
}

# Key metadata: current version (for check-and-set) and custom_metadata active/pending
# versions, changed with a JSON merge patch ("patch"), or read-merge-write on older servers.
path "{{KV_MOUNT}}/metadata/{{PIN_PREFIX}}/*" {
  capabilities = ["create", "update", "read", "patch"]
}

# Graph tokens (GRAPH_TOKEN_SOURCE=vault): each tenant's token, read when a Graph call is made.
# Read only, current version only: the worker never writes, lists or sees the WABA index.
path "{{KV_MOUNT}}/data/{{TOKEN_PREFIX}}/tenants/*" {
  capabilities = ["read"]
}

# The worker's own token: renew it before it expires, look it up, give it up on shutdown.
path "auth/token/renew-self" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/revoke-self" {
  capabilities = ["update"]
}
