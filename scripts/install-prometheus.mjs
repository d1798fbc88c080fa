#!/usr/bin/env node
// Installs Prometheus (with promtool) from Debian's packages when it is missing: the alert rules
// in deploy/ are checked by promtool and exercised by a real Prometheus in the tests. A machine
// that already has both binaries is left as it is; a second run only asks them their version.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';

// Debian bookworm's build; when the archive has moved on, apt's current candidate is taken.
export const PROMETHEUS_DEBIAN_VERSION = '2.42.0+ds-5+deb12u1';
const BINARIES = ['prometheus', 'promtool'];
const POLICY_RC_D = '/usr/sbin/policy-rc.d';

function fail(message) {
  console.error(`install-prometheus: ${message}`);
  process.exit(1);
}

function versionOf(binary) {
  const run = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (run.status !== 0) return undefined;
  return /version (\S+)/.exec(`${run.stdout}${run.stderr}`)?.[1] ?? 'unknown';
}

const present = BINARIES.map(versionOf);
if (present.every((v) => v !== undefined)) process.exit(0);

if (process.platform !== 'linux' || !existsSync('/usr/bin/apt-get')) {
  fail(
    'prometheus and promtool are needed for the alert-rule tests: install Prometheus 2.42 or later ' +
      '(both binaries on PATH), then run this again.',
  );
}
if (process.getuid?.() !== 0) {
  fail('prometheus and promtool are missing: run "sudo apt-get install -y prometheus", then this again.');
}

// apt's progress goes to a person only when it fails.
const apt = (args) => {
  const run = spawnSync('apt-get', args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (run.status !== 0) process.stderr.write(`${run.stdout}${run.stderr}`);
  return run.status === 0;
};
const candidate = () =>
  /Candidate: (\S+)/.exec(
    spawnSync('apt-cache', ['policy', 'prometheus'], { encoding: 'utf8' }).stdout ?? '',
  )?.[1];

if (!candidate() || candidate() === '(none)') apt(['update', '-qq']);
const available = candidate();
if (!available || available === '(none)') {
  fail('apt knows no "prometheus" package: check /etc/apt/sources.list, then run this again.');
}
const pin =
  available === PROMETHEUS_DEBIAN_VERSION ? `prometheus=${PROMETHEUS_DEBIAN_VERSION}` : 'prometheus';
if (pin === 'prometheus') {
  console.error(
    `install-prometheus: Debian offers prometheus ${available}, not ${PROMETHEUS_DEBIAN_VERSION}; installing that.`,
  );
}
console.error(`install-prometheus: apt-get install ${pin}`);

// The package would start a system-wide Prometheus on :9090; tests start their own, so keep
// the service stopped (the same guard Debian's container images ship).
const guard = !existsSync(POLICY_RC_D);
if (guard) writeFileSync(POLICY_RC_D, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
let installed;
try {
  installed = apt(['install', '-y', '-qq', '--no-install-recommends', pin]);
} finally {
  if (guard) rmSync(POLICY_RC_D, { force: true });
}
if (!installed) fail(`"apt-get install ${pin}" failed (see above).`);
const after = BINARIES.map(versionOf);
if (after.some((v) => v === undefined))
  fail('the package installed, but prometheus or promtool does not run.');
console.error(`install-prometheus: ready (prometheus ${after[0]}).`);
