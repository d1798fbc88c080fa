// How the operator CLI writes a number's state for a person: plain text, one fact per line, the
// same facts the workflow's UI details give (never a PIN: the status holds none).
import type { RegisterNumberStatus, RegistrationStatus, StepFailure } from '../workflows/messages';
import type { OnboardingExecution } from './onboarding-lookup';
import type { OnboardingListEntry } from './parked-numbers';

/** "45s", "12m 03s", "5h 20m", "3d 4h". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** One line: "setTwoStepPin GraphAuthError (Graph 190/463, HTTP 401): Error validating ..." */
export function failureLine(f: StepFailure): string {
  const facts = [
    f.graphCode !== undefined &&
      `Graph ${f.graphCode}${f.graphSubcode !== undefined ? `/${f.graphSubcode}` : ''}`,
    f.httpStatus !== undefined && `HTTP ${f.httpStatus}`,
    f.attempts !== undefined && `${f.attempts} attempt${f.attempts === 1 ? '' : 's'}`,
  ].filter(Boolean);
  const message = f.message.replace(/\s+/g, ' ').trim();
  return `${f.step} ${f.type}${facts.length ? ` (${facts.join(', ')})` : ''}: ${message}`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

export function formatParkedList(entries: OnboardingListEntry[], namespace: string, now: number): string {
  if (entries.length === 0) return `no numbers are awaiting a manual reset in namespace "${namespace}"\n`;
  const rows = entries.map((e) => [
    e.phoneNumberId,
    e.waitingSince ? formatAge(now - Date.parse(e.waitingSince)) : '?',
    e.vault ? `${e.vault.path} v${e.vault.version}` : 'no PIN stored',
    e.statusUnavailable ?? (e.lastError ? truncate(failureLine(e.lastError), 140) : 'no failure recorded'),
  ]);
  const header = `${entries.length} number${entries.length === 1 ? '' : 's'} awaiting a manual reset in namespace "${namespace}":`;
  return `${header}\n${table(['PHONE NUMBER ID', 'WAITING', 'VAULT', 'REASON'], rows)}`;
}

export function formatAllList(entries: OnboardingListEntry[], namespace: string, now: number): string {
  if (entries.length === 0) return `no onboarding workflows in namespace "${namespace}"\n`;
  const rows = entries.map((e) => [
    e.phoneNumberId,
    e.stage ?? '?',
    e.executionStatus,
    e.closedAt
      ? `closed ${formatAge(now - Date.parse(e.closedAt))} ago`
      : `started ${formatAge(now - Date.parse(e.startedAt))} ago`,
    e.stage === 'AwaitingManualReset'
      ? (e.statusUnavailable ?? (e.lastError ? truncate(failureLine(e.lastError), 120) : ''))
      : '',
  ]);
  return `${entries.length} onboarding workflow${entries.length === 1 ? '' : 's'} in namespace "${namespace}":\n${table(['PHONE NUMBER ID', 'STAGE', 'TEMPORAL', 'WHEN', 'REASON'], rows)}`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

/** "auto -> registered", "always (waiting for Meta's window until ...)". */
function registrationLine(r: RegistrationStatus): string {
  const outcome = r.outcome ? ` -> ${r.outcome}` : '';
  const waiting = r.waitingUntil ? ` (waiting for Meta's registration window until ${r.waitingUntil})` : '';
  const platform = r.platformType ? ` · platform_type ${r.platformType}` : '';
  return `${r.choice}${outcome}${waiting}${platform}`;
}

function budgetLines(r: RegistrationStatus, now: number): string[] {
  const b = r.budget;
  if (!b) return [];
  const frees = b.nextFreesAt
    ? `; the oldest frees at ${b.nextFreesAt} (in ${formatAge(Date.parse(b.nextFreesAt) - now)})`
    : '';
  const next = b.canRegisterNow ? 'a call is allowed now' : `next call allowed at ${b.nextCallAllowedAt}`;
  return [
    `budget:     ${b.usedInWindow} of ${b.limit} register/deregister calls used in 72 h${frees}`,
    `            ${b.registersThisWeek} registers in 7 days; ${next}${b.blockedUntil ? `; Meta blocked it until ${b.blockedUntil}` : ''}`,
  ];
}

export function formatStatus(
  execution: OnboardingExecution,
  status: RegisterNumberStatus,
  namespace: string,
  now: number,
): string {
  const out: string[] = [
    `number ${status.phoneNumberId} · workflow ${execution.workflowId} · run ${execution.runId} · namespace "${namespace}"`,
    `stage:      ${status.stage} (Temporal: ${execution.executionStatus})`,
    `started:    ${execution.startTime.toISOString()} (${formatAge(now - execution.startTime.getTime())} ago)`,
  ];
  if (execution.closeTime) out.push(`closed:     ${execution.closeTime.toISOString()}`);
  if (status.tenant) out.push(`tenant:     ${status.tenant}`);
  out.push(`attempts:   ${status.attempts}`);
  if (status.lastError) {
    const f = status.lastError;
    out.push(`last error: ${failureLine(f)}`);
    out.push(`            at ${f.at}${f.fbtraceId ? ` · fbtrace_id ${f.fbtraceId}` : ''}`);
  }
  out.push(
    status.vault
      ? `vault:      ${status.vault.path} version ${status.vault.version} (the PIN is never shown)`
      : 'vault:      no PIN stored yet',
  );
  if (status.registration) {
    out.push(`register:   ${registrationLine(status.registration)}`);
    out.push(...budgetLines(status.registration, now));
  }
  if (status.runbook) out.push(`runbook:    ${status.runbook}`);
  if (status.deadline) {
    const left = Date.parse(status.deadline) - now;
    out.push(
      `deadline:   ${status.deadline} (${left > 0 ? `in ${formatAge(left)}` : 'passed'}; then Abandoned)`,
    );
  }
  if (status.history.length === 0) out.push('operators:  none yet');
  for (const [i, action] of status.history.entries()) {
    const who = action.operator ? ` by ${action.operator}` : '';
    const note = action.note ? `: ${JSON.stringify(action.note)}` : '';
    out.push(`${i === 0 ? 'operators: ' : '           '} ${action.at} ${action.kind}${who}${note}`);
  }
  if (status.lastRefusal) {
    const r = status.lastRefusal;
    out.push(`refused:    ${r.at} ${r.signal}: ${r.reason}`);
  }
  if (status.procedure) {
    out.push('procedure:');
    out.push(...status.procedure.split('\n').map((l) => `  ${l}`));
  }
  if (status.stage === 'AwaitingManualReset') {
    out.push('next:');
    out.push(
      `  after setting the stored PIN in WhatsApp Manager: npm run ops -- reset ${status.phoneNumberId} --operator NAME [--note TEXT]`,
    );
    out.push(
      `  after fixing the cause: npm run ops -- retry ${status.phoneNumberId} [--operator NAME] [--note TEXT]`,
    );
  }
  return `${out.join('\n')}\n`;
}
