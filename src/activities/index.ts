// The activities, one file each; src/activities/activity-registry.ts says which queue runs which.
export type {
  ActivityDeps,
  GraphApi,
  OnboardingQueueDeps,
  PinVault,
  PinVersionInput,
  SetTwoStepPinInput,
} from './activity-deps';
export {
  activitiesByTaskQueue,
  ACTIVITY_REGISTRY,
  createActivities,
  TASK_QUEUE_ROLES,
  type ActivitiesOn,
  type ActivityName,
  type OnboardingActivities,
  type TaskQueueName,
} from './activity-registry';
export type { GeneratePinInput } from './generate-pin';
export type { LookUpRegistrationInput, LookUpRegistrationResult } from './look-up-registration';
export type { RegisterPhoneNumberResult, RegistrationFailureDetails } from './register-phone-number';
export type { RecordSecurityEventInput, RecordSecurityEventResult } from './record-security-event';
export type { SetTwoStepPinResult } from './set-two-step-pin';
export type { StorePinInput } from './store-pin-in-vault';
