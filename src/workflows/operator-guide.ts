// The words an engineer reads in the Temporal UI ("current details") and in `status`
// while a number waits for a human. Pure functions: they run inside the workflow.
// Two layers: plain words per failure type (what happened, what to fix) open the page, and the
// runbook of the cause (src/workflows/runbooks.ts) gives the steps and the signal that finishes.
import type { FailureType } from './failure-types';
import { workflowIdFor, type RegisterNumberStatus, type StepFailure } from './messages';
import { runbook, runbookFor, runbookMarkdown, type NextAction, type Runbook } from './runbooks';
import { securityEvidenceMarkdown } from './security-evidence';

export { changePinProcedure, type NextAction } from './runbooks';

/** The runbook for the status's last failure ("unexpected" when none was recorded). */
export function runbookOf(status: RegisterNumberStatus): Runbook {
  const id = status.lastError ? runbookFor(status.lastError) : 'unexpected';
  return runbook(id, {
    phoneNumberId: status.phoneNumberId,
    vault: status.vault,
    nextRegistrationCallAt: status.registration?.budget?.nextCallAllowedAt,
    ...(status.lastError?.tokenPath ? { tokenPath: status.lastError.tokenPath } : {}),
  });
}

/** The runbook as the plain-text procedure of the status query. */
export function procedureText(book: Runbook): string {
  return [`${book.title} (runbook ${book.id}):`, ...book.steps.map((s, i) => `${i + 1}. ${s}`)].join('\n');
}

function describeFailure(f: StepFailure): string {
  const facts = [
    `step \`${f.step}\``,
    `type \`${f.type}\``,
    f.graphCode !== undefined &&
      `Graph code ${f.graphCode}${f.graphSubcode !== undefined ? `/${f.graphSubcode}` : ''}`,
    f.httpStatus !== undefined && `HTTP ${f.httpStatus}`,
    f.fbtraceId && `fbtrace_id \`${f.fbtraceId}\``,
    f.attempts !== undefined && `${f.attempts} attempt${f.attempts === 1 ? '' : 's'}`,
  ].filter(Boolean);
  return `${facts.join(' · ')}\n\n> ${f.message.replace(/\n/g, '\n> ')}`;
}

interface Advice {
  /** What went wrong, as a sentence fragment: "Meta refused the access token". */
  what: string;
  /** What to fix before sending `retry`, unless the cause's runbook says it. */
  fix: string;
}

const MODERATE_FIX = 'check that Meta and the network are reachable again';
const PIN_FIX =
  "set the number's two-step PIN in WhatsApp Manager to the stored one (or turn two-step verification off there)";

