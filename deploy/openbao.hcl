# OpenBao for the compose stack: a real server (not dev mode) keeping its data in Raft storage
# on the openbao-data volume. It starts sealed and uninitialised; an operator initialises it
# once and unseals it after every restart (README "Deployment"):
#   docker compose exec openbao bao operator init
#   docker compose exec openbao bao operator unseal      # as many times as the threshold
# Then, with the root token: `bao secrets enable -path=secret kv-v2`, and the worker's
# least-privilege AppRole with `tsx src/vault/setup-cli.ts` (its output is VAULT_ROLE_ID and
# the secret id for VAULT_SECRET_ID). Revoke the root token afterwards.

ui = true

# How clients and (future) peers reach this node on the compose network.
api_addr     = "http://openbao:8200"
cluster_addr = "https://openbao:8201"

storage "raft" {
  path    = "/openbao/file"
  node_id = "openbao-1"
}

listener "tcp" {
  address         = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"
  # TLS belongs here in production: mount a certificate and key, set tls_cert_file and
  # tls_key_file, and give the worker an https:// VAULT_ADDR. Off so the stack starts without
  # certificates; the API port is only published on the host's loopback interface.
  tls_disable = true
}
