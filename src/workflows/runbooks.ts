// One operator runbook per cause of a parked number: what to fix, where, and which signal finishes
// the job. The UI's current details, the status query and `npm run ops -- show` all print these.
// "Change the PIN in WhatsApp Manager" appears only where the PIN itself is the problem: for every
// other cause the stored PIN is fine and `retry` sends it again. Pure: runs inside the workflow.
import type { FailureType } from './failure-types';

export const RUNBOOK_IDS = [
  'pin-mismatch',
  'pin-guess-limit',
  'rotate-token',
  'tenant-token',
  'pin-drift',
  'grant-permission',
  'verify-number',
  'deregister-then-retry',
  'register-number',
  'registration-budget',
  'account-locked',
  'account-restricted',
  'unknown-number',
  'invalid-request',
  'meta-unreachable',
  'unconfirmed-answer',
  'ask-meta',
  'fix-vault',
  'fix-worker-keys',
  'unexpected',
] as const;

export type RunbookId = (typeof RUNBOOK_IDS)[number];

/** The signal that finishes: `retry` re-runs the failed step; `manualReset` records a PIN set by hand. */
export type NextAction = 'retry' | 'manualReset';

export interface Runbook {
  id: RunbookId;
  title: string;
  /** True only where the number's two-step PIN is what has to change. */
  pinIsTheProblem: boolean;
  nextAction: NextAction;
  /** What to do before that signal, when the cause decides it (else the failure type's own fix). */
  fix?: string;
  /** Numbered steps, Markdown, with the stored PIN's location filled in. */
  steps: string[];
}

/** What a runbook needs to know about the failure (a StepFailure fits). */
export interface RunbookCause {
  step: string;
  /** A vocabulary type; anything else (an older run's name) gets the "unexpected" runbook. */
  type: FailureType | (string & {});
  graphCode?: number;
}

export interface RunbookContext {
  phoneNumberId: string;
  /** The stored PIN's vault location, when one is stored. */
  vault?: { path: string; version: number };
  /** When the registration budget lets the next call go (ISO), for the budget runbook. */
  nextRegistrationCallAt?: string;
  /** The vault path of the tenant's Graph token (GRAPH_TOKEN_SOURCE=vault), for the token runbooks. */
  tokenPath?: string;
}

const REGISTRATION_STEP = 'registerPhoneNumber';

// Every failure type has a runbook: a new type without one does not compile. Transient types get
// one too, for when their retry window closes.
const RUNBOOK_BY_TYPE: Record<FailureType, RunbookId | ((cause: RunbookCause) => RunbookId)> = {
  GraphPinMismatch: 'pin-mismatch',
  GraphRegisterPinRejected: 'pin-mismatch',
  GraphPinGuessLimit: 'pin-guess-limit',
  GraphAuthError: 'rotate-token',
  GraphPermissionError: 'grant-permission',
  GraphNumberNotVerified: 'verify-number',
  GraphIncompleteDeregistration: 'deregister-then-retry',
  // /register itself answering "not registered" is Meta's to explain; elsewhere it means the number
  // needs registering and this run was not allowed to.
  GraphNotRegistered: ({ step }) => (step === REGISTRATION_STEP ? 'ask-meta' : 'register-number'),
  GraphRegisterLimit: 'registration-budget',
  RegisterBudgetSpent: 'registration-budget',
  // 368 is a policy block; 131031 is a lock, which Meta also answers when request data such as the
  // PIN does not match what the account holds (at /register it arrives as GraphRegisterPinRejected).
  GraphAccountRestricted: ({ graphCode }) => (graphCode === 368 ? 'account-restricted' : 'account-locked'),
  GraphUnknownNumber: 'unknown-number',
  GraphInvalidParameter: 'invalid-request',
  GraphThrottled: 'meta-unreachable',
  GraphServerError: 'meta-unreachable',
  GraphTimeout: 'meta-unreachable',
  GraphConnectionError: 'meta-unreachable',
  GraphMaintenance: 'meta-unreachable',
  GraphNumberRecentlyDeleted: 'meta-unreachable',
  RetriesExhausted: 'meta-unreachable',
  GraphUnconfirmedSuccess: 'unconfirmed-answer',
  GraphUnexpectedResponse: 'unconfirmed-answer',
  VaultSealed: 'fix-vault',
  VaultUnavailable: 'fix-vault',
  VaultThrottled: 'fix-vault',
  VaultPermissionDenied: 'fix-vault',
  VaultBadRequest: 'fix-vault',
  VaultCasMismatch: 'fix-vault',
  VaultNotFound: 'fix-vault',
  VaultMethodNotAllowed: 'fix-vault',
  VaultConnectionError: 'fix-vault',
  VaultLoginFailed: 'fix-vault',
  PinSealError: 'fix-worker-keys',
  ConfigError: 'fix-worker-keys',
  NoStoredPin: 'unexpected',
  UnexpectedError: 'unexpected',
  TenantTokenMissing: 'tenant-token',
  PinDrift: 'pin-drift',
};