// Keyed by StepFailure.type (the failure vocabulary, so a misspelt key does not compile). Plain
// words first; the exact type and codes follow in the details.
const ADVICE: Readonly<Partial<Record<FailureType, Advice>>> = {
  GraphAuthError: {
    what: 'Meta refused the access token, which has expired or was revoked',
    fix: 'give the workers a valid system-user token (GRAPH_ACCESS_TOKEN, or the vault with GRAPH_TOKEN_SOURCE=vault)',
  },
  GraphPermissionError: {
    what: 'the access token lacks a permission on this number',
    fix: "grant the system user whatsapp_business_management on the client's WABA, and link the app to that WABA",
  },
  GraphAccountRestricted: {
    what: 'Meta has locked or restricted this WhatsApp account and refused the PIN',
    fix: 'resolve the restriction in WhatsApp Manager',
  },
  GraphPinMismatch: { what: 'Meta says the number already has a different PIN', fix: PIN_FIX },
  GraphRegisterPinRejected: {
    what: 'Meta refused the stored PIN when registering the number (the account is locked, or the number has another two-step PIN)',
    fix: PIN_FIX,
  },
  GraphPinGuessLimit: {
    what: 'Meta blocked further PIN attempts on this number for a while',
    fix: 'wait for the block to end',
  },
  GraphUnknownNumber: {
    what: 'Meta does not know this phone-number id, or the token cannot see it',
    fix: 'check the id and that the number belongs to a WABA the token can reach',
  },
  GraphInvalidParameter: {
    what: 'Meta rejected the request as invalid for this number',
    fix: "check the number's state in WhatsApp Manager",
  },
  GraphNotRegistered: {
    what: 'Meta says the number is not registered on Cloud API',
    fix: 'register it as its runbook below says',
  },
  GraphNumberNotVerified: {
    what: 'the number is not verified, so it cannot be registered',
    fix: 'verify the number (WhatsApp Manager, or request_code and verify_code)',
  },
  GraphIncompleteDeregistration: {
    what: 'a previous deregistration of the number did not complete',
    fix: 'deregister the number again (POST /{id}/deregister)',
  },
  GraphNumberRecentlyDeleted: {
    what: 'the number was deleted recently and Meta asks to wait 5 minutes',
    fix: 'wait 5 minutes',
  },
  GraphRegisterLimit: {
    what: "Meta's budget of 10 registrations per 72 hours for this number is used up",
    fix: 'wait until the time named below',
  },
  RegisterBudgetSpent: {
    what: "the number's budget of 10 register/deregister calls per 72 hours is spent, so no call was made",
    fix: 'wait until the time named below',
  },
  GraphMaintenance: { what: 'Meta kept the business account in maintenance mode', fix: MODERATE_FIX },
  GraphUnconfirmedSuccess: {
    what: 'Meta\'s answers did not confirm the call ({"success":true} was missing)',
    fix: 'check the proxy or firewall between the workers and Meta',
  },
  GraphThrottled: { what: 'Meta kept throttling the requests', fix: 'let the throttling pass' },
  GraphServerError: { what: 'Meta kept answering with server errors', fix: MODERATE_FIX },
  GraphTimeout: { what: 'Meta kept not answering in time', fix: MODERATE_FIX },
  GraphConnectionError: { what: 'Meta could not be reached', fix: MODERATE_FIX },
  GraphUnexpectedResponse: { what: 'Meta answered with something unexpected', fix: MODERATE_FIX },
  RetriesExhausted: { what: 'the step kept failing until its retry window closed', fix: MODERATE_FIX },
  VaultSealed: { what: 'the vault is sealed', fix: 'unseal the vault' },
  VaultPermissionDenied: {
    what: "the vault refused the worker's credentials",
    fix: "fix the worker's AppRole and policy (npm run vault-setup)",
  },
  VaultLoginFailed: {
    what: 'the worker could not log in to the vault',
    fix: "fix the worker's AppRole credentials (VAULT_ROLE_ID, VAULT_SECRET_ID)",
  },
  PinSealError: {
    what: 'a worker could not open the sealed PIN',
    fix: 'give every worker the same PIN_SEALING_KEYS',
  },
  ConfigError: { what: "a worker's configuration is wrong", fix: 'fix the variable named below' },
  NoStoredPin: { what: 'no PIN was stored, so none can be set by hand', fix: 'nothing' },
  TenantTokenMissing: {
    what: "the vault holds no Graph token for this number's tenant",
    fix: "put the tenant's business token at the vault path named below (no restart needed)",
  },
  PinDrift: {
    what: 'someone changed the PIN (or turned two-step off) in WhatsApp Manager, so the vault no longer holds what Meta has',
    fix: 'check the change with the client (when and who are below); retry then sets a fresh PIN through the API, stored first',
  },
};

const STEP_WORDS: Readonly<Record<StepFailure['step'], string>> = {
  generatePin: 'generating the PIN',
  storePinInVault: 'storing the PIN in the vault',
  setTwoStepPin: 'setting the PIN on Meta',
  lookUpRegistration: 'reading the number from Meta',
  registerPhoneNumber: 'registering the number on Cloud API',
  markPinActive: 'recording your manual reset in the vault',
  recordSecurityEvent: "recording Meta's security event in the vault",
};

function adviceFor(f: StepFailure | undefined): Advice {
  if (!f) return { what: 'the onboarding stopped without a recorded failure', fix: 'read the history' };
  const known = ADVICE[f.type];
  if (known) return known;
  if (f.type.startsWith('Vault'))
    return { what: 'the vault refused or failed the request', fix: 'check the vault' };
  return { what: `it failed with \`${f.type}\``, fix: 'read the message below and fix its cause' };
}

/** The action the first lines of the details recommend: a manual reset needs a stored PIN. */
export function nextAction(status: RegisterNumberStatus): NextAction {
  return status.vault && runbookOf(status).nextAction === 'manualReset' ? 'manualReset' : 'retry';
}

/** The opening lines: what happened and the one next action, in plain words. */
export function plainSummary(status: RegisterNumberStatus): string[] {
  const f = status.lastError;
  const advice = adviceFor(f);
  const book = runbookOf(status);
  const code = f?.graphCode !== undefined ? ` (Graph code ${f.graphCode})` : '';
  const where = f ? `while ${STEP_WORDS[f.step]}, ` : '';
  const pin = !status.vault
    ? 'No PIN was stored yet.'
    : f?.type === 'PinDrift'
      ? `The vault's version ${status.vault.version} is what Meta held until that change.`
      : `The PIN is safe in the vault (version ${status.vault.version}); Meta has not confirmed it.`;
  const what = `${where}${advice.what}${code}.`;
  const json = JSON.stringify({ operator: 'your.name' });
  const action = nextAction(status);
  // The runbook's own next step where it has one (and a stored PIN allows it), else the type's fix.
  const fix = action === book.nextAction ? (book.fix ?? advice.fix) : advice.fix;
  const next = `${capitalise(fix)}, then send the \`${action}\` signal with \`${json}\`.`;
  const lines = [`**What happened:** ${capitalise(what)} ${pin}`, `**Next action:** ${next}`];
  if (status.lastRefusal) {
    lines.push(
      `**Your last \`${status.lastRefusal.signal}\` signal was refused** (${status.lastRefusal.at}): ${status.lastRefusal.reason}`,
    );
  }
  return lines;
}

