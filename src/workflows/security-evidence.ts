// The words an operator reads about Meta's security events for a number (status and current
// details): what happened in WhatsApp Manager, when, who, and what to do about it. An event is
// evidence, never proof: it does not say which PIN was chosen. Pure: runs inside the workflow.
import type { SecurityEventEvidence, SecurityEventName, VaultLocation } from './messages';

const WHAT: Readonly<Record<SecurityEventName, string>> = {
  PIN_CHANGED: 'The two-step PIN was changed (or enabled) in WhatsApp Manager',
  PIN_RESET_REQUEST: 'Someone asked to turn two-step verification off in WhatsApp Manager',
  PIN_REQUEST_SUCCESS: 'Two-step verification was turned off (the emailed reset link was followed)',
};

function who(e: SecurityEventEvidence): string {
  return e.requester ? `Meta Business Suite user \`${e.requester}\`` : 'a user Meta did not name';
}

function when(e: SecurityEventEvidence): string {
  return e.occurredAt ? e.occurredAt : `time not given, received ${e.receivedAt}`;
}

/** What to do about one event, for a number that waits for an operator. */
export function adviceWhileWaiting(event: SecurityEventName, vault: VaultLocation | undefined): string {
  const stored = vault ? `the stored PIN (version ${vault.version})` : 'the stored PIN';
  switch (event) {
    case 'PIN_CHANGED':
      return (
        `If this was you setting ${stored}, send \`manualReset\`. If nobody here did it, Meta now holds ` +
        'a PIN the vault does not have: send `retry` to set the stored PIN through the API.'
      );
    case 'PIN_RESET_REQUEST':
      return 'Nothing changes until the emailed link is followed; Meta then reports PIN_REQUEST_SUCCESS.';
    case 'PIN_REQUEST_SUCCESS':
      return 'Meta holds no PIN now: send `retry` to set the stored PIN through the API (not `manualReset`).';
  }
}

const HANDLED: Readonly<Record<SecurityEventEvidence['handling'], string>> = {
  evidence: '',
  duplicate: 'A redelivery of an event already handled: nothing done.',
  recorded: 'Recorded on the vault record (policy `record`, or a request only).',
  notRecorded: 'Nothing is stored for this number, so nothing was recorded.',
  reset: 'Recorded, and a fresh PIN was generated, stored and set through the API (policy `reset`).',
  alert: 'Recorded, and this run waits for an operator (policy `alert`).',
};

/** One line per event, newest last. */
export function securityEvidenceLines(
  events: readonly SecurityEventEvidence[],
  waiting: { vault?: VaultLocation } | undefined,
): string[] {
  return events.map((e) => {
    const head = `**${WHAT[e.event]}** (\`${e.event}\`, ${when(e)}, by ${who(e)}).`;
    const tail =
      e.handling === 'evidence' && waiting ? adviceWhileWaiting(e.event, waiting.vault) : HANDLED[e.handling];
    return [head, tail].filter(Boolean).join(' ');
  });
}

/** The Markdown section of the current details; empty when there were no events. */
export function securityEvidenceMarkdown(
  events: readonly SecurityEventEvidence[],
  waiting: { vault?: VaultLocation } | undefined,
): string {
  if (events.length === 0) return '';
  return [
    '### Reported by Meta (security webhook)',
    ...securityEvidenceLines(events, waiting).map((l) => `- ${l}`),
  ].join('\n');
}
