// TLS to the vault, configured the way Vault's and OpenBao's own CLIs read it: VAULT_CACERT (a PEM
// bundle), VAULT_CAPATH (a directory of PEM files), VAULT_CLIENT_CERT + VAULT_CLIENT_KEY (mutual
// TLS), VAULT_TLS_SERVER_NAME (SNI and the name checked), VAULT_SKIP_VERIFY (loopback only).
// Files are read and checked at start-up, and one unauthenticated request proves the chain before
// the worker takes work: a wrong CA is a configuration error naming the variable, not hours of
// retried activities.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { ConfigError, EnvReader, type Env } from '../config/env-reader';

/** What the undici Agent's `connect` takes; kept with which variables produced it. */
export interface VaultTls {
  connect: ConnectionOptions;
  /** The variable to name when the server's certificate does not verify. */
  trustVariable: 'VAULT_CACERT' | 'VAULT_CAPATH' | 'system CAs';
  clientCertificate: boolean;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const TRUTHY = new Set(['1', 'true', 't', 'yes', 'y']);
const FALSY = new Set(['0', 'false', 'f', 'no', 'n']);

function readFile(variable: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      variable,
      `cannot be read: ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/** Every certificate in a PEM text, each parsed, so a broken bundle fails here and not at connect. */
function certificates(variable: string, where: string, pem: string): string[] {
  const found = pem.match(PEM_CERTIFICATE) ?? [];
  for (const cert of found) {
    try {
      new X509Certificate(cert);
    } catch (err) {
      throw new ConfigError(
        variable,
        `holds a certificate that does not parse (${where}): ${(err as Error).message}`,
      );
    }
  }
  return found;
}

function caFromPath(dir: string): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new ConfigError('VAULT_CAPATH', `is not a directory: ${dir}`);
    names = readdirSync(dir).sort();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(
      'VAULT_CAPATH',
      `cannot be read: ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const certs: string[] = [];
  for (const name of names) {
    const file = join(dir, name);
    if (!statSync(file).isFile()) continue;
    certs.push(...certificates('VAULT_CAPATH', file, readFile('VAULT_CAPATH', file)));
  }
  if (certs.length === 0) throw new ConfigError('VAULT_CAPATH', `holds no PEM certificate: ${dir}`);
  return certs;
}

function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

/** The TLS settings for `address`, or undefined for plain HTTP without any TLS variable. */
export function loadVaultTls(env: Env, address: string): VaultTls | undefined {
  const read = new EnvReader(env);
  const caCert = read.optional('VAULT_CACERT');
  const caPath = read.optional('VAULT_CAPATH');
  const clientCert = read.optional('VAULT_CLIENT_CERT');
  const clientKey = read.optional('VAULT_CLIENT_KEY');
  const serverName = read.optional('VAULT_TLS_SERVER_NAME');
  const skipRaw = read.optional('VAULT_SKIP_VERIFY')?.toLowerCase();
  const url = new URL(address);
  const https = url.protocol === 'https:';

  const given = Object.entries({
    VAULT_CACERT: caCert,
    VAULT_CAPATH: caPath,
    VAULT_CLIENT_CERT: clientCert,
    VAULT_CLIENT_KEY: clientKey,
    VAULT_TLS_SERVER_NAME: serverName,
  }).find(([, v]) => v !== undefined);
  if (!https) {
    if (given) {
      throw new ConfigError(
        given[0],
        `is set but VAULT_ADDR (${address}) is plain http://: use https:// for TLS`,
      );
    }
    return undefined;
  }

  let skipVerify = false;
  if (skipRaw !== undefined) {
    if (!TRUTHY.has(skipRaw) && !FALSY.has(skipRaw)) {
      throw new ConfigError('VAULT_SKIP_VERIFY', `must be true or false (got "${skipRaw}")`);
    }
    skipVerify = TRUTHY.has(skipRaw);
  }
  if (skipVerify && !isLoopbackHost(url.hostname)) {
    throw new ConfigError(
      'VAULT_SKIP_VERIFY',
      `is refused for ${url.hostname}: PINs would go to whoever answers. Give the vault's CA in VAULT_CACERT (or VAULT_CAPATH) instead; skipping verification is allowed on loopback only`,
    );
  }

  const connect: ConnectionOptions = {};
  let trustVariable: VaultTls['trustVariable'] = 'system CAs';
  if (caCert !== undefined) {
    const ca = certificates('VAULT_CACERT', caCert, readFile('VAULT_CACERT', caCert));
    if (ca.length === 0) throw new ConfigError('VAULT_CACERT', `holds no PEM certificate: ${caCert}`);
    connect.ca = ca;
    trustVariable = 'VAULT_CACERT';
  } else if (caPath !== undefined) {
    connect.ca = caFromPath(caPath);
    trustVariable = 'VAULT_CAPATH';
  }

  if ((clientCert === undefined) !== (clientKey === undefined)) {
    const missing = clientCert === undefined ? 'VAULT_CLIENT_CERT' : 'VAULT_CLIENT_KEY';
    const present = clientCert === undefined ? 'VAULT_CLIENT_KEY' : 'VAULT_CLIENT_CERT';
    throw new ConfigError(
      missing,
      `is not set but ${present} is: mutual TLS needs both the certificate and its key`,
    );
  }
  if (clientCert !== undefined && clientKey !== undefined) {
    const certPem = readFile('VAULT_CLIENT_CERT', clientCert);
    const keyPem = readFile('VAULT_CLIENT_KEY', clientKey);
    const [leaf] = certificates('VAULT_CLIENT_CERT', clientCert, certPem);
    if (!leaf) throw new ConfigError('VAULT_CLIENT_CERT', `holds no PEM certificate: ${clientCert}`);
    let key;
    try {
      key = createPrivateKey(keyPem);
    } catch (err) {
      throw new ConfigError(
        'VAULT_CLIENT_KEY',
        `is not a readable private key (${clientKey}): ${(err as Error).message}`,
      );
    }
    if (!new X509Certificate(leaf).checkPrivateKey(key)) {
      throw new ConfigError(
        'VAULT_CLIENT_KEY',
        `does not belong to the certificate in VAULT_CLIENT_CERT (${clientCert})`,
      );
    }
    connect.cert = certPem;
    connect.key = keyPem;
  }
  if (serverName !== undefined) connect.servername = serverName;
  if (skipVerify) connect.rejectUnauthorized = false;
  return { connect, trustVariable, clientCertificate: clientCert !== undefined };
}

/**
 * One TLS handshake and one plain HTTP request (GET /v1/sys/health) on a raw socket, so that what
 * the server says in the handshake reaches us as it is: under TLS 1.3 a vault refusing a client
 * certificate sends its alert after the handshake, which an HTTP client only sees as "closed".
 */
export function probeVaultTls(address: string, tls: VaultTls, timeoutMs: number): Promise<void> {
  const url = new URL(address);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 443);
  return new Promise((resolveProbe, reject) => {
    let answered = false;
    const socket = tlsConnect({
      host,
      port,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      ...tls.connect,
      ALPNProtocols: ['http/1.1'],
    });
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () =>
      fail(Object.assign(new Error(`no TLS answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
    );
    socket.once('secureConnect', () => {
      socket.write(`GET /v1/sys/health HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
    });
    socket.once('data', () => {
      answered = true;
      socket.destroy();
      resolveProbe();
    });
    socket.once('error', fail);
    socket.once('close', () => {
      if (!answered)
        reject(Object.assign(new Error('the vault closed the connection'), { code: 'ECONNRESET' }));
    });
  });
}

/** OpenSSL's and Node's codes for "the server's certificate is not one we trust". */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

function causeCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string' && !e.code.startsWith('Vault')) return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

/**
 * Turns a failed first contact into a configuration error when TLS is why: which variable to fix
 * and what the handshake said. Other failures (the vault is down) are left to the retries.
 */
export function vaultTlsProblem(
  err: unknown,
  tls: VaultTls | undefined,
  address: string,
): ConfigError | undefined {
  const code = causeCode(err);
  if (code === undefined) return undefined;
  if (UNTRUSTED.has(code)) {
    const hint =
      tls?.trustVariable === 'system CAs'
        ? 'set VAULT_CACERT to the PEM file of the CA that issued it'
        : 'check that it holds the CA that issued the vault certificate';
    return new ConfigError(
      tls?.trustVariable === 'VAULT_CAPATH' ? 'VAULT_CAPATH' : 'VAULT_CACERT',
      `does not verify the certificate of the vault at ${address} (${code}): ${hint}`,
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new ConfigError(
      'VAULT_TLS_SERVER_NAME',
      `${tls?.connect.servername ? `(${tls.connect.servername})` : 'is not set, and the host of VAULT_ADDR'} is not a name in the vault certificate at ${address}: set it to one the certificate names`,
    );
  }
  if (/CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|HANDSHAKE_FAILURE/.test(code)) {
    return new ConfigError(
      'VAULT_CLIENT_CERT',
      tls?.clientCertificate
        ? `was refused by the vault at ${address} (${code}): it must be issued by a CA the vault listener trusts (tls_client_ca_file)`
        : `is not set, and the vault at ${address} requires a client certificate (${code}): set VAULT_CLIENT_CERT and VAULT_CLIENT_KEY`,
    );
  }
  return undefined;
}
