import { ApplicationFailure } from '@temporalio/common';
import { Context, log } from '@temporalio/activity';
import { isGraphError, GRAPH_FAILURE_TYPES } from '../graph/graph-errors';
import { REGISTRATION_BLOCK_MS, type RegistrationBudget } from '../registration/registration-budget';
import { isRegistrationBudgetError, REGISTER_BUDGET_SPENT } from '../registration/registration-budget-error';
import type { ActivityDeps, SetTwoStepPinInput } from './activity-deps';
import { classified, toActivityFailure } from './activity-failure';
import { registrationClock } from './registration-clock';

export interface RegisterPhoneNumberResult {
  fbtraceId?: string;
  /** The budget with this call counted. */
  budget: RegistrationBudget;
}

/** What a failed registration carries in its details, beside the Graph facts. */
export interface RegistrationFailureDetails {
  budget?: RegistrationBudget;
}

// Registration sends the same stored vault version as setTwoStepPin: it becomes the number's
// two-step PIN, or must match the one it has. Each call is written to the budget ledger before it
// is sent, and a call Meta's limits would refuse is not sent at all (RegisterBudgetSpent), so a
// crash or a retry can never make an 11th call. On Meta's 133016 the block is recorded too.
export function createRegisterPhoneNumber(deps: ActivityDeps) {
  return async ({
    phoneNumberId,
    version,
    tenant,
    wabaId,
  }: SetTwoStepPinInput): Promise<RegisterPhoneNumberResult> =>
    classified(async () => {
      const pin = await deps.vault.readPin({ phoneNumberId, version });
      const now = registrationClock();
      let budget: RegistrationBudget;
      try {
        budget = await deps.vault.recordRegistrationCall({ phoneNumberId, kind: 'register', now });
      } catch (err) {
        if (!isRegistrationBudgetError(err)) throw err;
        log.warn('registration budget spent: no call made', { phoneNumberId, ...err.budget });
        throw ApplicationFailure.create({
          type: REGISTER_BUDGET_SPENT,
          message: err.message,
          nonRetryable: true,
          details: [{ budget: err.budget } satisfies RegistrationFailureDetails],
        });
      }
      try {
        const { fbtraceId } = await deps.graph.registerPhoneNumber({
          phoneNumberId,
          wabaId,
          pin,
          ...(tenant !== undefined ? { tenant } : {}),
          signal: Context.current().cancellationSignal,
        });
        await deps.vault.markActive({ phoneNumberId, version });
        log.info('number registered on Cloud API with the stored PIN', { phoneNumberId, version, fbtraceId });
        return { fbtraceId, budget };
      } catch (err) {
        if (!isGraphError(err)) throw err;
        if (err.type === GRAPH_FAILURE_TYPES.GraphRegisterLimit) {
          // Recording the block is a courtesy to later runs: if the vault fails here, Meta's answer
          // still decides (a retry would spend another call on a blocked number).
          budget = await deps.vault
            .recordRegistrationBlock({ phoneNumberId, until: now + REGISTRATION_BLOCK_MS, now })
            .catch((blockErr: unknown) => {
              log.warn('could not record the 133016 block', { phoneNumberId, error: String(blockErr) });
              return {
                ...budget,
                canRegisterNow: false,
                nextCallAllowedAt: new Date(now + REGISTRATION_BLOCK_MS).toISOString(),
              };
            });
        }
        // The Graph classification, with the budget beside Meta's facts for the workflow's status.
        const failure = toActivityFailure(err, Context.current().info.attempt);
        const first: unknown = failure.details?.[0];
        throw ApplicationFailure.create({
          type: failure.type ?? undefined,
          message: failure.message,
          nonRetryable: failure.nonRetryable ?? false,
          nextRetryDelay: failure.nextRetryDelay ?? undefined,
          category: failure.category ?? undefined,
          cause: failure.cause,
          details: [
            {
              ...(typeof first === 'object' && first !== null ? first : {}),
              budget,
            } satisfies RegistrationFailureDetails,
          ],
        });
      }
    });
}
