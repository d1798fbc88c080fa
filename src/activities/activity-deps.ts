// What the activities are given (samples' activities-dependency-injection): the worker builds real
// clients, tests pass real-but-local ones (an OpenBao dev server, the Graph sandbox). Nothing in
// src/activities/ reads the environment.
import type { Keyring } from '../crypto/keyring';
import type { GraphApi } from '../graph/graph-client';
import type { RegistrationLedgerStore } from '../vault/pin-store';
import type { TenantGraphApi } from '../graph/tenant-graph-api';
import type { SecurityEventRecordInput, SecurityEventRecordResult } from '../vault/security-event-record';

export type { GraphApi, TenantGraphApi };

/** The vault operations the activities need (src/vault/pin-store.ts provides them). */
export interface PinVault extends RegistrationLedgerStore {
  storePin(input: {
    phoneNumberId: string;
    workflowId: string;
    pin: string;
    createdAt: string;
  }): Promise<{ path: string; version: number }>;
  readPin(input: { phoneNumberId: string; version: number }): Promise<string>;
  /** The PIN with the key's markers from the same read, handed to markActive afterwards. */
  readPinToSend(input: {
    phoneNumberId: string;
    version: number;
  }): Promise<{ pin: string; markers?: Record<string, string> }>;
  markActive(input: {
    phoneNumberId: string;
    version: number;
    markers?: Record<string, string>;
  }): Promise<void>;
  /** Meta's security events, kept on the vault record (src/vault/security-event-record.ts). */
  recordSecurityEvent(input: SecurityEventRecordInput): Promise<SecurityEventRecordResult>;
  /** "{mount}/{prefix}/{phoneNumberId}", the path shown in the workflow's status. */
  logicalPath(phoneNumberId: string): string;
}

export interface ActivityDeps {
  sealingKeyring: Keyring;
  vault: PinVault;
  /** Each call with its tenant's token (GRAPH_TOKEN_SOURCE=vault); a plain GraphClient fits too. */
  graph: TenantGraphApi;
}

/**
 * Activities on the onboarding queue get no Graph client: every call to Meta must go through the
 * Graph queue, whose rate the server caps across all workers (src/activities/activity-registry.ts).
 */
export type OnboardingQueueDeps = Omit<ActivityDeps, 'graph'>;

export interface PinVersionInput {
  phoneNumberId: string;
  version: number;
  /** Whose Graph token the call uses (GRAPH_TOKEN_SOURCE=vault); runs before tenants pass none. */
  tenant?: string;
}

/** setTwoStepPin's and registerPhoneNumber's input: the version to send, and whose budget it spends. */
export interface SetTwoStepPinInput extends PinVersionInput {
  /** Whose Graph budget the call spends (graph-budget.ts); absent for numbers started without one. */
  wabaId?: string;
}
