// createActivities(deps): the worker builds real clients, tests pass real-but-local ones
// (an OpenBao dev server, the Graph sandbox). Nothing here reads the environment.
import { Context, log } from '@temporalio/activity';
import type { Keyring } from '../crypto/keyring';
import { generateTwoStepPin } from '../pin/pin-generator';
import { openPin, sealPin } from '../pin/pin-sealer';
import type { SealedPin, VaultLocation } from '../workflows/messages';
import { toActivityFailure } from './activity-failure';

/** The vault operations the activities need (src/vault/pin-store.ts provides them). */
export interface PinVault {
  storePin(input: {
    phoneNumberId: string;
    workflowId: string;
    pin: string;
    createdAt: string;
  }): Promise<{ path: string; version: number }>;
  readPin(input: { phoneNumberId: string; version: number }): Promise<string>;
  markActive(input: { phoneNumberId: string; version: number }): Promise<void>;
}

/** The Graph call (src/graph/graph-client.ts provides it). */
export interface TwoStepPinApi {
  setTwoStepPin(input: { phoneNumberId: string; pin: string }): Promise<{ fbtraceId?: string }>;
}

export interface ActivityDeps {
  sealingKeyring: Keyring;
  vault: PinVault;
  graph: TwoStepPinApi;
}

export interface GeneratePinInput {
  phoneNumberId: string;
}

export interface StorePinInput {
  phoneNumberId: string;
  workflowId: string;
  sealedPin: SealedPin;
  /** Fixed by the workflow, so a retried write is recognisably the same write. */
  createdAt: string;
}

export interface PinVersionInput {
  phoneNumberId: string;
  version: number;
}

export interface SetTwoStepPinResult {
  fbtraceId?: string;
}

async function classified<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw toActivityFailure(err, Context.current().info.attempt);
  }
}

export function createActivities(deps: ActivityDeps) {
  return {
    generatePin: async ({ phoneNumberId }: GeneratePinInput): Promise<SealedPin> => {
      return classified(async () => sealPin(deps.sealingKeyring, phoneNumberId, generateTwoStepPin()));
    },

    storePinInVault: async (input: StorePinInput): Promise<VaultLocation> => {
      return classified(async () => {
        const pin = openPin(deps.sealingKeyring, input.phoneNumberId, input.sealedPin);
        const stored = await deps.vault.storePin({
          phoneNumberId: input.phoneNumberId,
          workflowId: input.workflowId,
          pin,
          createdAt: input.createdAt,
        });
        log.info('PIN stored as pending', { phoneNumberId: input.phoneNumberId, version: stored.version });
        return { path: stored.path, version: stored.version };
      });
    },

    // What is sent to Meta is read back from the vault, so the PIN Meta holds is always a
    // version the vault has; only after Meta accepts it does that version become active.
    setTwoStepPin: async ({ phoneNumberId, version }: PinVersionInput): Promise<SetTwoStepPinResult> => {
      return classified(async () => {
        const pin = await deps.vault.readPin({ phoneNumberId, version });
        const { fbtraceId } = await deps.graph.setTwoStepPin({ phoneNumberId, pin });
        await deps.vault.markActive({ phoneNumberId, version });
        log.info('two-step PIN set on Meta and marked active', { phoneNumberId, version, fbtraceId });
        return { fbtraceId };
      });
    },

    /** After an operator set the stored PIN by hand in WhatsApp Manager. */
    markPinActive: async ({ phoneNumberId, version }: PinVersionInput): Promise<void> => {
      return classified(async () => {
        await deps.vault.markActive({ phoneNumberId, version });
        log.info('PIN version marked active after a manual reset', { phoneNumberId, version });
      });
    },
  };
}

export type OnboardingActivities = ReturnType<typeof createActivities>;
