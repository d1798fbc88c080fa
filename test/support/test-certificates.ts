// Certificates made for one test run with openssl: a CA for the vault's server certificate, a CA
// for client certificates, and a stranger CA that trusts nothing of the above. EC P-256, valid
// for two days, written into the directory the test gives.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertificateFiles {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCaCert: string;
  clientCert: string;
  clientKey: string;
  /** A CA that issued neither certificate. */
  strangerCaCert: string;
  /** A client certificate from the stranger CA, which the vault must refuse. */
  strangerClientCert: string;
  strangerClientKey: string;
}

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

// A fresh P-256 key with no passphrase, for each certificate.
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function ca(dir: string, name: string, subject: string): void {
  openssl(
    dir,
    'req',
    '-x509',
    ...NEW_KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${subject}`,
  );
}

function leaf(dir: string, name: string, issuer: string, subject: string, ext: string): void {
  openssl(dir, 'req', ...NEW_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${subject}`);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${issuer}.pem`,
    '-CAkey',
    `${issuer}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  );
}

export function makeCertificates(
  dir: string,
  serverNames: { dns: string[]; ips: string[] },
): CertificateFiles {
  mkdirSync(dir, { recursive: true });
  ca(dir, 'vault-ca', 'test vault CA');
  ca(dir, 'client-ca', 'test client CA');
  ca(dir, 'stranger-ca', 'stranger CA');
  const san = [...serverNames.dns.map((d) => `DNS:${d}`), ...serverNames.ips.map((i) => `IP:${i}`)].join(',');
  leaf(
    dir,
    'server',
    'vault-ca',
    serverNames.dns[0] ?? 'vault',
    `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`,
  );
  leaf(dir, 'client', 'client-ca', 'onboarding-worker', 'extendedKeyUsage=clientAuth\n');
  leaf(dir, 'stranger-client', 'stranger-ca', 'someone', 'extendedKeyUsage=clientAuth\n');
  const f = (n: string) => join(dir, n);
  return {
    caCert: f('vault-ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCaCert: f('client-ca.pem'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    strangerCaCert: f('stranger-ca.pem'),
    strangerClientCert: f('stranger-client.pem'),
    strangerClientKey: f('stranger-client.key'),
  };
}
