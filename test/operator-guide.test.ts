// The Current Details an engineer reads in the UI open with two plain lines, what happened and
// the one next action, before the long runbook; the next action follows the failure and whether
// a PIN is stored (a manual reset needs one).
import { describe, expect, it } from 'vitest';
import { awaitingManualResetDetails, nextAction, plainSummary } from '../src/workflows/operator-guide';
import type { RegisterNumberStatus, StepFailure } from '../src/workflows/messages';

const VAULT = { path: 'secret/whatsapp/two-step-pins/15550009999', version: 3 };

function parked(
  failure: Partial<StepFailure> & Pick<StepFailure, 'type'>,
  stored = true,
): RegisterNumberStatus {
  return {
    stage: 'AwaitingManualReset',
    phoneNumberId: '15550009999',
    attempts: 1,
    history: [],
    vault: stored ? VAULT : undefined,
    lastError: { step: 'setTwoStepPin', message: 'Meta said no', at: '2026-01-01T00:00:00Z', ...failure },
  };
}

describe('the first lines of Current Details', () => {
  it('a locked account with a stored PIN: set it by hand, then manualReset', () => {
    const status = parked({ type: 'GraphAccountRestricted', graphCode: 131031 });
    const [what, next] = plainSummary(status);
    expect(what).toBe(
      '**What happened:** While setting the PIN on Meta, Meta has locked or restricted this WhatsApp account ' +
        'and refused the PIN (Graph code 131031). The PIN is safe in the vault (version 3); Meta has not confirmed it.',
    );
    expect(next).toMatch(
      /^\*\*Next action:\*\* Set the stored PIN by hand in WhatsApp Manager .* `manualReset`/,
    );
    expect(nextAction(status)).toBe('manualReset');
  });

  it('an expired token: fix the token, then retry', () => {
    const status = parked({ type: 'GraphAuthError', graphCode: 190 });
    expect(plainSummary(status)[1]).toBe(
      '**Next action:** Give the workers a valid system-user token (GRAPH_ACCESS_TOKEN, or the vault with ' +
        'GRAPH_TOKEN_SOURCE=vault), then send the `retry` signal with `{"operator":"your.name"}`.',
    );
    expect(nextAction(status)).toBe('retry');
  });

  it('no stored PIN: retry even where a manual reset would otherwise do', () => {
    const status = parked({ type: 'GraphPinMismatch', step: 'storePinInVault' }, false);
    expect(nextAction(status)).toBe('retry');
    expect(plainSummary(status)[0]).toContain('No PIN was stored yet.');
  });

  it('a failure type without advice of its own still gets a plain line that names it', () => {
    const status = parked({ type: 'UnexpectedError' });
    expect(plainSummary(status)[0]).toContain('it failed with `UnexpectedError`');
    expect(nextAction(status)).toBe('retry');
  });

  it('a refused signal is said right after the next action, with its reason', () => {
    const status: RegisterNumberStatus = {
      ...parked({ type: 'GraphAccountRestricted' }),
      lastRefusal: { at: '2026-01-01T00:05:00Z', signal: 'manualReset', reason: '"operator" is required' },
    };
    expect(plainSummary(status)[2]).toBe(
      '**Your last `manualReset` signal was refused** (2026-01-01T00:05:00Z): "operator" is required',
    );
  });

  it('opens the details: heading, the plain lines, then the runbook', () => {
    const details = awaitingManualResetDetails(parked({ type: 'GraphAccountRestricted' }));
    const paragraphs = details.split('\n\n');
    expect(paragraphs[0]).toBe('## Number 15550009999 needs a person: its two-step PIN is not set');
    expect(paragraphs[1]).toMatch(/^\*\*What happened:\*\*/);
    expect(paragraphs[2]).toMatch(/^\*\*Next action:\*\*/);
    expect(details.indexOf('Choose Change PIN')).toBeGreaterThan(details.indexOf('**Next action:**'));
  });
});
