import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  setCurrentDetails,
  sleep,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityOptions, Duration, LocalActivityOptions } from '@temporalio/common';
import type { ActivitiesOn, OnboardingActivities, RegistrationFailureDetails } from '../activities';
import { durationToMs } from './duration';
import { isFailureType } from './failure-types';
import { activityProfiles } from './retry-profiles';
import {
  manualResetProblem,
  manualResetSignal,
  DEFAULT_MANUAL_RESET_DEADLINE,
  DEFAULT_REGISTER_CHOICE,
  manualResetUpdate,
  onboardingStatusKey,
  retryProblem,
  retrySignal,
  retryUpdate,
  statusQuery,
  type ManualResetInput,
  type OnboardingOutcome,
  type OnboardingStage,
  type RegisterNumberInput,
  type RegisterNumberResult,
  type RegisterNumberStatus,
  type RegistrationBudget,
  type RegistrationOutcome,
  type RegistrationStatus,
  type RetryInput,
  type SealedPin,
  type StepFailure,
  type VaultLocation,
  type GRAPH_TASK_QUEUE,
  type ONBOARDING_TASK_QUEUE,
} from './messages';
import { recordFinished, recordParked, recordStarted } from './onboarding-metrics';
import { budgetWaitSummary, HANDLER_DESCRIPTIONS, operatorWaitSummary, stepSummary } from './ui-descriptions';
import { awaitingManualResetDetails, procedureText, progressDetails, runbookOf } from './operator-guide';
import {
  decideSecurityEvent,
  listenForSecurityEvents,
  noteSecurityEvent,
  SECURITY_EVENTS_PATCH,
} from './security-events';

/**
 * Runs started before the product registered numbers replay without it: the registration stage,
 * the register-on-"not registered" path and the budget wait exist only in runs that recorded this
 * patch (their first command), so the committed histories keep replaying.
 */
export const REGISTRATION_PATCH = 'register-on-cloud-api';

/**
 * Added to a budget wait: the workflow's, the worker's and Meta's clocks differ by up to seconds, and
 * a call made a moment early would be refused again (and counted). Negligible against 72 hours.
 */
const BUDGET_WAIT_MARGIN_MS = 30_000;

type OperatorRequest =
  { kind: 'manualReset'; input: ManualResetInput } | { kind: 'retry'; input: RetryInput };

/** The steps of one attempt, each tied to the stage it shows while it runs. */
const STEP_STAGES = {
  generatePin: 'GeneratingPin',
  storePinInVault: 'StoringPin',
  setTwoStepPin: 'SettingPin',
  lookUpRegistration: 'Registering',
  registerPhoneNumber: 'Registering',
} as const satisfies Partial<Record<StepFailure['step'], OnboardingStage>>;

type StepName = keyof typeof STEP_STAGES;
type StepActivities = Pick<OnboardingActivities, StepName>;
type StepInput<K extends StepName> = Parameters<StepActivities[K]>[0];
type StepResult<K extends StepName> = Awaited<ReturnType<StepActivities[K]>>;
type StepFunctions = { [K in StepName]: (input: StepInput<K>) => Promise<StepResult<K>> };

/**
 * Fewer Temporal actions per number (docs/performance.md, "Cost per number"), for runs started
 * after this change: generatePin runs as a local activity (its marker shares the first workflow
 * task with the patches' markers: one action for all), and OnboardingStatus is written only for
 * the stages a number can wait in, each only when it is not there already. The start sets
 * StoringPin (src/onboarding/start-onboarding.ts), so a happy path upserts SettingPin and Completed.
 */
export const LEAN_PATH_PATCH = 'lean-happy-path';

/**
 * Runs started after this change record this one patch instead of the three above, and take all
 * three paths. Each patch costs its run a marker and an upsert of TemporalChangeVersion (a
 * visibility write on the server, docs/performance.md): one marker for all saves four history
 * events and two visibility writes per number. Runs recorded with the three markers (or fewer)
 * replay as before, since this patch is absent from their histories and each older patch is then
 * asked for as it was. Only this patch is decided once, at the start: a replayed run never turns
 * to it when it reaches live execution, so its later patches keep being asked for one by one.
 */
export const ONE_MARKER_PATCH = 'one-marker-for-all-patches';

/**
 * Steps whose stage is not written to OnboardingStatus on the lean path (the status query still
 * reports it): generatePin is CPU work in the worker and lasts milliseconds, and the lookup of
 * `register: auto` reads the number right after its PIN was set, so a number waiting there (Meta
 * throttling) is found under SettingPin, like any other wait on Meta before registering. Every
 * other stage is one a number can wait in, so it stays searchable: storing while the vault is down,
 * setting while Meta throttles, registering (up to 72 h for the budget), parked, the outcomes.
 */
