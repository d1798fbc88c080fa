// The project's own errors: each a CodedError with its class's name and one stable code, so the
// exit-code policy and callers match on `code`, and the stack traces and logs name the class.
import { describe, expect, it } from 'vitest';
import { CodedError } from '../src/cli/coded-error';
import { describeFailure, EXIT_FAILURE, EXIT_SETUP } from '../src/cli/exit-code-policy';
import { UsageError } from '../src/cli/usage-error';
import { KeyringError } from '../src/crypto/keyring';
import { ScenarioError } from '../src/graph-sandbox/scenarios';
import { TenantTokenError } from '../src/graph/tenant-token-error';
import { OnboardingInputError } from '../src/onboarding/onboarding-input';
import { OpsError } from '../src/ops/ops-error';
import { StackOptionsError } from '../src/local-stack/stack';
import { PostgresSetupError } from '../src/local-stack/postgres';
import { TemporalUnreachableError } from '../src/temporal/temporal-connection';

describe('CodedError and its subclasses', () => {
  it('carry their class name, their one code, the message and the cause', () => {
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:7233');
    const cases: Array<[CodedError, string, string]> = [
      [new UsageError('--file is required'), 'UsageError', 'USAGE'],
      [new StackOptionsError('--temporal-port must be a port'), 'StackOptionsError', 'STACK_OPTIONS'],
      [new PostgresSetupError('initdb failed', { cause }), 'PostgresSetupError', 'POSTGRES_SETUP'],
      [new ScenarioError('unknown kind'), 'ScenarioError', 'SCENARIO_INVALID'],
      [
        new OnboardingInputError(['phoneNumberId is missing']),
        'OnboardingInputError',
        'ONBOARDING_INPUT_INVALID',
      ],
      [new TenantTokenError('no token', 'acme', 'secret/x'), 'TenantTokenError', 'TENANT_TOKEN_MISSING'],
      [new KeyringError('DECRYPT_FAILED', 'failed authentication'), 'KeyringError', 'DECRYPT_FAILED'],
      [new OpsError('NOT_WAITING', 'the workflow is SettingPin'), 'OpsError', 'NOT_WAITING'],
      [
        new TemporalUnreachableError('127.0.0.1:7233', cause),
        'TemporalUnreachableError',
        'TEMPORAL_UNREACHABLE',
      ],
    ];
    for (const [err, name, code] of cases) {
      expect(err).toBeInstanceOf(CodedError);
      expect(err).toBeInstanceOf(Error);
      expect({ name: err.name, code: err.code }).toEqual({ name, code });
      expect(String(err.stack)).toContain(`${name}: `);
    }
    expect(new PostgresSetupError('initdb failed', { cause }).cause).toBe(cause);
    expect(new TemporalUnreachableError('127.0.0.1:7233', cause).message).toContain('ECONNREFUSED');
  });

  it('are told apart by code for the exit status: setup errors 2, the others 1', () => {
    expect(describeFailure(new UsageError('--file is required')).exitCode).toBe(EXIT_SETUP);
    expect(describeFailure(new StackOptionsError('bad port')).exitCode).toBe(EXIT_SETUP);
    expect(describeFailure(new TemporalUnreachableError('127.0.0.1:1', new Error('x'))).exitCode).toBe(
      EXIT_SETUP,
    );
    expect(describeFailure(new OpsError('REFUSED', 'refused')).exitCode).toBe(EXIT_FAILURE);
  });
});
