import { ApplicationFailure } from '@temporalio/common';
import { Context, log } from '@temporalio/activity';
import { GRAPH_FAILURE_TYPES } from '../graph/graph-errors';
import { registrationBudget, type RegistrationBudget } from '../registration/registration-budget';
import type { ActivityDeps } from './activity-deps';
import { classified } from './activity-failure';
import { registrationClock } from './registration-clock';

export interface LookUpRegistrationInput {
  phoneNumberId: string;
  /** Whose Graph token the call uses (GRAPH_TOKEN_SOURCE=vault); runs before tenants pass none. */
  tenant?: string;
  /** Whose Graph budget the lookup spends (graph-budget.ts). */
  wabaId?: string;
}

export interface LookUpRegistrationResult {
  /** True when Meta says the number is on Cloud API (platform_type CLOUD_API). */
  registered: boolean;
  /** True when it is on the On-Premises API, where registering needs Meta's migration first. */
  onPremises: boolean;
  platformType?: string;
  verification?: string;
  status?: string;
  budget: RegistrationBudget;
}

// For `register: auto`: reads the number (GET /{id}, no budget spent) and the ledger. A number that
// would need registering but is not verified fails here as GraphNumberNotVerified, before a call
// Meta would refuse with 133006 costs one of the 10 the budget allows.
export function createLookUpRegistration(deps: ActivityDeps) {
  return async ({
    phoneNumberId,
    tenant,
    wabaId,
  }: LookUpRegistrationInput): Promise<LookUpRegistrationResult> =>
    classified(async () => {
      const details = await deps.graph.getPhoneNumber({
        phoneNumberId,
        ...(tenant !== undefined ? { tenant } : {}),
        wabaId,
        signal: Context.current().cancellationSignal,
      });
      const ledger = await deps.vault.readRegistrationLedger(phoneNumberId);
      const result: LookUpRegistrationResult = {
        registered: details.platform_type === 'CLOUD_API',
        onPremises: details.platform_type === 'ON_PREMISE',
        budget: registrationBudget(ledger, registrationClock()),
      };
      if (details.platform_type !== undefined) result.platformType = details.platform_type;
      if (details.code_verification_status !== undefined)
        result.verification = details.code_verification_status;
      if (details.status !== undefined) result.status = details.status;
      log.info('number looked up', {
        phoneNumberId,
        platformType: result.platformType,
        status: result.status,
      });
      const needsRegistering = !result.registered && !result.onPremises;
      if (needsRegistering && result.verification !== undefined && result.verification !== 'VERIFIED') {
        throw ApplicationFailure.create({
          type: GRAPH_FAILURE_TYPES.GraphNumberNotVerified,
          message: `number ${phoneNumberId} is not on Cloud API and its code_verification_status is ${result.verification}: verify it before it can register (no register call was made)`,
          nonRetryable: true,
          details: [{ budget: result.budget }],
        });
      }
      return result;
    });
}
