// The Temporal client of the processes that start onboardings (the starter, the trigger): the
// connection from the environment and the product's payload codec, so what they put in workflow
// inputs is encrypted exactly as the workers expect.
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { loadCodecKeyring } from '../codec/codec-config';
import { createDataConverter } from '../codec/data-converter';
import { EnvReader, type Env } from '../config/env-reader';
import { connectClient, loadTemporalSettings, type TemporalSettings } from '../temporal/temporal-connection';

export interface OnboardingClientSettings {
  temporal: TemporalSettings;
  dataConverter: DataConverter;
}

/** No TEMPORAL_ADDRESS means the embedded local stack, whose codec keys live in the data folder. */
export function isLocalStack(env: Env): boolean {
  return new EnvReader(env).optional('TEMPORAL_ADDRESS') === undefined;
}

/** Reads and checks the settings without connecting; throws ConfigError naming the variable. */
export function loadOnboardingClientSettings(env: Env): OnboardingClientSettings {
  const temporal = loadTemporalSettings(env);
  const keyring = loadCodecKeyring(env, { local: isLocalStack(env) });
  return { temporal, dataConverter: createDataConverter(keyring) };
}

/** Throws TemporalUnreachableError (one line) when the server cannot be reached. */
export function connectOnboardingClient(settings: OnboardingClientSettings): Promise<Client> {
  return connectClient(settings.temporal, settings.dataConverter);
}
