// How numbers start out in the sandbox (registered or not, verified or not, a two-step PIN set by
// hand, registration calls made elsewhere), from GRAPH_SANDBOX_NUMBERS, a --numbers file or the
// control API. Validated strictly, as scenarios are: a typo fails loudly instead of doing nothing.
import { readFileSync } from 'node:fs';
import { EnvReader, type Env } from '../config/env-reader';
import type { SandboxNumberSetup, SandboxNumberSetups } from './sandbox-state';
import { ScenarioError } from './scenarios';

export const NUMBERS_ENV = 'GRAPH_SANDBOX_NUMBERS';

const FIELDS = 'registered, verified, twoStepPin, recentRegistrationCalls';

function fail(where: string, problem: string): never {
  throw new ScenarioError(`${where}: ${problem}`);
}

export function parseNumberSetup(value: unknown, where: string): SandboxNumberSetup {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(where, 'must be an object like {"registered":false,"verified":true}');
  }
  const out: SandboxNumberSetup = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'registered' || key === 'verified') {
      if (typeof v !== 'boolean') fail(where, `"${key}" must be true or false`);
      out[key] = v;
    } else if (key === 'twoStepPin') {
      if (typeof v !== 'string' || !/^\d{6}$/.test(v))
        fail(where, '"twoStepPin" must be a string of 6 digits');
      out.twoStepPin = v;
    } else if (key === 'recentRegistrationCalls') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 100) {
        fail(where, '"recentRegistrationCalls" must be a whole number from 0 to 100');
      }
      out.recentRegistrationCalls = v;
    } else {
      fail(where, `unknown field "${key}" (allowed: ${FIELDS})`);
    }
  }
  return out;
}

/** Parses `{ "<phoneNumberId>": setup, ... }`. */
export function parseNumberSetups(value: unknown, where: string): SandboxNumberSetups {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(where, 'must be a JSON object keyed by phone number id');
  }
  const out: SandboxNumberSetups = {};
  for (const [id, setup] of Object.entries(value as Record<string, unknown>)) {
    if (!/^\d{1,32}$/.test(id)) fail(where, `key ${JSON.stringify(id)} must be a phone number id`);
    out[id] = parseNumberSetup(setup, `${where}[${JSON.stringify(id)}]`);
  }
  return out;
}

/** GRAPH_SANDBOX_NUMBERS as setups; a ConfigError naming the variable when it is wrong. */
export function numberSetupsFromEnv(env: Env): SandboxNumberSetups | undefined {
  return new EnvReader(env).json(NUMBERS_ENV, (value) => parseNumberSetups(value, 'numbers'));
}

export function loadNumberSetupFile(path: string): SandboxNumberSetups {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ScenarioError(`cannot read the number setups file ${path}: ${(err as Error).message}`);
  }
  return parseNumberSetups(parsed, path);
}
