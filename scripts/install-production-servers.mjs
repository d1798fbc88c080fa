#!/usr/bin/env node
// Builds the production-shaped Temporal parts from the Go module proxy, at the versions pinned in
// scripts/production-servers.json (the compose file pins the same ones; a test holds them
// together): the Temporal server, its schema tool (temporal-sql-tool), the Web UI server, the
// PostgreSQL schema files and the UI's config template. They go into a versioned folder under
// .servers/ (git-ignored); a second run only reads one stamp file. PostgreSQL itself comes from
// Debian: installed with apt-get when missing and this runs as root.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pins = JSON.parse(readFileSync(join(root, 'scripts', 'production-servers.json'), 'utf8'));
const serversDir = process.env.SERVERS_DIR ?? join(root, '.servers');
const installDir = join(
  serversDir,
  'temporal-production',
  `server-${pins.temporalServer}-ui-${pins.temporalUi}`,
);
const stampFile = join(installDir, 'installed.json');
const wanted = JSON.stringify(pins);
const BINARIES = ['temporal-server', 'temporal-sql-tool', 'temporal-ui-server'];

function fail(message) {
  console.error(`install-production-servers: ${message}`);
  process.exit(1);
}

function say(message) {
  console.error(`install-production-servers: ${message}`);
}

/** Debian's layout: /usr/lib/postgresql/<major>/bin; PG_BIN_DIR overrides it. */
function postgresBinDir() {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  return join('/usr/lib/postgresql', pins.postgresqlMajor, 'bin');
}

function ensurePostgres() {
  const bin = postgresBinDir();
  if (['initdb', 'postgres', 'pg_isready'].every((b) => existsSync(join(bin, b)))) return;
  const pkg = `postgresql-${pins.postgresqlMajor}`;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt || process.env.PG_BIN_DIR) {
    fail(
      `PostgreSQL ${pins.postgresqlMajor} is not installed (no initdb/postgres in ${bin}): ` +
        `install it (Debian: apt-get install ${pkg}) or point PG_BIN_DIR at its bin folder, then run this again.`,
    );
  }
  say(`PostgreSQL ${pins.postgresqlMajor} is missing: apt-get install ${pkg}`);
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  if (!install()) {
    // A fresh machine may have no package lists yet.
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    if (!install())
      fail(`apt-get install ${pkg} failed (see above); install it by hand, then run this again.`);
  }
  if (!existsSync(join(bin, 'initdb'))) fail(`${pkg} installed but ${join(bin, 'initdb')} is missing.`);
}

ensurePostgres();

if (
  existsSync(stampFile) &&
  readFileSync(stampFile, 'utf8') === wanted &&
  BINARIES.every((b) => existsSync(join(installDir, 'bin', b)))
) {
  process.exit(0);
}

// `go` on the PATH, else where the official tarball puts it (a non-login shell may lack its PATH).
const goBinary = [process.env.GO_BINARY, 'go', '/usr/local/go/bin/go'].find(
  (candidate) => candidate && spawnSync(candidate, ['version'], { stdio: 'ignore' }).status === 0,
);
if (!goBinary) {
  fail(
    'Go 1.21 or newer is needed to build the Temporal server and is not on the PATH: install Go ' +
      '(the official tarball installs into /usr/local/go/bin) or set GO_BINARY, then run this again.',
  );
}
const goVersion = spawnSync(goBinary, ['env', 'GOVERSION'], {
  encoding: 'utf8',
  env: { ...process.env, GOTOOLCHAIN: 'local' },
});
const goMinor = /^go1\.(\d+)/.exec(goVersion.stdout?.trim() ?? '')?.[1];
if (goVersion.status !== 0 || goMinor === undefined || Number(goMinor) < 21) {
  fail(
    'Go 1.21 or newer is needed to build the Temporal server (it fetches the pinned ' +
      `${pins.goToolchain} toolchain by itself through GOTOOLCHAIN): install Go, then run this again.`,
  );
}

