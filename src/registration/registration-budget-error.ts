// The product's own refusal to make a registration call Meta would count past its limit. Raised
// before the call, so the 11th call never leaves; the workflow waits until `budget.nextCallAllowedAt`.
import type { FailureType } from '../workflows/failure-types';
import type { RegistrationBudget } from './registration-budget';
import { CodedError } from '../cli/coded-error';

export const REGISTER_BUDGET_SPENT = 'RegisterBudgetSpent';
/** What this module produces, in the workflow's failure vocabulary. */
export const REGISTRATION_FAILURE_TYPES = [REGISTER_BUDGET_SPENT] as const satisfies readonly FailureType[];

export class RegistrationBudgetError extends CodedError<typeof REGISTER_BUDGET_SPENT> {
  readonly type = REGISTER_BUDGET_SPENT;

  constructor(
    readonly phoneNumberId: string,
    readonly budget: RegistrationBudget,
  ) {
    super(
      REGISTER_BUDGET_SPENT,
      `number ${phoneNumberId} has used ${budget.usedInWindow} of ${budget.limit} register/deregister calls ` +
        `Meta allows in 72 hours (${budget.registersThisWeek} registers in 7 days)` +
        (budget.blockedUntil ? `, and Meta blocked it until ${budget.blockedUntil}` : '') +
        `: no call is made before ${budget.nextCallAllowedAt}`,
    );
  }
}

export function isRegistrationBudgetError(err: unknown): err is RegistrationBudgetError {
  return err instanceof RegistrationBudgetError;
}