const UNWRITTEN_STEPS: ReadonlySet<StepName> = new Set<StepName>(['generatePin', 'lookUpRegistration']);

/**
 * One number, start to finish: generate a PIN, store it in the vault, set exactly that stored PIN
 * on Meta, then register the number on Cloud API with the same stored PIN when its input asks for
 * it. The order is the point: a PIN Meta holds is always in the vault first. Any step that fails
 * for good parks the workflow in AwaitingManualReset for a human, with the runbook for the cause.
 */
export async function registerNumber(input: RegisterNumberInput): Promise<RegisterNumberResult> {
  const { phoneNumberId } = input;
  const { workflowId } = workflowInfo();
  const profiles = activityProfiles(input.retrySchedules);
  // Each proxy offers only the activities its queue serves (src/activities/activity-registry.ts):
  // a Graph activity called through an onboarding-queue profile does not compile.
  type OnboardingQueue = ActivitiesOn<typeof ONBOARDING_TASK_QUEUE>;
  type GraphQueue = ActivitiesOn<typeof GRAPH_TASK_QUEUE>;
  const current = patched(ONE_MARKER_PATCH);
  const lean = current || patched(LEAN_PATH_PATCH);
  // Every call carries its summary for the UI's timeline (ui-descriptions.ts), so the proxies are
  // made per call; they are plain objects, and a summary is not part of what replay compares.
  const stepsWith = (summary: string): StepFunctions => {
    const { generatePin } = lean
      ? proxyLocalActivities<OnboardingQueue>({ ...localOptions(profiles.generatePin), summary })
      : proxyActivities<OnboardingQueue>({ ...profiles.generatePin, summary });
    const { storePinInVault } = proxyActivities<OnboardingQueue>({ ...profiles.vault, summary });
    const graph = proxyActivities<GraphQueue>({ ...profiles.graph, summary });
    const { registerPhoneNumber } = proxyActivities<GraphQueue>({ ...profiles.register, summary });
    return {
      generatePin,
      storePinInVault,
      setTwoStepPin: graph.setTwoStepPin,
      lookUpRegistration: graph.lookUpRegistration,
      registerPhoneNumber,
    };
  };
  const registering = current || patched(REGISTRATION_PATCH);
  // The lean path takes every patch in its first workflow task, where all markers together are one
  // action (src/temporal/billable-actions.ts); older runs take this one when they first need it.
  const securityPatched = current || (lean ? patched(SECURITY_EVENTS_PATCH) : undefined);
  const securityPatch = (): boolean => securityPatched ?? patched(SECURITY_EVENTS_PATCH);

  recordStarted();
  const status: RegisterNumberStatus = {
    stage: 'GeneratingPin',
    phoneNumberId,
    tenant: input.tenant,
    attempts: 0,
    history: [],
  };
  const registration: RegistrationStatus | undefined = registering
    ? { choice: input.register ?? DEFAULT_REGISTER_CHOICE }
    : undefined;
  status.registration = registration;
  let request: OperatorRequest | undefined;

  const refuse = (signal: string, reason: string) => {
    status.lastRefusal = { at: new Date().toISOString(), signal, reason };
    log.warn('operator input refused', { signal, reason });
    if (status.stage === 'AwaitingManualReset') setCurrentDetails(awaitingManualResetDetails(status));
  };
  const notWaiting = () => {
    if (status.stage !== 'AwaitingManualReset')
      return `the workflow is ${status.stage}, not waiting for an operator`;
    if (request !== undefined) return `an operator's ${request.kind} is already being carried out`;
    return undefined;
  };
  // A manual reset means "Meta now holds the stored PIN": impossible before one was stored.
  const noStoredPin = () =>
    status.vault
      ? undefined
      : 'no PIN was stored for this number yet, so none can be set by hand: send retry';
  const accept = (next: OperatorRequest) => {
    request = next;
  };

  setHandler(statusQuery, () => status, { description: HANDLER_DESCRIPTIONS.status });
  setHandler(
    manualResetSignal,
    (payload) => {
      const problem = manualResetProblem(payload) ?? notWaiting() ?? noStoredPin();
      if (problem) refuse('manualReset', problem);
      else accept({ kind: 'manualReset', input: payload });
    },
    { description: HANDLER_DESCRIPTIONS.manualReset },
  );
  setHandler(
    retrySignal,
    (payload) => {
      const problem = retryProblem(payload) ?? notWaiting();
      if (problem) refuse('retry', problem);
      else accept({ kind: 'retry', input: payload ?? {} });
    },
    { description: HANDLER_DESCRIPTIONS.retry },
  );
  setHandler(
    manualResetUpdate,
    async (payload) => {
      accept({ kind: 'manualReset', input: payload });
      await condition(() => request === undefined);
      return status;
    },
    {
      validator: (payload: unknown) => {
        const problem = manualResetProblem(payload) ?? notWaiting() ?? noStoredPin();
        if (problem) throw new Error(problem);
      },
      description: HANDLER_DESCRIPTIONS.manualResetRequest,
    },
  );
  setHandler(
    retryUpdate,
    async (payload) => {
      accept({ kind: 'retry', input: payload ?? {} });
      await condition(() => request === undefined);
      return status;
    },
    {
      validator: (payload: unknown) => {
        const problem = retryProblem(payload) ?? notWaiting();
        if (problem) throw new Error(problem);
      },
      description: HANDLER_DESCRIPTIONS.retryRequest,
    },
  );

  listenForSecurityEvents(status, () =>
    setCurrentDetails(
      status.stage === 'AwaitingManualReset' ? awaitingManualResetDetails(status) : progressDetails(status),
    ),
  );
  // Each Graph call uses the number's tenant's token (GRAPH_TOKEN_SOURCE=vault; older runs pass
  // none) and spends its WABA's budget (src/graph/graph-budget.ts).
  const graphCaller = (): { tenant?: string; wabaId?: string } => ({
    ...(input.tenant !== undefined && securityPatch() ? { tenant: input.tenant } : {}),
    ...(input.wabaId !== undefined ? { wabaId: input.wabaId } : {}),
  });
  let securityEventOutcome: RegisterNumberResult['securityEvent'];

  /** Writes the stage to OnboardingStatus; on the lean path only once, and not for passing steps. */
  const showStage = (stage: OnboardingStage, fromStep?: StepName) => {
    if (lean) {
      if (fromStep !== undefined && UNWRITTEN_STEPS.has(fromStep)) return;
      if (workflowInfo().typedSearchAttributes.get(onboardingStatusKey) === stage) return;
    }
    upsertSearchAttributes([{ key: onboardingStatusKey, value: stage }]);
  };
  const enter = (stage: OnboardingStage, fromStep?: StepName) => {
    status.stage = stage;
    showStage(stage, fromStep);
    setCurrentDetails(progressDetails(status));
  };
  // Updates answer with the final status, so let them finish before the workflow closes.
  const finish = async (
    outcome: OnboardingOutcome,
    extra: Partial<RegisterNumberResult> = {},
  ): Promise<RegisterNumberResult> => {
    status.procedure = undefined;
    status.runbook = undefined;
    status.deadline = undefined;
    enter(outcome);
    recordFinished(outcome);
    await condition(allHandlersFinished);
    return {
      outcome,
      phoneNumberId,
      vault: status.vault,
      completedAt: new Date().toISOString(),
      ...(securityEventOutcome ? { securityEvent: securityEventOutcome } : {}),
      ...extra,
    };
  };

  let sealedPin: SealedPin | undefined;
  // Fixed once, so a retried vault write is recognisably the same write.
  const createdAt = new Date().toISOString();

  let step: StepName = 'generatePin';
  // A step's name picks both its activity and its stage, so the two cannot drift apart.
  const runStep = async <K extends StepName>(name: K, stepInput: StepInput<K>): Promise<StepResult<K>> => {
    step = name;
    enter(STEP_STAGES[name], name);
    const activity: StepFunctions[K] = stepsWith(stepSummary(name, stepInput))[name];
    return activity(stepInput);
  };

  // Registration state that outlives a park: what Meta said and what is done already.
  let pinSet = false;
  let notRegistered = false;

  /** Registers with the stored PIN; on a spent budget waits once for the window, then tries again. */
  const registerWithinBudget = async (reg: RegistrationStatus, version: number): Promise<void> => {
    let waited = false;
    for (;;) {
      try {
        const done = await runStep('registerPhoneNumber', { phoneNumberId, version, ...graphCaller() });
        reg.budget = done.budget;
        return;
      } catch (err) {
        reg.budget = budgetOf(err) ?? reg.budget;
        const type = failureTypeOf(err);
        const spent = type === 'GraphRegisterLimit' || type === 'RegisterBudgetSpent';
        if (!spent || waited || !reg.budget) throw err;
        // A durable timer, not a person: the window reopens by itself. One more try after it.
        waited = true;
        reg.waitingUntil = reg.budget.nextCallAllowedAt;
        setCurrentDetails(progressDetails(status));
        log.warn('registration budget spent: waiting for the window', {
          phoneNumberId,
          until: reg.waitingUntil,
        });
        await sleep(Date.parse(reg.budget.nextCallAllowedAt) - Date.now() + BUDGET_WAIT_MARGIN_MS, {
          summary: budgetWaitSummary(reg.budget.nextCallAllowedAt),
        });
        reg.waitingUntil = undefined;
      }
    }
  };

  /** Sets the stored PIN, then registers the number as its choice says. */
  const setPinAndRegister = async (
    reg: RegistrationStatus,
    version: number,
  ): Promise<RegistrationOutcome> => {
    if (!pinSet && !notRegistered) {
      try {
        await runStep('setTwoStepPin', { phoneNumberId, version, ...graphCaller() });
        pinSet = true;
      } catch (err) {
        // "Not registered" is what a number fresh from signup answers: registering with the
        // stored PIN sets it as the two-step PIN, so that is the next step when allowed.
        if (failureTypeOf(err) !== 'GraphNotRegistered' || reg.choice === 'never') throw err;
        notRegistered = true;
        log.info('Meta says the number is not registered: registering it with the stored PIN', {
          phoneNumberId,
        });
      }
    }
    if (reg.choice === 'never') return 'notRequested';
    if (reg.choice === 'auto' && !notRegistered) {
      const found = await runStep('lookUpRegistration', { phoneNumberId, ...graphCaller() });
      reg.budget = found.budget;
      reg.platformType = found.platformType;
      reg.verification = found.verification;
      if (found.registered) return 'alreadyRegistered';
      if (found.onPremises) return 'onPremises';
    }
    await registerWithinBudget(reg, version);
    pinSet = true;
    return 'registered';
  };

  // A run started for Meta's security event on a closed number: record it, then the policy decides.
  let parkFirst: StepFailure | undefined;
  if (input.securityEvent && securityPatch()) {
    const event = input.securityEvent;
    const at = new Date().toISOString();
    try {
      const { recordSecurityEvent } = proxyActivities<OnboardingQueue>({
        ...profiles.vault,
        summary: stepSummary('recordSecurityEvent', {}),
      });
      const recorded = await recordSecurityEvent({
        phoneNumberId,
        event: event.event,
        key: event.key,
        ...(event.occurredAt !== undefined ? { occurredAt: event.occurredAt } : {}),
        ...(event.requester !== undefined ? { requester: event.requester } : {}),
        recordedAt: at,
      });
      const decision = decideSecurityEvent(event, recorded, at);
      const handling =
        decision.kind === 'finish' ? decision.handling : decision.kind === 'reset' ? 'reset' : 'alert';
      noteSecurityEvent(status, event, handling);
      securityEventOutcome = { event: event.event, handling };
      log.warn('security event handled', { phoneNumberId, event: event.event, handling });
      if (decision.kind === 'finish') {
        if (recorded.recorded && recorded.active) status.vault = recorded.active;
        return await finish('Completed');
      }
      if (decision.kind === 'park') {
        status.vault = decision.vault;
        parkFirst = decision.failure;
      }
    } catch (err) {
      // The vault kept failing: nothing was decided, a person looks (retry sets a fresh PIN).
      noteSecurityEvent(status, event, 'alert');
      securityEventOutcome = { event: event.event, handling: 'alert' };
      parkFirst = describeStepFailure('recordSecurityEvent', err);
    }
  }

  for (;;) {
    if (parkFirst) {
      status.lastError = parkFirst;
      parkFirst = undefined;
    } else {
      try {
        sealedPin ??= await runStep('generatePin', { phoneNumberId });
        status.vault ??= await runStep('storePinInVault', {
          phoneNumberId,
          workflowId,
          sealedPin,
          createdAt,
        });
        if (!registration) {
          await runStep('setTwoStepPin', { phoneNumberId, version: status.vault.version, ...graphCaller() });
          status.lastError = undefined;
          return await finish('Completed');
        }
        registration.outcome ??= await setPinAndRegister(registration, status.vault.version);
        status.lastError = undefined;
        return await finish('Completed', { registration: registration.outcome });
      } catch (err) {
        status.lastError = describeStepFailure(step, err);
        status.attempts = status.lastError.attempts ?? 0;
        if (registration) registration.budget = budgetOf(err) ?? registration.budget;
      }
    }

    // Park until a person acts. A failed manual reset comes back here with its own reason.
    for (;;) {
      const decision = await awaitOperator(input.manualResetDeadline);
      if (decision === 'deadline') {
        log.warn('nobody acted before the deadline: abandoning', { phoneNumberId });
        return await finish('Abandoned', { reason: status.lastError?.message });
      }
      status.history.push({ kind: decision.kind, ...decision.input, at: new Date().toISOString() });
      if (decision.kind === 'retry') {
        // After a hand change, retry means a fresh PIN through the API, stored first.
        if (status.lastError?.type === 'PinDrift' || status.lastError?.step === 'recordSecurityEvent') {
          status.vault = undefined;
        }
        request = undefined;
        break;
      }
      try {
        const vault = requireStoredPin(status.vault);
        const { markPinActive } = proxyActivities<OnboardingQueue>({
          ...profiles.vault,
          summary: stepSummary('markPinActive', vault),
        });
        await markPinActive({ phoneNumberId, version: vault.version });
        request = undefined;
        return await finish('CompletedManually', { operator: decision.input.operator });
      } catch (err) {
        status.lastError = describeStepFailure('markPinActive', err);
        request = undefined;
      }
    }
  }

  async function awaitOperator(deadlineSetting: Duration | undefined): Promise<OperatorRequest | 'deadline'> {
    const timeout: Duration = deadlineSetting ?? DEFAULT_MANUAL_RESET_DEADLINE;
    const startedWaiting = Date.now();
    status.stage = 'AwaitingManualReset';
    const book = runbookOf(status);
    status.runbook = book.id;
    status.procedure = procedureText(book);
    status.deadline = new Date(startedWaiting + durationToMs(timeout)).toISOString();
    showStage('AwaitingManualReset');
    setCurrentDetails(awaitingManualResetDetails(status));
    log.warn('waiting for an operator', { phoneNumberId, failure: status.lastError?.type });
    recordParked(status.lastError);
    const acted = await condition(() => request !== undefined, timeout, {
      summary: operatorWaitSummary(status.deadline),
    });
    return acted && request ? request : 'deadline';
  }
}

