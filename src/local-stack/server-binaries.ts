import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root (this file lives in src/local-stack/). */
export const projectRoot = resolve(__dirname, '..', '..');

/** Git-ignored folder for server binaries, installed by scripts/install-servers.mjs. */
export const serversDir = process.env.SERVERS_DIR ?? join(projectRoot, '.servers');

/** Git-ignored folder for local state: the dev server's database, the local sealing key. */
export const dataDir = process.env.LOCAL_DATA_DIR ?? join(projectRoot, '.data');

export type ServerBinary = 'temporal' | 'temporal-test-server' | 'bao';

export function serverBinary(name: ServerBinary): string {
  const path = join(serversDir, 'venv', 'bin', name);
  if (!existsSync(path)) {
    throw new Error(`${name} is not installed at ${path}: run "npm run setup:servers" first.`);
  }
  return path;
}
