// The CLI kit every command runs on (src/cli/): which failure gets which exit code and words,
// the flag values, and --help. The commands' own tests cover the same through real processes.
import { NamespaceNotFoundError } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { BatchFileError } from '../src/batch/batch-file-error';
import type { CliIo } from '../src/cli/cli-io';
import { describeFailure } from '../src/cli/exit-code-policy';
import { durationFlag, portSetting, positiveNumberFlag, wholeNumberFlag } from '../src/cli/flag-values';
import { listenFailure } from '../src/cli/listen-error';
import { parseFlags } from '../src/cli/parse-flags';
import { runCommand } from '../src/cli/run-main';
import { UsageError } from '../src/cli/usage-error';
import { ConfigError } from '../src/config/env-reader';
import { PortBusyError } from '../src/local-stack/processes';
import { OpsError } from '../src/ops/ops-error';
import { HistoryFileError } from '../src/replay/history-file';
import { TemporalUnreachableError } from '../src/temporal/temporal-connection';
import { TriggerConfigErrors } from '../src/trigger/trigger-config';

function captured(argv: string[] = []): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    argv,
    env: {},
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    out: () => out,
    err: () => err,
  };
}

describe('the exit-code policy', () => {
  it.each([
    ['a usage error', new UsageError('--port is required'), 2, ['--port is required (see --help)']],
    ['a configuration error', new ConfigError('VAULT_ADDR', 'is not set'), 2, ['VAULT_ADDR is not set']],
    [
      'Temporal unreachable',
      new TemporalUnreachableError('127.0.0.1:1', new Error('refused\ndetail')),
      2,
      [expect.stringMatching(/^cannot reach Temporal at 127\.0\.0\.1:1 \(refused\): start the local stack/)],
    ],
    ['a busy port', new PortBusyError(7233, 'Temporal gRPC'), 2, [expect.stringMatching(/^port 7233 /)]],
    [
      'an unreadable history',
      new HistoryFileError('cannot read x.json: ENOENT'),
      2,
      ['cannot read x.json: ENOENT'],
    ],
    [
      'an unknown number',
      new OpsError('UNKNOWN_NUMBER', 'no onboarding workflow w'),
      1,
      ['no onboarding workflow w'],
    ],
    ['a malformed batch file', new BatchFileError(3, 'not an array'), 1, ['line 3: not an array']],
    ['anything else (a bug)', new Error('boom\n    at somewhere'), 1, ['boom']],
    ['a thrown string', 'plain', 1, ['plain']],
  ])('%s: exit %s', (_what, err, exitCode, lines) => {
    expect(describeFailure(err)).toEqual({ exitCode, lines });
  });

  it("recognises Temporal's NamespaceNotFoundError and a lost gRPC connection as exit 2", () => {
    expect(describeFailure(new NamespaceNotFoundError('nope'))).toEqual({
      exitCode: 2,
      lines: ["Namespace not found: 'nope': check TEMPORAL_NAMESPACE"],
    });
    const unavailable = Object.assign(new Error('14 UNAVAILABLE'), {
      code: 14,
      details: 'No connection established\nmore',
      metadata: {},
    });
    expect(describeFailure(unavailable)).toEqual({
      exitCode: 2,
      lines: ['lost the connection to Temporal: No connection established'],
    });
  });

  it('tells every problem of a configuration that has several, one line each', () => {
    const err = new TriggerConfigErrors([
      new ConfigError('TRIGGER_SHARED_SECRET', 'is not set'),
      new ConfigError('WHATSAPP_APP_SECRET', 'is not set'),
    ]);
    expect(describeFailure(err)).toEqual({
      exitCode: 2,
      lines: ['TRIGGER_SHARED_SECRET is not set', 'WHATSAPP_APP_SECRET is not set'],
    });
  });

  it('turns a failure to listen into one line naming the port, and keeps one that explains itself', () => {
    const inUse = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
    expect(describeFailure(listenFailure(inUse, '127.0.0.1', 8888))).toEqual({
      exitCode: 2,
      lines: [
        'port 8888 on 127.0.0.1 is already in use: stop whatever holds it or choose another with --port',
      ],
    });
    const busy = new PortBusyError(8099, 'Graph sandbox');
    expect(listenFailure(busy, '127.0.0.1', 8099)).toBe(busy);
  });
});