function capitalise(text: string): string {
  return `${text[0]?.toUpperCase() ?? ''}${text.slice(1)}`;
}

/** "3 of 10 register/deregister calls used in 72 h; the oldest frees at ...". */
export function budgetLine(status: RegisterNumberStatus): string | undefined {
  const budget = status.registration?.budget;
  if (!budget) return undefined;
  const frees = budget.nextFreesAt ? `; the oldest frees at ${budget.nextFreesAt}` : '';
  const next = budget.canRegisterNow
    ? 'a call is allowed now'
    : `next call allowed at ${budget.nextCallAllowedAt}`;
  return `Registration budget: ${budget.usedInWindow} of ${budget.limit} register/deregister calls used in 72 h${frees}; ${next}.`;
}

const REGISTRATION_STEPS: ReadonlySet<StepFailure['step']> = new Set([
  'lookUpRegistration',
  'registerPhoneNumber',
]);

export function awaitingManualResetDetails(status: RegisterNumberStatus): string {
  const workflowId = workflowIdFor(status.phoneNumberId);
  const vault = status.vault;
  const book = runbookOf(status);
  const readPin = vault
    ? `\`bao kv get -version=${vault.version} ${vault.path}\` (or \`vault kv get\`), field \`pin\``
    : 'nothing: no PIN has been stored yet';
  const resetJson = JSON.stringify({ operator: 'your.name', note: 'PIN changed in WhatsApp Manager' });
  const retryJson = JSON.stringify({ operator: 'your.name', note: 'what was fixed' });
  const retry =
    `**Send \`retry\`** once the cause is fixed: in this page's "Send a Signal" box, name \`retry\` with input \`${retryJson}\`, or run ` +
    `\`temporal workflow signal --workflow-id ${workflowId} --name retry --input '${retryJson}'\` ` +
    `(or \`npm run ops -- retry ${status.phoneNumberId} --operator your.name\`). ` +
    'The failed step runs again with the same stored PIN and a fresh retry budget; if it fails again this page explains the new reason.';
  const manualReset =
    `**Send \`manualReset\`** once Meta holds the stored PIN because a person set it: name \`manualReset\` with input \`${resetJson}\`, or run ` +
    `\`temporal workflow signal --workflow-id ${workflowId} --name manualReset --input '${resetJson}'\`.`;
  const heading =
    status.lastError && REGISTRATION_STEPS.has(status.lastError.step)
      ? `## Number ${status.phoneNumberId} needs a person: it is not registered on Cloud API`
      : `## Number ${status.phoneNumberId} needs a person: its two-step PIN is not set`;
  return [
    heading,
    ...plainSummary(status),
    '### What failed',
    status.lastError ? describeFailure(status.lastError) : 'No failure was recorded.',
    securityEvidenceMarkdown(status.securityEvents ?? [], { vault }),
    '### Where the PIN is',
    vault
      ? `Vault path \`${vault.path}\`, version **${vault.version}** (pending until this workflow finishes). Read it with ${readPin}. The PIN is never shown here.`
      : 'No PIN was stored: the failure came before the vault write.',
    runbookMarkdown(book),
    '### Finish',
    ...(book.nextAction === 'manualReset' ? [manualReset, `Or: ${retry}`] : [retry]),
    budgetLine(status) ?? '',
    status.deadline
      ? `If nobody acts before **${status.deadline}**, the workflow ends as \`Abandoned\`.`
      : 'This workflow waits until somebody acts.',
  ]
    .filter(Boolean)
    .join('\n\n');
}

export function progressDetails(status: RegisterNumberStatus): string {
  const vault = status.vault ? ` · PIN at \`${status.vault.path}\` v${status.vault.version}` : '';
  const waiting = status.registration?.waitingUntil
    ? `\n\nWaiting for Meta's registration window to reopen, until **${status.registration.waitingUntil}** (a durable timer; nothing to do).`
    : '';
  const budget = budgetLine(status);
  const evidence = securityEvidenceMarkdown(status.securityEvents ?? [], undefined);
  return [`**${status.stage}** for number ${status.phoneNumberId}${vault}${waiting}`, budget, evidence]
    .filter(Boolean)
    .join('\n\n');
}
