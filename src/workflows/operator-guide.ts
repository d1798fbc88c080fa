// The words an engineer reads in the Temporal UI ("current details") and in `status`
// while a number waits for a human. Pure functions: they run inside the workflow.
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

export function awaitingManualResetDetails(status: RegisterNumberStatus): string {
  const workflowId = workflowIdFor(status.phoneNumberId);
  const vault = status.vault;
  const readPin = vault
    ? `\`bao kv get -version=${vault.version} ${vault.path}\` (or \`vault kv get\`), field \`pin\``
    : 'nothing: no PIN has been stored yet';
  const resetJson = JSON.stringify({ operator: 'your.name', note: 'PIN changed in WhatsApp Manager' });
  const retryJson = JSON.stringify({ operator: 'your.name', note: 'what was fixed' });
  return [
    `## Two-step PIN not set for number ${status.phoneNumberId}: a person is needed`,
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
    status.lastRefusal
      ? `Last refused operator input (${status.lastRefusal.signal}, ${status.lastRefusal.at}): ${status.lastRefusal.reason}`
      : '',
  ]
    .filter(Boolean)
    .join('\n\n');
}

export function progressDetails(status: RegisterNumberStatus): string {
  const vault = status.vault ? ` · PIN at \`${status.vault.path}\` v${status.vault.version}` : '';
  return `**${status.stage}** for number ${status.phoneNumberId}${vault}`;
}
