// What the Temporal UI shows for each part of registerNumber: the description of every signal,
// update and query ("Send a Signal", "Query" and "Update" list it beside the name) and the
// summary of each activity call and of the wait for an operator, so the timeline reads as the
// steps of the runbook. Text only: no phone number id and never a PIN. Summaries travel in the
// commands' user metadata, which replay does not compare, so changing one keeps histories valid.

export const HANDLER_DESCRIPTIONS = {
  status:
    'Where this number is: stage, attempts, the last failure, the vault path and version of the stored PIN (never the PIN), and the WhatsApp Manager steps while a person is needed.',
  manualReset:
    'Send after setting the stored PIN by hand in WhatsApp Manager ("Change PIN"): marks that vault version active and completes as CompletedManually. Input: {"operator":"your name","note":"optional"}.',
  retry:
    'Send after fixing the cause (token rotated, permission granted, vault unsealed): runs the failed step again with a fresh retry budget. Input: {"operator":"your name","note":"optional"} or nothing.',
  manualResetRequest:
    'Like the manualReset signal, but answers at once: refused with the reason (not waiting, no stored PIN, no operator), or the status once the reset is done. Input: {"operator":"your name","note":"optional"}.',
  pinChanged:
    "Meta's security webhook: the PIN was changed in WhatsApp Manager. Sent by the trigger; shown as evidence in the status and details, it never completes the workflow.",
  twoStepReset:
    "Meta's security webhook: turning two-step verification off was requested (PIN_RESET_REQUEST) or done (PIN_REQUEST_SUCCESS). Sent by the trigger; shown as evidence.",
  retryRequest:
    'Like the retry signal, but answers at once: refused with the reason, or the status once the retried step finished (Completed, or waiting again with the new reason).',
} as const;

export type SummarisedStep =
  | 'generatePin'
  | 'storePinInVault'
  | 'setTwoStepPin'
  | 'lookUpRegistration'
  | 'registerPhoneNumber'
  | 'markPinActive'
  | 'recordSecurityEvent';

/** The line an activity call shows in the UI's timeline and event history. */
export function stepSummary(step: SummarisedStep, input: object): string {
  const version = 'version' in input && typeof input.version === 'number' ? input.version : undefined;
  const v = version === undefined ? 'the stored PIN' : `stored PIN v${version}`;
  switch (step) {
    case 'generatePin':
      return 'generate a 6-digit PIN, sealed with the worker-only key';
    case 'storePinInVault':
      return 'store the PIN in the vault as the pending version, before Meta sees it';
    case 'setTwoStepPin':
      return `set ${v} on Meta as the two-step PIN, then mark it active in the vault`;
    case 'lookUpRegistration':
      return 'ask Meta whether the number is registered on Cloud API, and the budget left';
    case 'registerPhoneNumber':
      return `register the number on Cloud API with ${v} (counts against 10 calls per 72 h)`;
    case 'markPinActive':
      return `mark ${v} active: an operator set it by hand in WhatsApp Manager`;
    case 'recordSecurityEvent':
      return "record Meta's security event (WhatsApp Manager change) on the vault record: when, who";
  }
}

/** The durable timer of AwaitingManualReset. */
export function operatorWaitSummary(deadline: string | undefined): string {
  return `wait for an operator (manualReset or retry) until ${deadline ?? 'the deadline'}, then Abandoned`;
}

/** The durable timer of a spent registration budget. */
export function budgetWaitSummary(until: string): string {
  return `wait for Meta's registration window to reopen at ${until}, then register once more`;
}
