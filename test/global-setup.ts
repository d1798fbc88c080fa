// Starts the real servers once per test run and stops them all at the end, even when tests
// fail: the Temporal CLI dev server (with its Web UI and the OnboardingStatus search attribute)
// and an OpenBao dev server. Time-skipping environments are per test file (their clock is
// global to the server), started from the installed binary whose path is provided here.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  freePort,
  startOpenBaoDev,
  startTemporalDevServer,
  type ManagedProcess,
} from '../src/local-stack/processes';
import { serverBinary } from '../src/local-stack/server-binaries';
import { TEST_NAMESPACES } from './support/namespaces';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalUiUrl: string;
    vaultAddress: string;
    vaultRootToken: string;
    timeSkippingServerPath: string;
    logDir: string;
  }
}

export default async function setup(project: TestProject) {
  const logDir = mkdtempSync(join(tmpdir(), 'pin-onboarding-test-'));
  const started: ManagedProcess[] = [];
  const stopAll = async () => {
    await Promise.allSettled(started.map((p) => p.stop()));
  };
  try {
    const rootToken = `root-${randomBytes(12).toString('hex')}`;
    const [temporal, bao] = await Promise.all([
      (async () => {
        const server = await startTemporalDevServer({
          port: await freePort(),
          uiPort: await freePort(),
          extraNamespaces: [...TEST_NAMESPACES],
          logFile: join(logDir, 'temporal.log'),
        });
        started.push(server);
        return server;
      })(),
      (async () => {
        const server = await startOpenBaoDev({
          port: await freePort(),
          rootToken,
          logFile: join(logDir, 'openbao.log'),
        });
        started.push(server);
        return server;
      })(),
    ]);
    project.provide('temporalAddress', temporal.address);
    project.provide('temporalUiUrl', temporal.uiUrl ?? '');
    project.provide('vaultAddress', bao.address);
    project.provide('vaultRootToken', bao.rootToken);
    project.provide('timeSkippingServerPath', serverBinary('temporal-test-server'));
    project.provide('logDir', logDir);
  } catch (err) {
    await stopAll();
    throw err;
  }
  return async () => {
    await stopAll();
    if (!process.env.KEEP_TEST_LOGS) rmSync(logDir, { recursive: true, force: true });
  };
}
