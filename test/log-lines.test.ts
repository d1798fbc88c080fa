// The one log-line format every process shares (src/logging/): a JSON object per line with time,
// level, message and the fields, or the same as text; and how the CLI kit writes a command's
// refusal in that format.
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../src/cli/cli-io';
import { runCommand } from '../src/cli/run-main';
import { ConfigError } from '../src/config/env-reader';
import { createLineLogger, formatLogLine } from '../src/logging/line-logger';
import { loadLogFormat, loadLogLevel } from '../src/logging/log-format';

function io(env: Record<string, string>, terminal: boolean): CliIo & { err: () => string } {
  let err = '';
  return {
    argv: [],
    env,
    stdout: Object.assign({ write: () => true }, terminal ? { isTTY: true } : {}),
    stderr: { write: (s: string) => (err += s) },
    err: () => err,
  };
}

const refuse = async () => {
  throw new ConfigError('VAULT_ADDR', 'is not set: give the vault URL');
};

describe('log lines', () => {
  it('are one JSON object with time, level, message and the fields, which never overwrite those three', () => {
    const line = formatLogLine('json', 'WARN', 'vault slow', {
      attempt: 3,
      message: 'a field called message',
      error: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
      big: 12n,
      skipped: undefined,
    });
    expect(line).not.toContain('\n');
    const entry = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(entry).slice(0, 3)).toEqual(['time', 'level', 'message']);
    expect(entry).toMatchObject({
      level: 'WARN',
      message: 'vault slow',
      attempt: 3,
      field_message: 'a field called message',
      error: { name: 'Error', message: 'refused', code: 'ECONNREFUSED' },
      big: '12',
    });
    expect('skipped' in entry).toBe(false);
    expect(Date.parse(entry.time as string)).toBeGreaterThan(Date.parse('2020-01-01'));
  });

  it("take the SDK's own timestamp of a forwarded native log", () => {
    const at = Date.parse('2026-01-02T03:04:05.678Z');
    const line = formatLogLine('json', 'INFO', 'poll', {
      [Symbol.for('log_timestamp')]: BigInt(at) * 1_000_000n,
    });
    expect((JSON.parse(line) as { time: string }).time).toBe('2026-01-02T03:04:05.678Z');
  });

  it('as text stay on one line, multi-line messages included', () => {
    const line = formatLogLine('text', 'INFO', 'bundle\nbuilt', { size: '1MB' });
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO bundle \| built \{"size":"1MB"\}$/);
  });

  it('below LOG_LEVEL are dropped, except a process announcing it is ready or stopped', () => {
    const lines: string[] = [];
    const log = createLineLogger({ format: 'json', level: 'WARN', write: (l) => lines.push(l) });
    log.info('chatter');
    log.warn('worth seeing');
    log.announce('worker: ready');
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual([
      'worth seeing',
      'worker: ready',
    ]);
  });

  it('LOG_FORMAT defaults to json off a terminal and text on one; LOG_FORMAT and LOG_LEVEL are checked', () => {
    expect(loadLogFormat({}, false)).toBe('json');
    expect(loadLogFormat({}, true)).toBe('text');
    expect(loadLogFormat({ LOG_FORMAT: 'TEXT' }, false)).toBe('text');
    expect(() => loadLogFormat({ LOG_FORMAT: 'yaml' }, false)).toThrow(
      /^LOG_FORMAT must be json or text \(got "yaml"\)$/,
    );
    expect(loadLogLevel({ LOG_LEVEL: 'debug' }, 'INFO')).toBe('DEBUG');
    expect(() => loadLogLevel({ LOG_LEVEL: 'loud' }, 'INFO')).toThrow(
      /^LOG_LEVEL must be one of TRACE, DEBUG/,
    );
  });
});

describe("a command's refusal", () => {
  it('from a server off a terminal is one JSON line, at a terminal the plain line', async () => {
    const piped = io({}, false);
    expect(await runCommand('trigger', piped, refuse, { server: true })).toBe(2);
    expect(JSON.parse(piped.err())).toMatchObject({
      level: 'ERROR',
      message: 'trigger: VAULT_ADDR is not set: give the vault URL',
    });
    const terminal = io({}, true);
    await runCommand('trigger', terminal, refuse, { server: true });
    expect(terminal.err()).toBe('trigger: VAULT_ADDR is not set: give the vault URL\n');
  });

  it('from a one-shot command is the plain line unless LOG_FORMAT=json asks otherwise', async () => {
    const plain = io({}, false);
    await runCommand('starter', plain, refuse);
    expect(plain.err()).toBe('starter: VAULT_ADDR is not set: give the vault URL\n');
    const json = io({ LOG_FORMAT: 'json' }, false);
    await runCommand('starter', json, refuse);
    expect((JSON.parse(json.err()) as { message: string }).message).toBe(
      'starter: VAULT_ADDR is not set: give the vault URL',
    );
  });
});