function applicationFailureOf(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? cause : undefined;
}

function failureTypeOf(err: unknown): string | undefined {
  return applicationFailureOf(err)?.type ?? undefined;
}

/** The registration budget a failed lookup or registration carried in its details. */
function budgetOf(err: unknown): RegistrationBudget | undefined {
  const details = applicationFailureOf(err)?.details?.[0] as RegistrationFailureDetails | undefined;
  return details?.budget;
}

/** A local activity keeps its activity profile's timeouts and retry policy. */
function localOptions(options: ActivityOptions): LocalActivityOptions {
  return {
    startToCloseTimeout: options.startToCloseTimeout,
    scheduleToCloseTimeout: options.scheduleToCloseTimeout,
    retry: options.retry,
  };
}

function requireStoredPin(vault: VaultLocation | undefined): VaultLocation {
  if (!vault) {
    throw ApplicationFailure.nonRetryable(
      'no PIN was stored for this number, so there is nothing to mark as set by hand: send retry instead',
      'NoStoredPin',
    );
  }
  return vault;
}

interface ActivityFailureDetails {
  attempt?: number;
  httpStatus?: number;
  graphCode?: number;
  graphSubcode?: number;
  fbtraceId?: string;
  tokenPath?: string;
}

/**
 * What the operator reads about a failed step. Every type is one of the vocabulary's: a failure
 * that arrives under any other name (a worker's NotFoundError for an activity it does not serve,
 * a cancellation) is reported as UnexpectedError, its own name kept in the message.
 */
function describeStepFailure(step: StepFailure['step'], err: unknown): StepFailure {
  const at = new Date().toISOString();
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const d = (cause.details?.[0] ?? {}) as ActivityFailureDetails;
    const known = isFailureType(cause.type);
    return {
      step,
      type: known ? cause.type : 'UnexpectedError',
      message: known ? cause.message : `${cause.type ?? 'ApplicationFailure'}: ${cause.message}`,
      graphCode: d.graphCode,
      graphSubcode: d.graphSubcode,
      fbtraceId: d.fbtraceId,
      httpStatus: d.httpStatus,
      attempts: d.attempt,
      ...(d.tokenPath !== undefined ? { tokenPath: d.tokenPath } : {}),
      at,
    };
  }
  if (cause instanceof TimeoutFailure) {
    return {
      step,
      type: 'RetriesExhausted',
      message: `${step} kept failing until its retry window closed (${cause.timeoutType ?? 'timeout'})`,
      at,
    };
  }
  return { step, type: 'UnexpectedError', message: err instanceof Error ? err.message : String(err), at };
}
