#!/usr/bin/env node
// Installs Debian's Chromium for the browser test (test/ui/), when it is missing. playwright-core
// never downloads a browser here (there is no internet beyond the package registries), so the
// test drives the distribution's own build at /usr/bin/chromium.
//
// Exit codes: 0 when Chromium is there (or was installed); 0 with a loud warning when it cannot be
// installed on a developer's machine (the browser test then skips, loudly); 1 in that case under
// CI=true, so a CI run can never pass without the browser test having run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const inCi = /^(1|true|yes)$/i.test(process.env.CI ?? '');

function run(command, args) {
  console.error(`install-chromium: ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return result.status === 0;
}

function giveUp(reason) {
  const line = `install-chromium: ${reason}`;
  if (inCi) {
    console.error(`${line}; CI needs the browser test, failing.`);
    process.exit(1);
  }
  console.error('!'.repeat(100));
  console.error(`${line}. The browser test (test/ui/engineer-day.test.ts) will SKIP.`);
  console.error('Install it yourself (Debian/Ubuntu: apt-get update && apt-get install -y chromium).');
  console.error('!'.repeat(100));
  process.exit(0);
}

if (existsSync(CHROMIUM_PATH)) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasAptGet = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasAptGet) giveUp(`${CHROMIUM_PATH} is missing and there is no apt-get to install it with`);
const sudo = isRoot ? [] : ['sudo', '-n'];
const [command, ...prefix] = [...sudo, 'apt-get'];
if (!run(command, [...prefix, 'update'])) giveUp('apt-get update failed');
if (!run(command, [...prefix, 'install', '-y', 'chromium'])) {
  giveUp('apt-get install chromium failed');
}
if (!existsSync(CHROMIUM_PATH)) giveUp(`apt-get installed chromium, but ${CHROMIUM_PATH} is not there`);
console.error(`install-chromium: ${CHROMIUM_PATH} installed`);
