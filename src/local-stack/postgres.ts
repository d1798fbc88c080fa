// A real PostgreSQL server (Debian's binaries) in a private data folder, on 127.0.0.1 and a port
// of the caller's choosing, for the production-shaped stack. The superuser is `temporal` with a
// generated password, as the compose file's postgres image sets POSTGRES_USER/POSTGRES_PASSWORD.
// PostgreSQL refuses to run as root: started as root, it runs as the `postgres` system user.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { assertPortFree, spawnManaged, waitUntil, type ManagedProcess } from './processes';
import { postgresBinary } from './production-binaries';
import { codedErrorClass } from '../cli/coded-error';

const run = promisify(execFile);

export const POSTGRES_USER = 'temporal';

export interface PostgresOptions {
  port: number;
  /** The folder this server owns: the cluster (`cluster/`) and the superuser's password file. */
  dataDir: string;
  logFile?: string;
  /**
   * Temporal opens up to 30 connections per process (20 for history data, 10 for visibility);
   * four service processes plus the schema tool need more than PostgreSQL's default 100.
   */
  maxConnections?: number;
}

export interface PostgresServer extends ManagedProcess {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly dataDir: string;
  /** One SQL statement through psql; returns its unaligned, tuples-only output. */
  query(database: string, sql: string): Promise<string>;
}

export class PostgresSetupError extends codedErrorClass('POSTGRES_SETUP') {}

interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

/** Who the server runs as: this process's user, or `postgres` when this is root. */
function runAs(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const name = process.env.PG_RUN_AS_USER ?? 'postgres';
  const id = (flag: string) => spawnSync('id', [flag, name], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) {
    throw new PostgresSetupError(
      `PostgreSQL cannot run as root and there is no "${name}" user to run it as: install Debian's postgresql package (it creates one) or set PG_RUN_AS_USER`,
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()), name };
}

/** Fails early with the fix when the server's user cannot reach its own folder. */
function assertReachable(dir: string, user: RunAs): void {
  const probe = spawnSync('test', ['-w', dir], { uid: user.uid, gid: user.gid });
  if (probe.status !== 0) {
    throw new PostgresSetupError(
      `PostgreSQL runs as "${user.name}" (it refuses root) and cannot write to ${dir}: make every parent folder ` +
        'traversable by it (chmod o+x) or choose a data folder elsewhere, e.g. under /var/tmp',
    );
  }
}

function readOrCreatePassword(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(24).toString('base64url');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/** Starts PostgreSQL (first run: initdb) and waits until it accepts connections. */
export async function startPostgres(opts: PostgresOptions): Promise<PostgresServer> {
  await assertPortFree(opts.port, 'PostgreSQL');
  const dataDir = resolve(opts.dataDir);
  const clusterDir = join(dataDir, 'cluster');
  const user = runAs();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const passwordFile = join(dataDir, 'superuser-password');
  const password = readOrCreatePassword(passwordFile);
  if (user) {
    chownSync(dataDir, user.uid, user.gid);
    chownSync(passwordFile, user.uid, user.gid);
    assertReachable(dataDir, user);
  }
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};

  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    const init = spawnSync(
      postgresBinary('initdb'),
      [
        '-D',
        clusterDir,
        '-U',
        POSTGRES_USER,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
      ],
      { encoding: 'utf8', ...asUser },
    );
    if (init.status !== 0) {
      const detail = (init.stderr || init.stdout || '').trim().split('\n').at(-1) ?? '';
      throw new PostgresSetupError(`initdb failed for ${clusterDir}: ${detail}`);
    }
  }

  const proc = spawnManaged({
    name: 'postgresql',
    command: postgresBinary('postgres'),
    args: [
      '-D',
      clusterDir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `port=${opts.port}`,
      // TCP only: no socket file in a shared folder such as /var/run/postgresql.
      '-c',
      'unix_socket_directories=',
      '-c',
      `max_connections=${opts.maxConnections ?? 250}`,
    ],
    env: { ...process.env, PGPASSWORD: undefined },
    logFile: opts.logFile,
    // SIGTERM is PostgreSQL's "smart" shutdown, which waits for every client (Temporal never
    // leaves); SIGINT is the "fast" one: roll back open transactions, checkpoint, exit.
    stopSignal: 'SIGINT',
    ...asUser,
  });
  const host = '127.0.0.1';
  await waitUntil(
    'PostgreSQL',
    proc,
    () => run(postgresBinary('pg_isready'), ['-h', host, '-p', String(opts.port), '-q']).then(() => true),
    60_000,
  );
  return Object.assign(proc, {
    host,
    port: opts.port,
    user: POSTGRES_USER,
    password,
    dataDir,
    async query(database: string, sql: string): Promise<string> {
      const { stdout } = await run(
        postgresBinary('psql'),
        ['-h', host, '-p', String(opts.port), '-U', POSTGRES_USER, '-d', database, '-tAX', '-c', sql],
        { env: { ...process.env, PGPASSWORD: password } },
      );
      return stdout.trim();
    },
  });
}