describe('runCommand', () => {
  it('prints a failure as "<name>: <line>" on stderr and returns its exit code', async () => {
    const io = captured();
    const code = await runCommand('ops', io, async () => {
      throw new ConfigError('TEMPORAL_ADDRESS', 'must be host:port (got "x")');
    });
    expect(code).toBe(2);
    expect(io.err()).toBe('ops: TEMPORAL_ADDRESS must be host:port (got "x")\n');
    expect(io.out()).toBe('');
  });

  it('returns what the command returns', async () => {
    expect(await runCommand('ops', captured(), async () => 3)).toBe(3);
  });
});

describe('parseFlags', () => {
  const spec = { strings: 'port file', booleans: 'fresh', short: { f: 'file' }, help: 'Usage: x' } as const;

  it('reads string and boolean flags, short aliases and nothing else', () => {
    const { values } = parseFlags(captured(['--port', '80', '-f', 'a.csv', '--fresh']), spec);
    expect(values).toEqual({ port: '80', file: 'a.csv', fresh: true });
    expect(() => parseFlags(captured(['--prot', '80']), spec)).toThrow(
      new UsageError("Unknown option '--prot'"),
    );
    expect(() => parseFlags(captured(['extra']), spec)).toThrow(UsageError);
  });

  it('--help and -h print the help on stdout, and the command then exits 0 having done nothing', async () => {
    for (const flag of ['--help', '-h']) {
      const io = captured([flag]);
      let ran = false;
      const code = await runCommand('x', io, async () => {
        parseFlags(io, spec);
        ran = true;
        return 1;
      });
      expect(code).toBe(0);
      expect(ran).toBe(false);
      expect(io.out()).toBe('Usage: x\n');
      expect(io.err()).toBe('');
    }
  });
});

describe('flag values', () => {
  it('whole numbers within a range, or the fallback', () => {
    expect(wholeNumberFlag('--limit', undefined, { fallback: 20, max: 100 })).toBe(20);
    expect(wholeNumberFlag('--limit', '100', { fallback: 20, max: 100 })).toBe(100);
    for (const raw of ['0', '101', '1.5', '', 'ten']) {
      expect(() => wholeNumberFlag('--limit', raw, { fallback: 20, max: 100 })).toThrow(
        new UsageError(`--limit must be a whole number from 1 to 100 (got "${raw}")`),
      );
    }
  });

  it('positive numbers, and durations like 30s, 5m or 1h', () => {
    expect(positiveNumberFlag('--rate', '2.5', 'starts per second')).toBe(2.5);
    expect(positiveNumberFlag('--rate', undefined, 'starts per second')).toBeUndefined();
    expect(() => positiveNumberFlag('--rate', '0', 'starts per second')).toThrow(
      '--rate must be a positive number of starts per second (got "0")',
    );
    expect(durationFlag('--wait-timeout', undefined, '30m')).toBe(1_800_000);
    expect(durationFlag('--wait-timeout', '90s', '30m')).toBe(90_000);
    expect(() => durationFlag('--wait-timeout', 'soon', '30m')).toThrow(
      '--wait-timeout must be a duration like 30s, 5m or 1h (got "soon")',
    );
  });

  it('ports: the flag (a usage error when bad), else the variable (a configuration error), else the default', () => {
    const setting = { flag: '--port', variable: 'X_PORT', fallback: 8888 };
    expect(portSetting({ ...setting, raw: '0', env: {}, allowZero: true })).toBe(0);
    expect(portSetting({ ...setting, raw: undefined, env: { X_PORT: ' 9000 ' } })).toBe(9000);
    expect(portSetting({ ...setting, raw: undefined, env: {} })).toBe(8888);
    expect(() => portSetting({ ...setting, raw: '0', env: {} })).toThrow(
      new UsageError('--port must be a port number from 1 to 65535 (got "0")'),
    );
    expect(() => portSetting({ ...setting, raw: undefined, env: { X_PORT: '70000' } })).toThrow(
      new ConfigError('X_PORT', 'must be a port number from 1 to 65535 (got "70000")'),
    );
  });
});
