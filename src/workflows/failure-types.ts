// The one vocabulary of failures the workflow can see: every `StepFailure.type` and every entry of a
// `nonRetryableErrorTypes` list is one of these, so a misspelt name, or a name that nothing throws,
// fails `npm run typecheck`. The Graph and vault modules keep owning how a failure is classified;
// here is only the list of names. Workflow-safe: no Node imports, type imports of the producers only.
import type { ACTIVITY_FAILURE_TYPES } from '../activities/activity-failure';
import type { GraphFailureType } from '../graph/graph-errors';
import type { REGISTRATION_FAILURE_TYPES } from '../registration/registration-budget-error';
import type { TENANT_TOKEN_FAILURE_TYPES } from '../graph/tenant-token-error';
import type { VaultFailureType } from '../vault/vault-errors';

export const FAILURE_TYPES = [
  // Meta's Graph API (src/graph/graph-errors.ts classifies them)
  'GraphAuthError',
  'GraphPermissionError',
  'GraphThrottled',
  'GraphInvalidParameter',
  'GraphUnknownNumber',
  'GraphAccountRestricted',
  'GraphServerError',
  'GraphPinMismatch',
  'GraphPinGuessLimit',
  'GraphNumberRecentlyDeleted',
  'GraphRegisterLimit',
  'GraphTimeout',
  'GraphConnectionError',
  'GraphUnexpectedResponse',
  // Registration on Cloud API (docs/registration.md)
  'GraphNotRegistered',
  'GraphNumberNotVerified',
  'GraphIncompleteDeregistration',
  'GraphRegisterPinRejected',
  'GraphMaintenance',
  'GraphUnconfirmedSuccess',
  // The product's own refusal to make a registration call past Meta's budget
  // (src/registration/registration-budget-error.ts)
  'RegisterBudgetSpent',
  // No Graph token in the vault for the number's tenant (src/graph/tenant-token-error.ts)
  'TenantTokenMissing',
  // The vault (src/vault/vault-errors.ts classifies them)
  'VaultSealed',
  'VaultUnavailable',
  'VaultThrottled',
  'VaultPermissionDenied',
  'VaultBadRequest',
  'VaultCasMismatch',
  'VaultNotFound',
  'VaultMethodNotAllowed',
  'VaultConnectionError',
  'VaultLoginFailed',
  // The activities themselves (src/activities/activity-failure.ts): a sealed PIN this worker cannot
  // open, configuration found wrong while working, and anything nobody classified (a bug).
  'PinSealError',
  'ConfigError',
  'UnexpectedError',
  // The workflow itself: a manual reset with nothing stored, a step whose retry window closed, a PIN
  // changed (or two-step turned off) in WhatsApp Manager under PIN_DRIFT_POLICY=alert.
  'NoStoredPin',
  'RetriesExhausted',
  'PinDrift',
] as const;

export type FailureType = (typeof FAILURE_TYPES)[number];

/** What the workflow reports on its own; anything it cannot name it reports as UnexpectedError. */
export const WORKFLOW_FAILURE_TYPES = [
  'NoStoredPin',
  'RetriesExhausted',
  'PinDrift',
  'UnexpectedError',
] as const satisfies readonly FailureType[];

const known: ReadonlySet<string> = new Set(FAILURE_TYPES);

export function isFailureType(type: string | null | undefined): type is FailureType {
  return typeof type === 'string' && known.has(type);
}

// Each producer declares what it throws `satisfies readonly FailureType[]` (no name outside the
// vocabulary); this is the other direction: a vocabulary entry that no producer declares fails here.
type Produced =
  | GraphFailureType
  | VaultFailureType
  | (typeof ACTIVITY_FAILURE_TYPES)[number]
  | (typeof REGISTRATION_FAILURE_TYPES)[number]
  | (typeof TENANT_TOKEN_FAILURE_TYPES)[number]
  | (typeof WORKFLOW_FAILURE_TYPES)[number];
type Unproduced = Exclude<FailureType, Produced>;
const _everyFailureTypeHasAProducer: [Unproduced] extends [never] ? true : { unproduced: Unproduced } = true;
