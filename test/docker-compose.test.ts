// The compose deployment cannot run here (no Docker engine), so its structure is checked
// instead: the services and their start order, the worker's configuration, that no secret is
// written into the file, that the image is built on Node 20 and runs unprivileged, and that
// every file the stack mounts or runs is in the repository.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, inject, it } from 'vitest';
import { startCodecServer } from '../src/codec/codec-server';
import { createKeyring, generateKeyringValue } from '../src/crypto/keyring';
import { freePort } from '../src/local-stack/processes';
import { loadTriggerConfig } from '../src/trigger/trigger-config';
import { runTsx } from './support/process-runner';
import { startWorkerProcess } from './support/worker-process';
import { projectRoot } from '../src/local-stack/server-binaries';

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  healthcheck?: { test?: string | string[] };
  user?: string;
  profiles?: string[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const composeText = readFileSync(join(projectRoot, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText) as ComposeFile;

function service(name: string): ComposeService {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

function environment(svc: ComposeService): Map<string, string> {
  const env = new Map<string, string>();
  if (Array.isArray(svc.environment)) {
    for (const entry of svc.environment) {
      const [name = '', ...rest] = entry.split('=');
      env.set(name, rest.join('='));
    }
  } else {
    for (const [name, value] of Object.entries(svc.environment ?? {})) env.set(name, String(value ?? ''));
  }
  return env;
}

function dependencies(svc: ComposeService): Map<string, string> {
  const deps = new Map<string, string>();
  if (Array.isArray(svc.depends_on)) for (const d of svc.depends_on) deps.set(d, 'service_started');
  else {
    for (const [d, how] of Object.entries(svc.depends_on ?? {})) {
      deps.set(d, how.condition ?? 'service_started');
    }
  }
  return deps;
}

/** Host paths of bind mounts (named volumes excluded). */
function bindSources(svc: ComposeService): string[] {
  return (svc.volumes ?? []).flatMap((v) => {
    if (typeof v === 'string') {
      const source = v.split(':')[0] ?? '';
      return source.startsWith('.') || isAbsolute(source) ? [source] : [];
    }
    return v.type === 'bind' && v.source ? [v.source] : [];
  });
}

/** Every string value in the parsed file (comments excluded). */
function allStrings(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (Array.isArray(node)) return node.flatMap(allStrings);
  if (node && typeof node === 'object') return Object.values(node).flatMap(allStrings);
  return [];
}

const WORKER_VARIABLES = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'GRAPH_BASE_URL',
  'GRAPH_API_VERSION',
  'GRAPH_ACCESS_TOKEN',
  'GRAPH_MAX_REQUESTS_PER_SECOND',
  'VAULT_ADDR',
  'VAULT_ROLE_ID',
  'VAULT_SECRET_ID',
  'VAULT_KV_MOUNT',
  'VAULT_PIN_PREFIX',
  'PIN_SEALING_KEYS',
  'PAYLOAD_CODEC_KEYS',
];

/** Names that carry credentials or key material. */
const SECRET_NAME = /(TOKEN|SECRET|PASSWORD|PWD|KEYS?|ROLE_ID)(_|$)/;
/** The only acceptable value for them: a required interpolation, `${NAME:?message}`. */
const REQUIRED_INTERPOLATION = /^\$\{[A-Z][A-Z0-9_]*:\?[^}]+\}$/;

describe('docker-compose.yml', () => {
  it('has the production-like services', () => {
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'openbao', 'worker', 'codec-server']) {
      expect(compose.services, `service ${name}`).toHaveProperty(name);
    }
    expect(service('temporal-ui').image).toMatch(/^temporalio\/ui:/);
    expect(service('openbao').image).toMatch(/^openbao\/openbao:/);
    expect(service('postgresql').image).toMatch(/^postgres:/);
    expect(service('temporal').image).toMatch(/^temporalio\/(server|auto-setup):/);
  });

  it('starts things in the right order', () => {
    const worker = dependencies(service('worker'));
    expect([...worker.keys()]).toEqual(expect.arrayContaining(['temporal', 'openbao']));
    expect(dependencies(service('temporal')).get('postgresql')).toBe('service_healthy');
    expect(dependencies(service('temporal-ui')).has('temporal')).toBe(true);
    expect(service('postgresql').healthcheck?.test).toBeDefined();

    // Every dependency exists, waits only on a health check that is defined, and there is no cycle.
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (name: string, path: string[]) => {
      if (done.has(name)) return;
      if (visiting.has(name)) throw new Error(`depends_on cycle: ${[...path, name].join(' -> ')}`);
      visiting.add(name);
      for (const [dep, condition] of dependencies(service(name))) {
        if (condition === 'service_healthy') {
          expect(service(dep).healthcheck?.test, `${name} waits for ${dep} to be healthy`).toBeDefined();
        }
        visit(dep, [...path, name]);
      }
      visiting.delete(name);
      done.add(name);
    };
    for (const name of Object.keys(compose.services)) visit(name, []);
  });

  it('sets up Temporal schema and the OnboardingStatus search attribute before the worker starts', () => {
    const schemaJobs = [...dependencies(service('temporal'))].filter(
      ([, condition]) => condition === 'service_completed_successfully',
    );
    if (!service('temporal').image?.startsWith('temporalio/auto-setup:')) expect(schemaJobs).toHaveLength(1);
    const setupScripts = Object.values(compose.services)
      .flatMap(bindSources)
      .filter((s) => s.endsWith('.sh'))
      .map((s) => readFileSync(resolve(projectRoot, s), 'utf8'));
    expect(
      setupScripts.some((s) => /search-attribute create[\s\S]*OnboardingStatus[\s\S]*Keyword/.test(s)),
    ).toBe(true);
    const namespaceJob = Object.entries(compose.services).find(([, svc]) =>
      bindSources(svc).some(
        (s) =>
          s.endsWith('.sh') && readFileSync(resolve(projectRoot, s), 'utf8').includes('OnboardingStatus'),
      ),
    );
    expect(namespaceJob).toBeDefined();
    expect(dependencies(service('worker')).get(namespaceJob?.[0] ?? '')).toBe(
      'service_completed_successfully',
    );
  });

  it("gives the worker every variable of the product's configuration", () => {
    const env = environment(service('worker'));
    for (const name of WORKER_VARIABLES) expect(env.has(name), name).toBe(true);
    expect(env.get('TEMPORAL_ADDRESS')).toBe('temporal:7233');
    expect(env.get('VAULT_ADDR')).toMatch(/^https?:\/\/openbao:8200$/);
    expect(env.has('VAULT_TOKEN')).toBe(false);
  });

  it('points the Web UI at Temporal and at the codec server, which runs from the same image', () => {
    const ui = environment(service('temporal-ui'));
    expect(ui.get('TEMPORAL_ADDRESS')).toBe('temporal:7233');
    expect(ui.get('TEMPORAL_CODEC_ENDPOINT')).toMatch(/:8888\b/);
    const codec = service('codec-server');
    expect(codec.image).toBe(service('worker').image);
    expect(environment(codec).has('CODEC_SERVER_AUTH_TOKEN')).toBe(true);
    expect(environment(codec).has('PAYLOAD_CODEC_KEYS')).toBe(true);
    // The PIN sealing keys stay with the workers: the codec server must not be able to unseal PINs.
    expect(environment(codec).has('PIN_SEALING_KEYS')).toBe(false);
    const command = [codec.command ?? []].flat().join(' ');
    const entry = /dist\/(\S+)\.js/.exec(command)?.[1];
    expect(entry, 'codec-server runs a file from dist/').toBeDefined();
    expect(existsSync(join(projectRoot, 'src', `${entry}.ts`)), `src/${entry}.ts`).toBe(true);
  });

  it('writes no secret into the file: credentials are required interpolations', () => {
    const checked: string[] = [];
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [variable, value] of environment(svc)) {
        if (SECRET_NAME.test(variable)) {
          checked.push(variable);
          expect(value, `${name}.${variable}`).toMatch(REQUIRED_INTERPOLATION);
        } else if (!value.startsWith('${') && !/^(\/|[a-z]+:\/\/)/.test(value)) {
          // Plain values other than paths and URLs: names, numbers. Nothing token-like (Meta
          // tokens start with EAA, vault tokens with s./hvs.) and no long opaque strings.
          expect(value, `${name}.${variable}`).not.toMatch(/^(EAA|s\.|hvs\.)|[A-Za-z0-9+/=_-]{32,}/);
        }
      }
    }
    expect(checked).toEqual(
      expect.arrayContaining([
        'GRAPH_ACCESS_TOKEN',
        'VAULT_SECRET_ID',
        'PIN_SEALING_KEYS',
        'PAYLOAD_CODEC_KEYS',
        'CODEC_SERVER_AUTH_TOKEN',
        'POSTGRES_PASSWORD',
      ]),
    );
    // No default may smuggle a secret in either: ${SECRET:-value} is as bad as a literal.
    for (const value of allStrings(compose)) {
      expect(value).not.toMatch(/\$\{[A-Z0-9_]*(TOKEN|SECRET|PASSWORD|PWD|KEYS?)[A-Z0-9_]*:?-/);
    }
  });

  it('documents every required variable in deploy/compose.env.example', () => {
    const example = readFileSync(join(projectRoot, 'deploy', 'compose.env.example'), 'utf8');
    const required = new Set(
      allStrings(compose).flatMap((v) => [...v.matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((m) => m[1] ?? '')),
    );
    expect(required.size).toBeGreaterThan(5);
    for (const name of required) expect(example, name).toMatch(new RegExp(`^${name}=$`, 'm'));
  });

  it('runs OpenBao in server mode from the config file in deploy/', () => {
    const openbao = service('openbao');
    expect([openbao.command ?? []].flat().join(' ')).not.toContain('-dev');
    expect(environment(openbao).has('BAO_DEV_ROOT_TOKEN_ID')).toBe(false);
    const config = bindSources(openbao).find((s) => s.endsWith('.hcl'));
    expect(config).toBeDefined();
    const hcl = readFileSync(resolve(projectRoot, config ?? ''), 'utf8');
    expect(hcl).toMatch(/storage\s+"raft"/);
    expect(hcl).toMatch(/listener\s+"tcp"/);
  });

  it('mounts and builds only files that are in the repository', () => {
    const sources = Object.values(compose.services).flatMap(bindSources);
    expect(sources.length).toBeGreaterThanOrEqual(3);
    for (const source of sources) expect(existsSync(resolve(projectRoot, source)), source).toBe(true);
    for (const svc of Object.values(compose.services)) {
      if (svc.build === undefined) continue;
      const context = typeof svc.build === 'string' ? svc.build : (svc.build.context ?? '.');
      const dockerfile =
        typeof svc.build === 'string' ? 'Dockerfile' : (svc.build.dockerfile ?? 'Dockerfile');
      expect(existsSync(resolve(projectRoot, context, dockerfile)), dockerfile).toBe(true);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const args = new Map(
    instructions.flatMap((l) => {
      const m = /^ARG\s+(\w+)=(\S+)/.exec(l);
      return m ? [[m[1] ?? '', m[2] ?? ''] as const] : [];
    }),
  );
  const expand = (s: string) =>
    s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => args.get(a ?? b ?? '') ?? '');

  it('builds on Node 20 in stages with npm ci and npm run build', () => {
    const froms = instructions.filter((l) => /^FROM\s/i.test(l)).map((l) => l.split(/\s+/));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const stages = new Set(froms.map((f) => (f[2]?.toUpperCase() === 'AS' ? f[3] : undefined)));
    for (const from of froms) {
      const image = expand(from[1] ?? '');
      if (!stages.has(image)) expect(image).toMatch(/^node:20([.-]|$)/);
    }
    expect(instructions.some((l) => /^RUN\s.*\bnpm ci\b/.test(l))).toBe(true);
    expect(instructions.some((l) => /^RUN\s.*\bnpm run build\b/.test(l))).toBe(true);
  });

  it('runs node dist/worker.js as a non-root user', () => {
    const lastFrom = instructions.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
    const finalStage = instructions.slice(lastFrom);
    const users = finalStage.filter((l) => /^USER\s/i.test(l)).map((l) => l.split(/\s+/)[1] ?? '');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    const cmd = finalStage.filter((l) => /^CMD\s/i.test(l)).at(-1) ?? '';
    expect(cmd).toMatch(/node.*dist\/worker\.js/);
    expect(existsSync(join(projectRoot, 'src', 'worker.ts'))).toBe(true);
  });

  it('keeps dependencies, local servers, local state and git out of the build context', () => {
    const ignored = readFileSync(join(projectRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim().replace(/^\/|\/$/g, ''));
    for (const entry of ['node_modules', '.servers', '.data', '.git']) expect(ignored).toContain(entry);
  });
});

// ---------------------------------------------------------------------------------------------------
// Health, the trigger and the monitoring profile: what can run here runs for real.

/** The command a healthcheck runs, as an argv (CMD form) or a shell line (CMD-SHELL form). */
function healthcheckArgv(svc: ComposeService): string[] {
  const test = [svc.healthcheck?.test ?? []].flat();
  expect(test[0], 'a healthcheck in CMD or CMD-SHELL form').toMatch(/^CMD(-SHELL)?$/);
  return test.slice(1);
}

/**
 * Runs a node healthcheck here, pointed at `port` instead of the container's: its exit code.
 * Asynchronously, so that a server in this very process can answer it.
 */
function runNodeHealthcheck(svc: ComposeService, port: number): Promise<number | null> {
  const [command, flag, script = ''] = healthcheckArgv(svc);
  expect([command, flag]).toEqual(['node', '-e']);
  const local = script.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`);
  return new Promise((resolveExit) => {
    const child = spawn(process.execPath, ['-e', local], { stdio: 'ignore', timeout: 15_000 });
    child.once('exit', (code) => resolveExit(code));
  });
}

/** The compose environment as a container gets it: required ones filled in, defaults applied. */
function resolvedEnvironment(svc: ComposeService): Record<string, string> {
  return Object.fromEntries(
    [...environment(svc)].map(([name, value]) => {
      const resolved = value
        .replace(/\$\{[A-Z0-9_]+:\?[^}]*\}/g, () => `placeholder-${randomBytes(16).toString('hex')}`)
        .replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');
      return [name, resolved];
    }),
  );
}

describe('docker-compose.yml: health, the trigger, monitoring', () => {
  it('checks the health of the worker (its metrics endpoint), the codec server, the trigger and the UI', () => {
    const worker = service('worker');
    const metricsPort = Number(environment(worker).get('METRICS_BIND_ADDRESS')?.split(':').pop());
    expect(metricsPort).toBeGreaterThan(0);
    expect(healthcheckArgv(worker).join(' ')).toContain(`127.0.0.1:${metricsPort}/metrics`);
    const portFlag = (svc: ComposeService) => {
      const command = [svc.command ?? []].flat();
      return Number(command[command.indexOf('--port') + 1]);
    };
    expect(healthcheckArgv(service('codec-server')).join(' ')).toContain(
      `127.0.0.1:${portFlag(service('codec-server'))}/health'`,
    );
    expect(healthcheckArgv(service('trigger')).join(' ')).toContain(
      `127.0.0.1:${portFlag(service('trigger'))}/healthz'`,
    );
    expect(healthcheckArgv(service('temporal-ui')).join(' ')).toContain('127.0.0.1:8080/healthz');
    expect(environment(worker).get('LOG_FORMAT')).toBe('json');
  });

  it("runs the worker's healthcheck against a real worker: healthy while it serves metrics, failing once it stopped", async () => {
    const port = await freePort();
    const proc = startWorkerProcess({
      namespace: 'worker-cli',
      graphBaseUrl: 'http://127.0.0.1:9',
      graphToken: 'unused-token',
      codecKeys: generateKeyringValue('codec-health'),
      vaultPrefix: 'test/compose-health',
      env: { METRICS_BIND_ADDRESS: `127.0.0.1:${port}`, LOG_LEVEL: 'WARN' },
    });
    try {
      await proc.waitForLine(/worker: ready/, 90_000);
      expect(await runNodeHealthcheck(service('worker'), port)).toBe(0);
    } finally {
      await proc.stop();
    }
    expect(await runNodeHealthcheck(service('worker'), port)).toBe(1);
  });

  it("runs the codec server's and the trigger's healthchecks against them, as the compose file starts them", async () => {
    const codec = await startCodecServer({
      port: 0,
      keyring: createKeyring([{ kid: 'health', key: randomBytes(32) }]),
      authToken: randomBytes(24).toString('base64url'),
      allowedOrigins: [],
    });
    try {
      expect(await runNodeHealthcheck(service('codec-server'), codec.port)).toBe(0);
    } finally {
      await codec.close();
    }

    const trigger = service('trigger');
    const port = await freePort();
    const command = [trigger.command ?? []].flat();
    const script = (command[1] ?? '').replace(/^dist\//, 'src/').replace(/\.js$/, '.ts');
    const proc = runTsx({
      name: 'trigger',
      script,
      args: ['--host', '127.0.0.1', '--port', String(port)],
      env: {
        PATH: process.env.PATH ?? '',
        ...resolvedEnvironment(trigger),
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_NAMESPACE: 'trigger',
        PAYLOAD_CODEC_KEYS: generateKeyringValue('codec-health'),
      },
    });
    try {
      await proc.waitForLine(/trigger listening/, 30_000);
      expect(await runNodeHealthcheck(trigger, port)).toBe(0);
    } finally {
      await proc.stop();
    }
    expect(await runNodeHealthcheck(trigger, port)).toBe(1);
  });

  it('runs the trigger from the same image with everything its configuration requires', () => {
    const trigger = service('trigger');
    expect(trigger.image).toBe(service('worker').image);
    const env = resolvedEnvironment(trigger);
    // The trigger's own check of its configuration passes on what the compose file gives it.
    expect(() =>
      loadTriggerConfig({ ...env, PAYLOAD_CODEC_KEYS: generateKeyringValue('codec-health') }),
    ).not.toThrow();
    expect(environment(trigger).has('PIN_SEALING_KEYS')).toBe(false);
    expect(dependencies(trigger).get('temporal-namespace')).toBe('service_completed_successfully');
  });

  it('runs Prometheus behind the monitoring profile, with the tested release, the rules and the worker as its target', () => {
    const prometheus = service('prometheus');
    expect(prometheus.profiles).toEqual(['monitoring']);
    const installer = readFileSync(join(projectRoot, 'scripts', 'install-prometheus.mjs'), 'utf8');
    const debian = /PROMETHEUS_DEBIAN_VERSION = '([^']+)'/.exec(installer)?.[1] ?? '';
    const upstream = /^(\d+\.\d+\.\d+)/.exec(debian)?.[1];
    expect(prometheus.image).toBe(`prom/prometheus:\${PROMETHEUS_VERSION:-v${upstream}}`);
    const mounts = bindSources(prometheus);
    expect(mounts).toEqual(
      expect.arrayContaining(['./deploy/prometheus.yml', './deploy/prometheus-rules.yml']),
    );
    const config = parse(readFileSync(join(projectRoot, 'deploy', 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const metricsPort = environment(service('worker')).get('METRICS_BIND_ADDRESS')?.split(':').pop();
    expect(config.scrape_configs).toEqual([
      { job_name: 'whatsapp-onboarding-worker', static_configs: [{ targets: [`worker:${metricsPort}`] }] },
    ]);
    expect(config.rule_files).toEqual(['prometheus-rules.yml']);
    const check = spawnSync('promtool', ['check', 'config', join(projectRoot, 'deploy', 'prometheus.yml')], {
      encoding: 'utf8',
    });
    expect(`${check.stdout}${check.stderr}`).toMatch(/SUCCESS: 8 rules found/);
    expect(check.status).toBe(0);
  });
});