const workDir = `${installDir}.partial`;
// The Go caches live beside the install and are removed after a successful build: about 3 GB
// that nothing needs once the binaries exist.
const cacheDir = join(serversDir, 'temporal-production', 'go-cache');
rmSync(workDir, { recursive: true, force: true });
mkdirSync(join(workDir, 'bin'), { recursive: true });
const goEnv = {
  ...process.env,
  GOTOOLCHAIN: pins.goToolchain,
  GOMODCACHE: join(cacheDir, 'mod'),
  GOCACHE: join(cacheDir, 'build'),
  GOPATH: join(cacheDir, 'gopath'),
  GOBIN: join(workDir, 'bin'),
  GOFLAGS: '-mod=mod',
  // Static binaries, as Temporal's own images are built; no C compiler needed.
  CGO_ENABLED: '0',
};

function go(args, what) {
  const t0 = Date.now();
  const res = spawnSync(goBinary, args, { env: goEnv, stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.status !== 0) {
    fail(
      `${what} failed (go ${args.join(' ')}); it needs the Go module proxy. Fix that, then run this again.`,
    );
  }
  say(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** `go install` names a binary after its package folder: rename each right after its build. */
function install(pkg, version, name) {
  go(['install', `${pkg}@v${version}`], `built ${name} ${version}`);
  const built = join(workDir, 'bin', pkg.split('/').at(-1));
  renameSync(built, join(workDir, 'bin', name));
}

function moduleDir(module, version) {
  const res = spawnSync(goBinary, ['mod', 'download', '-json', `${module}@v${version}`], {
    env: goEnv,
    encoding: 'utf8',
  });
  if (res.status !== 0) fail(`go mod download ${module}@v${version} failed:\n${res.stderr}`);
  return JSON.parse(res.stdout).Dir;
}

const started = Date.now();
say(
  `building Temporal server ${pins.temporalServer}, its schema tool and UI server ${pins.temporalUi} ` +
    `with GOTOOLCHAIN=${pins.goToolchain} into ${installDir} (about 3 minutes on 2 cores, once)`,
);
install('go.temporal.io/server/cmd/server', pins.temporalServer, 'temporal-server');
install('go.temporal.io/server/cmd/tools/sql', pins.temporalServer, 'temporal-sql-tool');
install('github.com/temporalio/ui-server/v2/cmd/server', pins.temporalUi, 'temporal-ui-server');

// The schema the server version expects ships in its module; the UI image's config template in
// the UI server's module (the image runs `ui-server --env docker start` over config/docker.yaml).
const serverModule = moduleDir('go.temporal.io/server', pins.temporalServer);
cpSync(join(serverModule, 'schema', 'postgresql', 'v12'), join(workDir, 'schema', 'postgresql', 'v12'), {
  recursive: true,
});
const uiModule = moduleDir('github.com/temporalio/ui-server/v2', pins.temporalUi);
mkdirSync(join(workDir, 'ui-config'), { recursive: true });
cpSync(join(uiModule, 'config', 'docker.yaml'), join(workDir, 'ui-config', 'docker.yaml'));
for (const schema of ['temporal', 'visibility']) {
  if (!existsSync(join(workDir, 'schema', 'postgresql', 'v12', schema, 'versioned'))) {
    fail(`the server module has no schema/postgresql/v12/${schema}/versioned migrations`);
  }
}

const version = spawnSync(join(workDir, 'bin', 'temporal-server'), ['--version'], { encoding: 'utf8' });
if (version.status !== 0 || !version.stdout.includes(pins.temporalServer)) {
  fail(`the built temporal-server does not report version ${pins.temporalServer}: ${version.stdout}`);
}
writeFileSync(join(workDir, 'installed.json'), wanted);
rmSync(installDir, { recursive: true, force: true });
renameSync(workDir, installDir);
if (!process.env.KEEP_GO_CACHE) {
  spawnSync(goBinary, ['clean', '-modcache'], { env: { ...goEnv, GOTOOLCHAIN: 'local' }, stdio: 'ignore' });
  rmSync(cacheDir, { recursive: true, force: true });
}
say(`ready in ${((Date.now() - started) / 1000).toFixed(0)} s (${version.stdout.trim()}).`);
