// The trigger's configuration, read once at start-up: every missing or malformed variable is
// reported (one line each, naming it), never a secret's value.
import { ConfigError, EnvReader, type Env } from '../config/env-reader';
import { loadGraphConfig, type GraphConfig } from '../graph/graph-config';
import { loadOnboardingOptions, type OnboardingOptions } from '../onboarding/onboarding-config';
import { loadOnboardingClientSettings, type OnboardingClientSettings } from '../onboarding/onboarding-client';
import { loadVaultConfig, type VaultConfig } from '../vault/vault-config';
import { DEFAULT_PIN_DRIFT_POLICY, PIN_DRIFT_POLICIES, type PinDriftPolicy } from '../workflows/messages';
import type { HttpServerLimits } from '../http/http-server';
import { loadServerLimits } from '../http/server-limits-config';
import { DEFAULT_TRIGGER_PORT, TRIGGER_LIMITS, type TriggerSecrets } from './trigger-server';

/** Long enough that guessing is hopeless; `openssl rand -base64 32` gives 44 characters. */
const MIN_SECRET_LENGTH = 16;

export interface TriggerConfig {
  port: number;
  host: string;
  secrets: TriggerSecrets;
  graph: GraphConfig;
  temporal: OnboardingClientSettings;
  onboarding: OnboardingOptions;
  /** Present when graph.tokens.source is `vault`: the trigger reads tokens and the WABA index. */
  vault?: VaultConfig;
  /** What a security event on a closed number does (docs/pin-drift.md). */
  driftPolicy: PinDriftPolicy;
  /** TRIGGER_HEADERS_TIMEOUT_MS, ..._REQUEST_TIMEOUT_MS, ..._KEEP_ALIVE_TIMEOUT_MS, ..._MAX_CONNECTIONS. */
  limits: HttpServerLimits;
}

/** PIN_DRIFT_POLICY, checked at start-up. */
export function loadDriftPolicy(env: Env): PinDriftPolicy {
  const raw = new EnvReader(env).optional('PIN_DRIFT_POLICY') ?? DEFAULT_PIN_DRIFT_POLICY;
  if (!(PIN_DRIFT_POLICIES as readonly string[]).includes(raw)) {
    throw new ConfigError(
      'PIN_DRIFT_POLICY',
      `must be one of ${PIN_DRIFT_POLICIES.join(', ')} (got "${raw}"): what a PIN changed in WhatsApp Manager does (docs/pin-drift.md)`,
    );
  }
  return raw as PinDriftPolicy;
}

/** Thrown with every problem found, so one start-up shows them all. */
export class TriggerConfigErrors extends Error {
  override readonly name = 'TriggerConfigErrors';
  readonly code = 'CONFIG_INVALID';
  constructor(readonly errors: ConfigError[]) {
    super(errors.map((e) => e.message).join('\n'));
  }
}

function secret(read: EnvReader, name: string, hint: string, minLength: number): string {
  const value = read.required(name, hint);
  if (value.length < minLength) {
    throw new ConfigError(name, `is too short (at least ${minLength} characters; value not shown)`);
  }
  return value;
}

export function loadTriggerConfig(env: Env): TriggerConfig {
  const read = new EnvReader(env);
  const errors: ConfigError[] = [];
  function attempt<T>(load: () => T): T | undefined {
    try {
      return load();
    } catch (err) {
      if (err instanceof ConfigError) {
        errors.push(err);
        return undefined;
      }
      throw err;
    }
  }
  const sharedSecret = attempt(() =>
    secret(
      read,
      'TRIGGER_SHARED_SECRET',
      'the bearer token callers of POST /onboarded present (openssl rand -base64 32)',
      MIN_SECRET_LENGTH,
    ),
  );
  const appSecret = attempt(() =>
    secret(
      read,
      'WHATSAPP_APP_SECRET',
      'the Meta app secret that signs webhooks (App Dashboard > Settings > Basic)',
      1,
    ),
  );
  const verifyToken = attempt(() =>
    secret(
      read,
      'WEBHOOK_VERIFY_TOKEN',
      'the verify token entered with the webhook URL in the App Dashboard',
      1,
    ),
  );
  const port = attempt(() => {
    const raw = read.optional('TRIGGER_PORT');
    if (raw === undefined) return DEFAULT_TRIGGER_PORT;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 65_535) {
      throw new ConfigError('TRIGGER_PORT', `must be a port number 1-65535 (got "${raw}")`);
    }
    return n;
  });
  const host = read.optional('TRIGGER_HOST') ?? '127.0.0.1';
  const graph = attempt(() => loadGraphConfig(env));
  const temporal = attempt(() => loadOnboardingClientSettings(env));
  const onboarding = attempt(() => loadOnboardingOptions(env));
  const vault = graph?.tokens.source === 'vault' ? attempt(() => loadVaultConfig(env)) : undefined;
  const driftPolicy = attempt(() => loadDriftPolicy(env));
  const limits = attempt(() => loadServerLimits(env, 'TRIGGER', TRIGGER_LIMITS));
  if (
    errors.length > 0 ||
    !sharedSecret ||
    !appSecret ||
    !verifyToken ||
    !port ||
    !graph ||
    !temporal ||
    !onboarding ||
    !driftPolicy ||
    !limits
  ) {
    throw new TriggerConfigErrors(errors);
  }
  return {
    port,
    host,
    secrets: { sharedSecret, appSecret, verifyToken },
    graph,
    temporal,
    onboarding,
    ...(vault ? { vault } : {}),
    driftPolicy,
    limits,
  };
}
