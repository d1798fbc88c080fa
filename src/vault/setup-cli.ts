// Administrator's command: give the worker its least-privilege AppRole on a vault, then hand
// over the credentials. The role id is printed (useless without a secret id); the secret id
// goes to a file only its owner can read, or to the terminal only when explicitly asked.
import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';
import type { CliIo } from '../cli/cli-io';
import { EXIT_OK } from '../cli/exit-code-policy';
import { parseFlags } from '../cli/parse-flags';
import { runCommand, runMain } from '../cli/run-main';
import { UsageError } from '../cli/usage-error';
import { EnvReader } from '../config/env-reader';
import { loadGraphTokenConfig } from '../graph/graph-token-config';
import { DEFAULT_WORKER_ROLE_NAME, applyWorkerAccess } from './apply-worker-access';
import { loadVaultLocation } from './vault-config';
import { loadVaultTls } from './vault-tls';

const USAGE = `Usage: tsx src/vault/setup-cli.ts [options]

Creates (or updates) the worker's least-privilege vault access: the ACL policy from
src/vault/worker-policy.hcl for the PIN prefix, the AppRole auth method if missing, and a
role whose tokens carry only that policy; then issues a fresh secret id.

Environment:
  VAULT_ADDR        the vault (required)
  VAULT_TOKEN       an administrator's token (required; used for this command only)
  VAULT_NAMESPACE   optional namespace
  VAULT_KV_MOUNT    KV v2 mount of the PINs (default: secret)
  VAULT_PIN_PREFIX  prefix of the PINs (default: whatsapp/two-step-pins)
  VAULT_GRAPH_TOKEN_PREFIX  prefix of the tenants' Graph tokens, read-only for the worker
                    (default: whatsapp/graph-tokens; only {prefix}/tenants/* is readable)

Options:
  --role-name NAME        role and policy name (default: ${DEFAULT_WORKER_ROLE_NAME})
  --approle-mount PATH    where AppRole is (or gets) enabled (default: approle)
  --secret-id-file FILE   write the new secret id to FILE with mode 600
  --print-secret-id       print the new secret id on stdout instead
  -h, --help              this text

One of --secret-id-file or --print-secret-id is required. Give the worker
VAULT_ROLE_ID and VAULT_SECRET_ID (or VAULT_SECRET_ID_FILE pointing at the file).`;

/** Runs the command; returns the process exit code (0 ok, 1 vault failure, 2 usage/config). */
export function runSetupCli(io: CliIo): Promise<number> {
  return runCommand('vault-setup', io, setup);
}

async function setup(io: CliIo): Promise<number> {
  const { values } = parseFlags(io, {
    strings: 'role-name approle-mount secret-id-file',
    booleans: 'print-secret-id',
    help: USAGE,
  });
  const secretIdFile = values['secret-id-file'];
  const printSecretId = values['print-secret-id'] === true;
  if (!secretIdFile && !printSecretId) {
    throw new UsageError(
      'say where the secret id goes: --secret-id-file FILE (mode 600) or --print-secret-id',
    );
  }
  const { address, namespace, kvMount: mount, pinPrefix: prefix } = loadVaultLocation(io.env);
  const { prefix: tokenPrefix } = loadGraphTokenConfig(io.env);
  const rootToken = new EnvReader(io.env).required(
    'VAULT_TOKEN',
    'give an administrator token for this setup',
  );
  const tls = loadVaultTls(io.env, address);
  const access = await applyWorkerAccess({
    address,
    rootToken,
    ...(tls !== undefined ? { tls: tls.connect } : {}),
    mount,
    prefix,
    tokenPrefix,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(values['role-name'] !== undefined ? { roleName: values['role-name'] } : {}),
    ...(values['approle-mount'] !== undefined ? { approleMount: values['approle-mount'] } : {}),
  });
  const out = (line: string) => io.stdout.write(`${line}\n`);
  out(
    `policy "${access.policyName}": ${mount}/data/${prefix}/* and ${mount}/metadata/${prefix}/*, ` +
      `read-only ${mount}/data/${tokenPrefix}/tenants/*`,
  );
  out(`AppRole role "${access.roleName}" at auth/${access.approleMount}`);
  out(`VAULT_ROLE_ID=${access.roleId}`);
  out(`VAULT_APPROLE_MOUNT=${access.approleMount}`);
  if (secretIdFile) {
    writePrivateFile(secretIdFile, `${access.secretId}\n`);
    out(
      `secret id written to ${secretIdFile} (mode 600): give the worker VAULT_SECRET_ID_FILE=${secretIdFile}`,
    );
    out('or its content as VAULT_SECRET_ID; never commit it');
  }
  if (printSecretId) out(`VAULT_SECRET_ID=${access.secretId}`);
  out(`secret id accessor (for revocation): ${access.secretIdAccessor}`);
  return EXIT_OK;
}

/** Owner read/write only, also when the file already existed with wider permissions. */
function writePrivateFile(path: string, content: string): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

if (require.main === module) runMain({ name: 'vault-setup' }, runSetupCli);
