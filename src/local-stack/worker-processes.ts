// The onboarding worker as separate processes (src/worker.ts, configured only through its
// environment), several of them sharing the task queues and the Graph cap, as a deployment
// scales out. `node --import tsx` rather than the tsx CLI: the pid is the worker itself.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { spawnManaged, type ManagedProcess } from './processes';
import { projectRoot } from './server-binaries';

const WORKER_ENTRY = join(projectRoot, 'src', 'worker.ts');
const TSX_LOADER = pathToFileURL(join(projectRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const READY_LINE = 'worker: ready';

function readyCount(logFile: string): number {
  return existsSync(logFile) ? readFileSync(logFile, 'utf8').split(READY_LINE).length - 1 : 0;
}

/** Starts one worker process and waits for its ready line (it bundles the workflows first). */
export async function startWorkerProcess(opts: {
  name: string;
  env: NodeJS.ProcessEnv;
  args?: string[];
  logFile: string;
  timeoutMs?: number;
}): Promise<ManagedProcess> {
  const before = readyCount(opts.logFile);
  const proc = spawnManaged({
    name: opts.name,
    command: process.execPath,
    args: ['--import', TSX_LOADER, WORKER_ENTRY, ...(opts.args ?? [])],
    env: opts.env,
    logFile: opts.logFile,
  });
  let ended: number | NodeJS.Signals | undefined;
  void proc.exited.then((code) => (ended = code));
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  while (readyCount(opts.logFile) <= before) {
    if (ended !== undefined)
      throw new Error(`${opts.name} exited (${ended}) before it was ready; see ${opts.logFile}`);
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`${opts.name} was not ready in time; see ${opts.logFile}`);
    }
    await sleep(200);
  }
  return proc;
}
