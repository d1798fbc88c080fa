// Where scripts/install-production-servers.mjs puts the production-shaped Temporal parts (built
// from the Go module proxy at the versions pinned in scripts/production-servers.json), and the
// PostgreSQL binaries Debian installs. Read at run time: the pins file lives outside src/.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MissingServerBinaryError } from './stack';
import { projectRoot, serversDir } from './server-binaries';

export interface ProductionPins {
  goToolchain: string;
  temporalServer: string;
  temporalUi: string;
  postgresqlMajor: string;
}

export const PRODUCTION_PINS_FILE = join(projectRoot, 'scripts', 'production-servers.json');
const INSTALLER = join(projectRoot, 'scripts', 'install-production-servers.mjs');

export function productionPins(): ProductionPins {
  return JSON.parse(readFileSync(PRODUCTION_PINS_FILE, 'utf8')) as ProductionPins;
}

export type ProductionBinary = 'temporal-server' | 'temporal-sql-tool' | 'temporal-ui-server';

/** The versioned install folder: bin/, schema/postgresql/v12/, ui-config/. */
export function productionInstallDir(pins = productionPins()): string {
  return join(serversDir, 'temporal-production', `server-${pins.temporalServer}-ui-${pins.temporalUi}`);
}

export function productionBinDir(): string {
  return join(productionInstallDir(), 'bin');
}

/** The PostgreSQL schema folder the server version ships (`temporal/` and `visibility/`). */
export function temporalSchemaDir(): string {
  return join(productionInstallDir(), 'schema', 'postgresql', 'v12');
}

/** The temporalio/ui image's config template (config/docker.yaml of the UI server module). */
export function uiConfigTemplate(): string {
  return join(productionInstallDir(), 'ui-config', 'docker.yaml');
}

export function postgresBinDir(): string {
  return process.env.PG_BIN_DIR ?? join('/usr/lib/postgresql', productionPins().postgresqlMajor, 'bin');
}

const SETUP_HINT = 'run "npm run setup:production-servers" first (GOTOOLCHAIN builds, about 3 minutes)';

export function productionBinary(name: ProductionBinary): string {
  const path = join(productionBinDir(), name);
  if (!existsSync(path)) throw new MissingServerBinaryError(`${name} is not built at ${path}: ${SETUP_HINT}`);
  return path;
}

export function postgresBinary(name: 'initdb' | 'postgres' | 'pg_isready' | 'psql'): string {
  const path = join(postgresBinDir(), name);
  if (!existsSync(path)) {
    throw new MissingServerBinaryError(
      `PostgreSQL's ${name} is not at ${path}: ${SETUP_HINT} (it installs Debian's postgresql-${productionPins().postgresqlMajor} when root), or set PG_BIN_DIR`,
    );
  }
  return path;
}

/** Throws the one-line error naming what is missing and how to get it. */
export function requireProductionBinaries(): void {
  for (const name of ['temporal-server', 'temporal-sql-tool', 'temporal-ui-server'] as const)
    productionBinary(name);
  for (const name of ['initdb', 'postgres', 'pg_isready'] as const) postgresBinary(name);
}

/** Runs the installer (a no-op reading one stamp file when everything is built). */
export function ensureProductionBinaries(): void {
  const res = spawnSync(process.execPath, [INSTALLER], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.status !== 0) {
    throw new MissingServerBinaryError(`scripts/install-production-servers.mjs failed (exit ${res.status})`);
  }
  requireProductionBinaries();
}
