// `npm run stack` as an operator uses it: the real CLI in a child process, real servers on free
// ports, the real `temporal` and `bao` command-line tools pointed at it, then Ctrl-C and a
// restart on the same data folder to prove that workflows and vault secrets survive it.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { OPENBAO_KEYS_FILE, startOpenBaoPersistent } from '../src/local-stack/openbao-persistent';
import { superviseProcess } from '../src/local-stack/process-supervisor';
import { assertPortFree, freePort, spawnManaged } from '../src/local-stack/processes';
import { serverBinary } from '../src/local-stack/server-binaries';
import {
  STACK_MARKER_FILE,
  startLocalStack,
  wipeStackData,
  type LocalStackCore,
} from '../src/local-stack/stack';
import { ONBOARDING_TASK_QUEUE, WORKFLOW_TYPE } from '../src/workflows/messages';
import { runToExit, runTsx, type CapturedProcess } from './support/process-runner';

/** A server's own CLI (temporal, bao) to its end; fails unless it exits 0. */
async function run(command: string, args: string[], env: Record<string, string | undefined> = process.env) {
  const result = await runToExit({ name: command, command, args, env });
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
  return result;
}

const scratch = mkdtempSync(join(tmpdir(), 'local-stack-test-'));
const running = new Set<StackCliProcess>();

afterAll(async () => {
  await Promise.all([...running].map((cli) => cli.terminate()));
  rmSync(scratch, { recursive: true, force: true });
});

/** Three different free ports (freePort() could in principle hand out the same one twice). */
async function stackPorts(): Promise<{ temporalPort: number; uiPort: number; vaultPort: number }> {
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(await freePort());
  const [temporalPort = 0, uiPort = 0, vaultPort = 0] = ports;
  return { temporalPort, uiPort, vaultPort };
}

/** The stack CLI's flags: these ports, free ports for its own services, this data folder. */
async function stackArgs(
  ports: { temporalPort: number; uiPort: number; vaultPort: number },
  dataDir: string,
): Promise<string[]> {
  return [
    '--temporal-port',
    String(ports.temporalPort),
    '--ui-port',
    String(ports.uiPort),
    '--vault-port',
    String(ports.vaultPort),
    '--graph-port',
    String(await freePort()),
    '--codec-port',
    String(await freePort()),
    '--metrics-port',
    String(await freePort()),
    '--data-dir',
    dataDir,
  ];
}

/** The stack CLI in a child process (tsx relays Ctrl-C to it, as under `npm run stack`). */
class StackCliProcess {
  readonly exited: Promise<number | NodeJS.Signals>;
  private readonly proc: CapturedProcess;