/** The runbook for a failure: decided by its type, and by the step where Meta reuses codes. */
export function runbookFor(cause: RunbookCause): RunbookId {
  const entry = (RUNBOOK_BY_TYPE as Partial<Record<string, (typeof RUNBOOK_BY_TYPE)[FailureType]>>)[
    cause.type
  ];
  if (entry === undefined) return 'unexpected';
  return typeof entry === 'function' ? entry(cause) : entry;
}

/** Where to read the stored PIN, for the PIN runbooks (never the PIN itself). */
function storedPinReadout(ctx: RunbookContext): string {
  return ctx.vault
    ? `Read the stored PIN with \`bao kv get -version=${ctx.vault.version} ${ctx.vault.path}\`, field \`pin\`.`
    : 'No PIN is stored yet: send `retry` instead.';
}

function storedPin(ctx: RunbookContext): string {
  return ctx.vault
    ? `the stored PIN (vault \`${ctx.vault.path}\`, version ${ctx.vault.version}; read it with \`bao kv get -version=${ctx.vault.version} ${ctx.vault.path}\`, field \`pin\`)`
    : 'the stored PIN (none is stored yet: send `retry` instead)';
}

/** WhatsApp Manager's Change PIN steps, set to the stored version; used only by PIN runbooks. */
export function changePinProcedure(vault: { path: string; version: number } | undefined): string {
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

const RETRY = 'Send `retry`: the failed step runs again with the same stored PIN and a fresh retry budget.';

export function runbook(id: RunbookId, ctx: RunbookContext): Runbook {
  const base = { id, pinIsTheProblem: false, nextAction: 'retry' as NextAction };
  switch (id) {
    case 'pin-mismatch':
      return {
        ...base,
        title: 'The number already has a different two-step PIN',
        pinIsTheProblem: true,
        steps: [
          'Meta refused the stored PIN: the number has another two-step PIN. The product never tries a second PIN.',
          `${changePinProcedure(ctx.vault)}\n\n   Or, on the same page, choose **Turn off two-step verification** (Meta mails a confirmation link to the business). ${storedPinReadout(ctx)}`,
          `${RETRY} Registration then succeeds with the stored PIN, which becomes (or already is) the number's two-step PIN.`,
        ],
        fix: "set the number's two-step PIN in WhatsApp Manager to the stored one, or turn two-step verification off there",
      };
    case 'pin-guess-limit':
      return {
        ...base,
        title: 'Meta is refusing PIN attempts for a while',
        pinIsTheProblem: true,
        steps: [
          'Meta counted too many PIN attempts (or attempts too fast) on this number and named a wait; the product already waited it out and still got this answer.',
          'Do not try PINs by hand: every attempt extends the lock. Check in WhatsApp Manager that nobody else is registering the number.',
          `${RETRY} If Meta then reports a PIN mismatch, the pin-mismatch runbook applies.`,
        ],
      };
    case 'rotate-token':
      return {
        ...base,
        title: 'The Graph access token is invalid or expired',
        steps: ctx.tokenPath
          ? [
              "Meta refused this tenant's business token. Get a new one: exchange a fresh Embedded Signup code for a business token, or have the client share the WABA again.",
              `Write it to \`${ctx.tokenPath}\` (\`bao kv put ${ctx.tokenPath} access_token=@token.txt\`): workers read it on the next call, no restart. Other tenants are unaffected.`,
              `${RETRY} The PIN is not the problem: leave it as it is in WhatsApp Manager.`,
            ]
          : [
              'Create a new system-user token for the client business (Business Settings > System users > Generate new token, with whatsapp_business_management and whatsapp_business_messaging).',
              'Put it where the workers read it (`GRAPH_ACCESS_TOKEN`, or the vault when `GRAPH_TOKEN_SOURCE=vault`) and restart the workers.',
              `${RETRY} The PIN is not the problem: leave it as it is in WhatsApp Manager.`,
            ],
      };
    case 'tenant-token':
      return {
        ...base,
        title: "The vault has no Graph token for this number's tenant",
        fix: ctx.tokenPath
          ? `put the tenant's business token at \`${ctx.tokenPath}\``
          : 'start the number again under a tenant that names its token (docs/pin-drift.md)',
        steps: [
          ctx.tokenPath
            ? `With GRAPH_TOKEN_SOURCE=vault each tenant calls Meta with its own business-integration system-user token, read from \`${ctx.tokenPath}\`, which is empty. Nothing was sent to Meta.`
            : "With GRAPH_TOKEN_SOURCE=vault each call needs the number's tenant, and this number has none (or one that cannot name a vault path). Nothing was sent to Meta.",
          ctx.tokenPath
            ? `Write the token there without leaving it in the shell history: \`bao kv put ${ctx.tokenPath} access_token=@token.txt\`; and for each of the tenant's WABAs its index entry (\`.../wabas/<waba-id> tenant=<tenant>\`). No restart is needed.`
            : 'Terminate this workflow and start the number again with its tenant.',
          `${RETRY} The PIN is not the problem.`,
        ],
      };
    case 'pin-drift':
      return {
        ...base,
        title: 'The PIN was changed by hand in WhatsApp Manager',
        pinIsTheProblem: true,
        steps: [
          "Meta's security webhook reported a change made in WhatsApp Manager (when and who are above): the vault no longer holds the PIN Meta has. PIN_DRIFT_POLICY=alert leaves the decision to a person.",
          'Either send `retry`: a fresh PIN is generated, stored in the vault first, and set through the API (what the `reset` policy does on its own).',
          `Or set ${storedPin(ctx)} in WhatsApp Manager (the number's Settings, Two-step verification, Change PIN), then send \`manualReset\`.`,
        ],
      };
    case 'grant-permission':
      return {
        ...base,
        title: 'The app lacks a permission, or is not linked to the WABA',
        steps: [
          'Check the token in the access token debugger: it needs whatsapp_business_management (and whatsapp_business_messaging).',
          "Make sure the app is linked to the client's WABA (the client's system user is assigned the WABA and the app is subscribed), and that the token is the client's business-integration token.",
          RETRY,
        ],
      };
    case 'verify-number':
      return {
        ...base,
        title: 'The number must be verified before it can register',
        steps: [
          'Verify ownership of the number: in WhatsApp Manager, or with `POST /{id}/request_code` and `POST /{id}/verify_code` (embedded signup does both).',
          'The stored PIN stays valid; no PIN change is needed.',
          RETRY,
        ],
      };
    case 'deregister-then-retry':
      return {
        ...base,
        title: 'A previous deregistration did not complete',
        steps: [
          'Deregister the number again: `POST /{version}/{id}/deregister`. It counts against the same budget of 10 register/deregister calls per 72 hours.',
          `When it answers {"success":true}, ${RETRY.charAt(0).toLowerCase()}${RETRY.slice(1)}`,
        ],
      };
    case 'register-number':
      return {
        ...base,
        title: 'The number is not registered on Cloud API, and this run was not allowed to register it',
        nextAction: 'manualReset',
        fix: 'register the number with the stored PIN (or start its onboarding again with register: always)',
        steps: [
          'Meta says the number is not registered. This onboarding was started with `register: never`, so the product did not register it.',
          'Start the onboarding again with `register: always` (or `auto`), or register it yourself with the stored PIN; registration counts against the budget of 10 calls per 72 hours.',
          `After registering it yourself with ${storedPin(ctx)}, send \`manualReset\`.`,
        ],
      };
    case 'registration-budget':
      return {
        ...base,
        title: "Meta's registration budget for this number is spent",
        steps: [
          `Meta allows 10 register/deregister calls per number in 72 hours. The product waited for the window to reopen and tried once more; it was refused again. The next call is allowed ${ctx.nextRegistrationCallAt ? `from **${ctx.nextRegistrationCallAt}**` : 'once the window reopens'}.`,
          'Find out who else registers or deregisters this number (another tool, a person) and stop them.',
          `After that time, ${RETRY.charAt(0).toLowerCase()}${RETRY.slice(1)}`,
        ],
      };
    case 'account-locked':
      return {
        ...base,
        title: 'The business account is locked, or Meta did not accept the PIN',
        pinIsTheProblem: true,
        nextAction: 'manualReset',
        fix: 'set the stored PIN by hand in WhatsApp Manager (the steps below)',
        steps: [
          'Meta answered 131031: the account is locked, or data in the request (such as the PIN) did not match what the account holds.',
          `${changePinProcedure(ctx.vault)}\n\n   ${storedPinReadout(ctx)}`,
          'Then send `manualReset`. If WhatsApp Manager shows a lock instead, resolve it there and send `retry`.',
        ],
      };
    case 'account-restricted':
      return {
        ...base,
        title: 'The business account is restricted for a policy violation',
        steps: [
          'Open the WABA in Business Manager and WhatsApp Manager: resolve the policy restriction or the lock Meta shows there (appeal if needed).',
          RETRY,
        ],
      };
    case 'unknown-number':
      return {
        ...base,
        title: 'Meta does not know this phone number id',
        steps: [
          'Check the phone-number id and that the number is still on the WABA (it may have been deleted).',
          'If the id was wrong, terminate this workflow and onboard the right id; if it was briefly missing, send `retry`.',
        ],
      };
    case 'invalid-request':
      return {
        ...base,
        title: 'Meta rejected the request as invalid',
        steps: [
          'Read the Graph message and details above: the request did not fit the endpoint (a wrong id, or a product bug).',
          'Fix the input or report it with the fbtrace_id, then send `retry`.',
        ],
      };
    case 'meta-unreachable':
      return {
        ...base,
        title: 'Meta kept failing or throttling until the retry window closed',
        steps: [
          "Check the WhatsApp Business Platform status and the workers' network path to graph.facebook.com.",
          `${RETRY} Resending is harmless: it is the same stored PIN.`,
        ],
      };
    case 'unconfirmed-answer':
      return {
        ...base,
        title: 'Graph answered, but not with a confirmation',
        steps: [
          'The answer was not `{"success":true}` (often a proxy or firewall between the workers and Meta): check that path.',
          `${RETRY} Resending is harmless: it is the same stored PIN.`,
        ],
      };
    case 'ask-meta':
      return {
        ...base,
        title: 'Meta refused the registration in a way only Meta can explain',
        steps: [
          'Open a Meta Direct Support ticket quoting the fbtrace_id above, and check the number in WhatsApp Manager.',
          RETRY,
        ],
      };
    case 'fix-vault':
      return {
        ...base,
        title: 'The vault refused or failed',
        steps: [
          'Check the vault: sealed, unreachable, or the worker policy missing a path (src/vault/worker-policy.hcl).',
          RETRY,
        ],
      };
    case 'fix-worker-keys':
      return {
        ...base,
        title: "A worker's configuration or sealing key is broken",
        steps: [
          'Check `PIN_SEALING_KEYS` on every worker (docs/secrets.md): the key id named above must be present.',
          'Restart the workers, then send `retry`.',
        ],
      };
    case 'unexpected':
      return {
        ...base,
        title: 'An unexpected error',
        steps: ["Read the worker's log for this number, fix the cause, then send `retry`."],
      };
  }
}

/** The runbook as Markdown: a heading and numbered steps. */
export function runbookMarkdown(book: Runbook): string {
  return [`### ${book.title} (runbook \`${book.id}\`)`, ...book.steps.map((s, i) => `${i + 1}. ${s}`)].join(
    '\n',
  );
}
