// The words an engineer reads in the Temporal UI ("current details") and in `status`
// while a number waits for a human. Pure functions: they run inside the workflow.
import type { FailureType } from './failure-types';
import { workflowIdFor, type RegisterNumberStatus, type StepFailure, type VaultLocation } from './messages';

export function changePinProcedure(vault: VaultLocation | undefined): string {
  const where = vault
    ? `the PIN stored at \`${vault.path}\`, version ${vault.version}`
    : 'a PIN that is stored in the vault first (no PIN was stored for this number yet: prefer `retry`)';
  return [
    `In WhatsApp Manager, set the two-step PIN of this number to ${where}:`,
    '1. Open Meta Business Settings, then Accounts > WhatsApp Accounts, and pick the client WABA.',
    '2. Open WhatsApp Manager for that account (its Settings tab), then Phone numbers.',
    '3. Choose this phone number, open its Settings, then Two-step verification.',
    '4. Choose Change PIN, type the stored PIN, confirm it, and save.',
  ].join('\n');
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

/** The one thing an operator should do next, in the words of the Current Details' first lines. */
export type NextAction = 'retry' | 'manualReset';

interface Advice {
  /** What went wrong, as a sentence fragment: "Meta refused the access token". */
  what: string;
  /** What to fix before sending `retry` (ignored when the next action is a manual reset). */
  fix: string;
  /** A manual reset is the way out (when a PIN is stored); otherwise fix the cause and retry. */
  byHand?: boolean;
}

const MODERATE_FIX = 'check that Meta and the network are reachable again';

// Keyed by StepFailure.type (the failure vocabulary, so a misspelt key does not compile). Plain
// words first; the exact type and codes follow in the details.
const ADVICE: Readonly<Partial<Record<FailureType, Advice>>> = {
  GraphAuthError: {
    what: 'Meta refused the access token, which has expired or was revoked',
    fix: 'give the workers a valid system-user token (GRAPH_ACCESS_TOKEN, or the vault with GRAPH_TOKEN_SOURCE=vault)',
  },
  GraphPermissionError: {
    what: 'the access token lacks a permission on this number',
    fix: "grant the system user whatsapp_business_management on the client's WABA",
  },
  GraphAccountRestricted: {
    what: 'Meta has locked or restricted this WhatsApp account and refused the PIN',
    fix: 'resolve the restriction in WhatsApp Manager',
    byHand: true,
  },
  GraphPinMismatch: {
    what: 'Meta says the number already has a different PIN',
    fix: 'set the stored PIN by hand',
    byHand: true,
  },
  GraphPinGuessLimit: {
    what: 'Meta blocked further PIN attempts on this number for a while',
    fix: 'wait for the block to end',
    byHand: true,
  },
  GraphUnknownNumber: {
    what: 'Meta does not know this phone-number id, or the token cannot see it',
    fix: 'check the id and that the number belongs to a WABA the token can reach',
  },
  GraphInvalidParameter: {
    what: 'Meta rejected the request as invalid for this number',
    fix: "check the number's state in WhatsApp Manager",
  },
  GraphNumberRecentlyDeleted: {
    what: 'the number was deleted recently and Meta asks to wait 5 minutes',
    fix: 'wait 5 minutes',
  },
  GraphRegisterLimit: {
    what: "Meta's budget of 10 registrations per 72 hours for this number is used up",
    fix: 'wait until the 72-hour window has passed',
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
};

const STEP_WORDS: Readonly<Record<StepFailure['step'], string>> = {
  generatePin: 'generating the PIN',
  storePinInVault: 'storing the PIN in the vault',
  setTwoStepPin: 'setting the PIN on Meta',
  markPinActive: 'recording your manual reset in the vault',
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
  return status.vault && adviceFor(status.lastError).byHand ? 'manualReset' : 'retry';
}

/** The opening lines: what happened and the one next action, in plain words. */
export function plainSummary(status: RegisterNumberStatus): string[] {
  const f = status.lastError;
  const advice = adviceFor(f);
  const code = f?.graphCode !== undefined ? ` (Graph code ${f.graphCode})` : '';
  const where = f ? `while ${STEP_WORDS[f.step]}, ` : '';
  const pin = status.vault
    ? `The PIN is safe in the vault (version ${status.vault.version}); Meta has not confirmed it.`
    : 'No PIN was stored yet.';
  const what = `${where}${advice.what}${code}.`;
  const json = JSON.stringify({ operator: 'your.name' });
  const next =
    nextAction(status) === 'manualReset'
      ? `Set the stored PIN by hand in WhatsApp Manager (steps under **A** below), then send the \`manualReset\` signal with \`${json}\`.`
      : `${capitalise(advice.fix)}, then send the \`retry\` signal with \`${json}\`.`;
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

export function awaitingManualResetDetails(status: RegisterNumberStatus): string {
  const workflowId = workflowIdFor(status.phoneNumberId);
  const vault = status.vault;
  const readPin = vault
    ? `\`bao kv get -version=${vault.version} ${vault.path}\` (or \`vault kv get\`), field \`pin\``
    : 'nothing: no PIN has been stored yet';
  const resetJson = JSON.stringify({ operator: 'your.name', note: 'PIN changed in WhatsApp Manager' });
  const retryJson = JSON.stringify({ operator: 'your.name', note: 'what was fixed' });
  return [
    `## Number ${status.phoneNumberId} needs a person: its two-step PIN is not set`,
    ...plainSummary(status),
    '### What failed',
    status.lastError ? describeFailure(status.lastError) : 'No failure was recorded.',
    '### Where the PIN is',
    vault
      ? `Vault path \`${vault.path}\`, version **${vault.version}** (pending until this workflow finishes). Read it with ${readPin}. The PIN is never shown here.`
      : 'No PIN was stored: the failure came before the vault write.',
    '### Fix it in one of two ways',
    `**A. Set the stored PIN by hand**, then send the \`manualReset\` signal.\n\n${changePinProcedure(vault)}\n\n` +
      `Then, in this page's "Send a Signal" box, name \`manualReset\` with input \`${resetJson}\`, or run:\n\n` +
      `\`temporal workflow signal --workflow-id ${workflowId} --name manualReset --input '${resetJson}'\``,
    `**B. Fix the cause** (rotate the Graph token, grant the permission, unseal the vault), then send \`retry\`:\n\n` +
      `\`temporal workflow signal --workflow-id ${workflowId} --name retry --input '${retryJson}'\`\n\n` +
      'The failed step runs again with a fresh retry budget; if it fails again this page explains the new reason.',
    status.deadline
      ? `If nobody acts before **${status.deadline}**, the workflow ends as \`Abandoned\`.`
      : 'This workflow waits until somebody acts.',
  ].join('\n\n');
}

export function progressDetails(status: RegisterNumberStatus): string {
  const vault = status.vault ? ` · PIN at \`${status.vault.path}\` v${status.vault.version}` : '';
  return `**${status.stage}** for number ${status.phoneNumberId}${vault}`;
}