  constructor(args: string[]) {
    this.proc = runTsx({ name: 'stack CLI', script: 'src/local-stack/cli.ts', args, env: process.env });
    this.exited = this.proc.exited;
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  get stdout(): string {
    return this.proc.stdout();
  }

  get stderr(): string {
    return this.proc.stderr();
  }

  async ready(timeoutMs = 90_000): Promise<string> {
    await this.proc.waitForLine(/^Local stack ready\./, timeoutMs);
    return this.stdout;
  }

  /** Server pids the CLI reported ("Processes: temporal pid 1, openbao pid 2"). */
  serverPids(): number[] {
    const line = this.stdout.split('\n').find((l) => l.startsWith('Processes:')) ?? '';
    return [...line.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
  }

  /** The first stderr line matching `pattern`, once it is there. */
  async stderrLine(pattern: RegExp, timeoutMs: number): Promise<string> {
    await this.proc.waitForLine(pattern, timeoutMs);
    const line = this.stderr.split('\n').find((l) => pattern.test(l));
    if (line === undefined) throw new Error(`${pattern} is on stdout, not stderr:\n${this.stdout}`);
    return line;
  }

  interrupt(): void {
    this.proc.signal('SIGINT');
  }

  /** Cleanup after a failed test: Ctrl-C, then force, then the servers themselves. */
  async terminate(): Promise<void> {
    const pids = this.serverPids();
    await this.proc.stop(20_000, 'SIGINT');
    for (const pid of pids) {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function field(output: string, pattern: RegExp): string {
  const value = pattern.exec(output)?.[1];
  if (!value) throw new Error(`${pattern} not found in the CLI's output:\n${output}`);
  return value;
}

/** Starts the onboarding of one number on the stack and waits until its worker completes it. */
async function expectCompleted(temporalAddress: string, workflowId: string, phoneNumberId: string) {
  const connection = await Connection.connect({ address: temporalAddress });
  try {
    const handle = await new Client({ connection }).workflow.start(WORKFLOW_TYPE, {
      taskQueue: ONBOARDING_TASK_QUEUE,
      workflowId,
      args: [{ phoneNumberId }],
    });
    await expect
      .poll(async () => (await handle.describe()).status.name, { timeout: 60_000 })
      .toBe('COMPLETED');
  } finally {
    await connection.close();
  }
}

async function bao(env: { BAO_ADDR: string; BAO_TOKEN: string }, args: string[]): Promise<string> {
  const { stdout } = await run(serverBinary('bao'), args, {
    ...process.env,
    ...env,
    HOME: scratch,
    BAO_FORMAT: 'table',
  });
  return stdout;
}

describe('npm run stack (the local stack CLI)', () => {
  it('serves Temporal, its Web UI, OpenBao, the codec server and a worker, stops cleanly on Ctrl-C and keeps state across a restart', async () => {
    const ports = await stackPorts();
    const { temporalPort, uiPort, vaultPort } = ports;
    const args = await stackArgs(ports, join(scratch, 'stack-data'));
    const workflowId = `local-stack-probe-${randomBytes(4).toString('hex')}`;
    const secretValue = randomBytes(8).toString('hex');

    // First run: everything is reachable where the CLI says it is.
    const first = new StackCliProcess(args);
    const out = await first.ready();
    const temporalAddress = field(out, /export TEMPORAL_ADDRESS=(\S+)/);
    const uiUrl = field(out, /Temporal Web UI\s+(\S+)/);
    const baoEnv = {
      BAO_ADDR: field(out, /export BAO_ADDR=(\S+)/),
      BAO_TOKEN: field(out, /BAO_TOKEN=(\S+)/),
    };
    expect(temporalAddress).toBe(`127.0.0.1:${temporalPort}`);
    expect(uiUrl).toBe(`http://127.0.0.1:${uiPort}`);
    expect(baoEnv.BAO_ADDR).toBe(`http://127.0.0.1:${vaultPort}`);
    expect(out).toContain(join('.servers', 'venv', 'bin'));
    // Temporal, OpenBao and the worker process.
    const pids = first.serverPids();
    expect(pids).toHaveLength(3);
    expect(out).toMatch(/^ {2}worker {2,}task queues whatsapp-onboarding and whatsapp-graph/m);

    const ui = await request(uiUrl);
    await ui.body.dump();
    expect(ui.statusCode).toBe(200);

    // Readable payloads in one step: the sign-in URL first, then "UI settings: none". Opening it
    // gives the browser the cookie that the UI's own origin then carries to the codec server.
    const signInUrl = field(out, /1\. open (\S+)/);
    expect(signInUrl.startsWith(`${uiUrl}/codec/login?token=`)).toBe(true);
    expect(out.indexOf('UI settings: none')).toBeGreaterThan(out.indexOf(signInUrl));
    const signIn = await request(signInUrl);
    await signIn.body.dump();
    expect(signIn.statusCode).toBe(303);
    const cookie = String(signIn.headers['set-cookie']).split(';')[0] ?? '';
    const decode = (headers: Record<string, string>) =>
      request(`${uiUrl}/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: uiUrl, ...headers },
        body: JSON.stringify({ payloads: [] }),
      });
    const signedIn = await decode({ cookie });
    expect(signedIn.statusCode, await signedIn.body.text()).toBe(200);
    const anonymous = await decode({});
    await anonymous.body.dump();
    expect(anonymous.statusCode).toBe(401);

    const attrs = await run(serverBinary('temporal'), [
      'operator',
      'search-attribute',
      'list',
      '--address',
      temporalAddress,
    ]);
    expect(attrs.stdout).toMatch(/OnboardingStatus\s+Keyword/);

    await bao(baoEnv, ['kv', 'put', 'secret/local-stack-probe', `value=${secretValue}`]);
    expect((await bao(baoEnv, ['kv', 'get', '-field=value', 'secret/local-stack-probe'])).trim()).toBe(
      secretValue,
    );

    // The stack's own worker runs it to the end against the stack's Graph sandbox.
    await expectCompleted(temporalAddress, workflowId, '15550001111');
    // The local stack serves its worker's Prometheus endpoint, with the product's counters.
    const metricsUrl = field(out, /metrics at (\S+)/);
    const metrics = await request(metricsUrl);
    expect(await metrics.body.text()).toMatch(
      /^whatsapp_onboarding_finished_total\{.*outcome="Completed".*\} 1$/m,
    );

    // Ctrl-C: a clean exit, and no server left behind.
    first.interrupt();
    expect(await first.exited).toBe(0);
    expect(first.stdout).toContain('stack: stopped.');
    for (const pid of pids) expect(isAlive(pid), `server pid ${pid} still running`).toBe(false);
    await assertPortFree(temporalPort, 'Temporal gRPC');
    await assertPortFree(vaultPort, 'OpenBao');

    // Second run on the same data folder, without a worker: the workflow and the secret are still there.
    const second = new StackCliProcess([...args, '--no-worker']);
    const out2 = await second.ready();
    expect(out2).not.toMatch(/^ {2}worker {2,}task queues/m);
    expect(field(out2, /BAO_TOKEN=(\S+)/)).toBe(baoEnv.BAO_TOKEN);
    expect((await bao(baoEnv, ['kv', 'get', '-field=value', 'secret/local-stack-probe'])).trim()).toBe(
      secretValue,
    );
    const connection = await Connection.connect({ address: temporalAddress });
    try {
      const client = new Client({ connection });
      const description = await client.workflow.getHandle(workflowId).describe();
      expect(description.status.name).toBe('COMPLETED');
      expect(description.type).toBe(WORKFLOW_TYPE);
      const listed: string[] = [];
      for await (const wf of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
        listed.push(wf.workflowId);
      }
      expect(listed).toEqual([workflowId]);
    } finally {
      await connection.close();
    }
    const pids2 = second.serverPids();
    second.interrupt();
    expect(await second.exited).toBe(0);
    for (const pid of pids2) expect(isAlive(pid), `server pid ${pid} still running`).toBe(false);
  }, 240_000);

  it('notices its worker process dying: one line naming it, its signal and its log, then a new worker that works', async () => {
    const cli = new StackCliProcess([
      ...(await stackArgs(await stackPorts(), join(scratch, 'worker-killed'))),
      '--in-memory',
    ]);
    const out = await cli.ready();
    const temporalAddress = field(out, /export TEMPORAL_ADDRESS=(\S+)/);
    const logFile = field(out, /^ {2}worker {2,}.* \(log (\S+)\)$/m);
    const killed = Number(field(out, /worker pid (\d+)/));
    expect(isAlive(killed)).toBe(true);

    process.kill(killed, 'SIGKILL');
    const line = await cli.stderrLine(/^stack: the worker \(pid \d+\)/, 30_000);
    const [before = '', after = ''] = line.split(/after \d+ s/);
    expect(before).toBe(`stack: the worker (pid ${killed}) was killed by SIGKILL `);
    expect(after).toBe(`; restarting it in 1 s (log: ${logFile})`);
    const back = await cli.stderrLine(/^stack: the worker is running again \(pid \d+\)$/, 120_000);
    const restarted = Number(/pid (\d+)/.exec(back)?.[1]);
    expect(restarted).not.toBe(killed);
    expect(isAlive(restarted)).toBe(true);
    // Its log holds both lives: two ready lines.
    expect(readFileSync(logFile, 'utf8').split('worker: ready').length - 1).toBe(2);

    // The new worker does the work, and the stack stops it with everything else.
    await expectCompleted(temporalAddress, `after-restart-${randomBytes(4).toString('hex')}`, '15550002222');
    cli.interrupt();
    expect(await cli.exited).toBe(0);
    expect(isAlive(restarted), `worker pid ${restarted} still running`).toBe(false);
  }, 240_000);

  it('refuses a busy port with one line naming it and exit code 2, starting nothing', async () => {
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const busyPort = (holder.address() as { port: number }).port;
    try {
      const ports = { ...(await stackPorts()), temporalPort: busyPort };
      const { vaultPort } = ports;
      const cli = new StackCliProcess(await stackArgs(ports, join(scratch, 'busy-port')));
      expect(await cli.exited).toBe(2);
      const lines = cli.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`port ${busyPort} (Temporal gRPC) is already in use`);
      expect(cli.stdout).not.toContain('Processes:');
      await assertPortFree(vaultPort, 'OpenBao');
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });
});

describe('startLocalStack', () => {
  it('hands the running core to extra services and, when one fails, stops what already started', async () => {
    const { temporalPort, uiPort, vaultPort } = await stackPorts();
    let seen: LocalStackCore | undefined;
    let firstServiceStopped = false;
    const failure = startLocalStack({
      temporalPort,
      uiPort,
      vaultPort,
      persistent: false,
      dataDir: join(scratch, 'in-memory'),
      extraServices: [
        async (stack) => {
          seen = stack;
          return {
            name: 'probe',
            url: 'http://127.0.0.1:1',
            stop: async () => void (firstServiceStopped = true),
          };
        },
        async () => {
          throw new Error('the second extra service could not start');
        },
      ],
    });
    await expect(failure).rejects.toThrow('the second extra service could not start');
    expect(seen?.temporalAddress).toBe(`127.0.0.1:${temporalPort}`);
    expect(seen?.vaultAddress).toBe(`http://127.0.0.1:${vaultPort}`);
    expect(seen?.vaultToken).toMatch(/^root-[0-9a-f]{24}$/);
    expect(firstServiceStopped).toBe(true);
    // Stopped, not merely abandoned: the ports are free again.
    await assertPortFree(temporalPort, 'Temporal gRPC');
    await assertPortFree(uiPort, 'Temporal Web UI');
    await assertPortFree(vaultPort, 'OpenBao');
  }, 120_000);

  it('rejects the same port given twice before starting anything', async () => {
    const port = await freePort();
    await expect(
      startLocalStack({ temporalPort: port, uiPort: port, dataDir: join(scratch, 'same-port') }),
    ).rejects.toThrow(`port ${port} is given for both Temporal gRPC and Temporal Web UI`);
  });
});

describe("superviseProcess (the stack worker's supervisor)", () => {
  /** A real process that is ready at once and exits with code 3 after `ms`. */
  const shortLived = (ms: number) => async () =>
    spawnManaged({
      name: 'short-lived',
      command: process.execPath,
      args: ['-e', `setTimeout(() => process.exit(3), ${ms})`],
    });

  it('restarts a process that keeps exiting, with growing pauses, then gives up in one line', async () => {
    const lines: string[] = [];
    const pids: number[] = [];
    const supervised = await superviseProcess({
      name: 'the probe',
      logFile: '/var/log/probe.log',
      start: async () => {
        const proc = await shortLived(100)();
        pids.push(proc.pid);
        return proc;
      },
      report: (line) => lines.push(line),
      restartByHand: 'run the probe again',
      backoffMs: [50, 100],
      healthyAfterMs: 60_000,
      maxRestarts: 3,
      graceMs: 10,
    });
    const given = await supervised.gaveUp;
    expect(supervised.restarts).toBe(3);
    expect(pids).toHaveLength(4);
    expect(new Set(pids).size).toBe(4);
    expect(
      lines.filter((l) => l.includes('restarting it in')).map((l) => /in ([\d.]+) s/.exec(l)?.[1]),
    ).toEqual(['0.05', '0.1', '0.1']);
    expect(lines[0]).toMatch(
      /^stack: the probe \(pid \d+\) exited with code 3 after 0 s; restarting it in 0\.05 s \(log: \/var\/log\/probe\.log\)$/,
    );
    expect(given).toBe(
      'stack: the probe keeps failing (4 times in a row; the last exited with code 3): not restarting it again; ' +
        'stopping the stack. See its log /var/log/probe.log; fix the cause, then run the probe again',
    );
    expect(lines.at(-1)).toBe(given);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    await supervised.stop();
  });

  it('does not restart what it was asked to stop', async () => {
    const lines: string[] = [];
    const supervised = await superviseProcess({
      name: 'the probe',
      logFile: '/var/log/probe.log',
      start: shortLived(60_000),
      report: (line) => lines.push(line),
      restartByHand: 'run the probe again',
      graceMs: 10,
    });
    const pid = supervised.pid;
    expect(pid !== undefined && isAlive(pid)).toBe(true);
    await supervised.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(isAlive(pid as number)).toBe(false);
    expect(lines).toEqual([]);
    expect(supervised.restarts).toBe(0);
  });
});

describe('startOpenBaoPersistent', () => {
  it('seals and unseals with its stored key, and refuses storage whose keys file is gone', async () => {
    const port = await freePort();
    const dataDir = join(scratch, 'openbao-seal');
    const secretUrl = `http://127.0.0.1:${port}/v1/secret/data/seal-probe`;
    const bao = await startOpenBaoPersistent({ port, dataDir });
    try {
      const headers = { 'x-vault-token': bao.rootToken };
      const write = await request(secretUrl, { method: 'POST', headers, body: '{"data":{"v":"1"}}' });
      await write.body.dump();
      expect(write.statusCode).toBe(200);
      expect(statSync(join(dataDir, OPENBAO_KEYS_FILE)).mode & 0o777).toBe(0o600);

      await bao.seal();
      const sealed = await request(secretUrl, { headers });
      expect(await sealed.body.text()).toContain('sealed');
      expect(sealed.statusCode).toBe(503);

      await bao.unseal();
      const read = await request(secretUrl, { headers });
      expect(((await read.body.json()) as { data: { data: { v: string } } }).data.data.v).toBe('1');
    } finally {
      await bao.stop();
    }

    rmSync(join(dataDir, OPENBAO_KEYS_FILE));
    await expect(startOpenBaoPersistent({ port, dataDir })).rejects.toMatchObject({
      code: 'OPENBAO_LOCAL_STATE',
    });
    // The server it had started for the attempt was stopped again.
    await assertPortFree(port, 'OpenBao');
  }, 60_000);
});

describe('wipeStackData (--fresh)', () => {
  it('deletes a folder the stack created but refuses one it did not', () => {
    const foreign = join(scratch, 'not-a-stack');
    mkdirSync(foreign, { recursive: true });
    writeFileSync(join(foreign, 'precious.txt'), 'keep me');
    expect(() => wipeStackData(foreign)).toThrow(/refusing to wipe/);
    expect(existsSync(join(foreign, 'precious.txt'))).toBe(true);

    const ours = join(scratch, 'a-stack');
    mkdirSync(join(ours, 'openbao'), { recursive: true });
    writeFileSync(join(ours, STACK_MARKER_FILE), '');
    writeFileSync(join(ours, 'temporal.db'), '');
    wipeStackData(ours);
    expect(existsSync(ours)).toBe(false);
  });
});
