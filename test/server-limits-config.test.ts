// The trigger's and the codec server's transport limits and the codec server's secureCookie from
// the environment: the defaults when unset, each variable read, and a bad value refused in one line
// that names its variable. (codec-server.test.ts and server-logs.test.ts check that the CLIs hand
// them to their servers.)
import { describe, expect, it } from 'vitest';
import { describeFailure } from '../src/cli/exit-code-policy';
import { loadCodecServerConfig } from '../src/codec/codec-config';
import { CODEC_SERVER_LIMITS } from '../src/codec/codec-server';
import { generateKeyringValue } from '../src/crypto/keyring';
import { loadServerLimits } from '../src/http/server-limits-config';
import { TRIGGER_HELP } from '../src/trigger/trigger-cli';
import { loadTriggerConfig } from '../src/trigger/trigger-config';
import { TRIGGER_LIMITS } from '../src/trigger/trigger-server';

const triggerEnv = {
  TRIGGER_SHARED_SECRET: 'shared-secret-of-some-length',
  WHATSAPP_APP_SECRET: 'app-secret',
  WEBHOOK_VERIFY_TOKEN: 'verify-token',
  GRAPH_ACCESS_TOKEN: 'graph-token',
  PAYLOAD_CODEC_KEYS: generateKeyringValue('limits-test'),
};

const codecEnv = {
  PAYLOAD_CODEC_KEYS: generateKeyringValue('limits-test'),
  CODEC_SERVER_AUTH_TOKEN: 'codec-token-of-at-least-24-characters',
};

/** What a command prints for the error `load` throws, and its exit code. */
function failureOf(load: () => unknown): { exitCode: number; lines: string[] } {
  try {
    load();
  } catch (err) {
    return describeFailure(err);
  }
  throw new Error('expected the configuration to be refused');
}

describe('transport limits from the environment', () => {
  it('keep the server defaults when nothing is set', () => {
    expect(loadTriggerConfig(triggerEnv).limits).toEqual(TRIGGER_LIMITS);
    expect(loadCodecServerConfig(codecEnv).limits).toEqual(CODEC_SERVER_LIMITS);
    expect(loadCodecServerConfig(codecEnv).secureCookie).toBe(false);
  });

  it('read every variable of the trigger and of the codec server', () => {
    expect(
      loadTriggerConfig({
        ...triggerEnv,
        TRIGGER_HEADERS_TIMEOUT_MS: '4000',
        TRIGGER_REQUEST_TIMEOUT_MS: '9000',
        TRIGGER_KEEP_ALIVE_TIMEOUT_MS: '2500',
        TRIGGER_MAX_CONNECTIONS: '0',
      }).limits,
    ).toEqual({
      ...TRIGGER_LIMITS,
      headersTimeoutMs: 4_000,
      requestTimeoutMs: 9_000,
      keepAliveTimeoutMs: 2_500,
      maxConnections: 0,
    });
    const codec = loadCodecServerConfig({
      ...codecEnv,
      CODEC_SERVER_HEADERS_TIMEOUT_MS: '3000',
      CODEC_SERVER_REQUEST_TIMEOUT_MS: '6000',
      CODEC_SERVER_KEEP_ALIVE_TIMEOUT_MS: '1000',
      CODEC_SERVER_MAX_CONNECTIONS: '8',
      CODEC_SERVER_SECURE_COOKIE: 'true',
    });
    expect(codec.limits).toEqual({
      ...CODEC_SERVER_LIMITS,
      headersTimeoutMs: 3_000,
      requestTimeoutMs: 6_000,
      keepAliveTimeoutMs: 1_000,
      maxConnections: 8,
    });
    expect(codec.secureCookie).toBe(true);
    expect(loadCodecServerConfig({ ...codecEnv, CODEC_SERVER_SECURE_COOKIE: 'off' }).secureCookie).toBe(
      false,
    );
  });

  it('raise the request deadline with a longer header deadline given alone', () => {
    const limits = loadServerLimits({ TRIGGER_HEADERS_TIMEOUT_MS: '45000' }, 'TRIGGER', TRIGGER_LIMITS);
    expect(limits.headersTimeoutMs).toBe(45_000);
    expect(limits.requestTimeoutMs).toBe(45_000);
  });

  it.each([
    ['TRIGGER_HEADERS_TIMEOUT_MS', 'soon', 'must be a whole number from 1 to 3600000 (got "soon")'],
    ['TRIGGER_KEEP_ALIVE_TIMEOUT_MS', '0', 'must be a whole number from 1 to 3600000 (got "0")'],
    ['TRIGGER_MAX_CONNECTIONS', '-1', 'must be a whole number from 0 to 100000 (got "-1")'],
    ['TRIGGER_REQUEST_TIMEOUT_MS', '1.5', 'must be a whole number from 1 to 3600000 (got "1.5")'],
  ])('refuse %s=%s in one line naming it, exit 2', (variable, value, problem) => {
    const failure = failureOf(() => loadTriggerConfig({ ...triggerEnv, [variable]: value }));
    expect(failure).toEqual({ exitCode: 2, lines: [`${variable} ${problem}`] });
  });

  it('refuse a request deadline shorter than the header deadline, naming both', () => {
    const failure = failureOf(() =>
      loadCodecServerConfig({
        ...codecEnv,
        CODEC_SERVER_HEADERS_TIMEOUT_MS: '8000',
        CODEC_SERVER_REQUEST_TIMEOUT_MS: '4000',
      }),
    );
    expect(failure.exitCode).toBe(2);
    expect(failure.lines).toEqual([
      'CODEC_SERVER_REQUEST_TIMEOUT_MS must be at least CODEC_SERVER_HEADERS_TIMEOUT_MS (8000; got 4000): ' +
        'the whole request cannot take less time than its headers',
    ]);
  });

  it('refuse a secureCookie that is neither true nor false', () => {
    expect(
      failureOf(() => loadCodecServerConfig({ ...codecEnv, CODEC_SERVER_SECURE_COOKIE: 'always' })),
    ).toEqual({
      exitCode: 2,
      lines: ['CODEC_SERVER_SECURE_COOKIE must be true or false (got "always")'],
    });
  });
});

describe("the trigger's --help", () => {
  it('says what happens to a poison PARTNER_ADDED and to security events it cannot use', () => {
    const help = TRIGGER_HELP.replace(/\s+/g, ' ');
    expect(help).toMatch(/poison PARTNER_ADDED[^.]*\) is answered 200/);
    expect(help).toContain('listed under "ignored" in the answer');
    expect(help).toMatch(
      /security event for a number that is unknown, ambiguous or never onboarded: 200, listed as ignored/,
    );
    expect(help).toContain('TRIGGER_MAX_CONNECTIONS');
  });
});
