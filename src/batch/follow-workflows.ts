// `--wait`: follows started workflows to an outcome. A number that needs a human never closes (it
// waits in AwaitingManualReset for a signal), so "done" cannot mean "closed": each round describes
// the pending workflows and settles those that closed or whose OnboardingStatus search attribute
// says AwaitingManualReset. A number waiting days for Meta's registration window (a durable timer)
// is settled too, as still running, with the time it waits for: waiting on it would only time out.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { onboardingStatusKey, statusQuery, type RegisterNumberResult } from '../workflows/messages';
import type { WaitEntry } from './report';

export interface FollowTarget {
  phoneNumberId: string;
  workflowId: string;
  runId?: string;
}

export interface FollowOptions {
  timeoutMs: number;
  /** Describes in flight at once. */
  concurrency: number;
  signal?: AbortSignal;
  /** After each round: how many are settled so far. */
  onRound?(settled: number, total: number): void;
  firstPollMs?: number;
  maxPollMs?: number;
}

async function settle(
  client: Client,
  target: FollowTarget,
  lastStage: Map<string, string | undefined>,
): Promise<WaitEntry | FollowTarget> {
  const handle = client.workflow.getHandle(target.workflowId, target.runId);
  const description = await handle.describe();
  const base = { phoneNumberId: target.phoneNumberId, workflowId: target.workflowId };
  switch (description.status.name) {
    case 'RUNNING': {
      const stage = description.typedSearchAttributes.get(onboardingStatusKey);
      lastStage.set(target.workflowId, stage);
      if (stage === 'AwaitingManualReset') return { ...base, outcome: 'AwaitingManualReset' };
      if (stage === 'Registering') {
        const waitingUntil = (await handle.query(statusQuery)).registration?.waitingUntil;
        if (waitingUntil) {
          return {
            ...base,
            outcome: 'StillRunning',
            detail: `waiting for Meta's registration window until ${waitingUntil}`,
          };
        }
      }
      return target;
    }
    case 'COMPLETED': {
      const result = (await handle.result()) as RegisterNumberResult;
      return result.reason
        ? { ...base, outcome: result.outcome, detail: result.reason }
        : { ...base, outcome: result.outcome };
    }
    case 'CONTINUED_AS_NEW':
      // Follow the chain: the latest run of the id.
      return { phoneNumberId: target.phoneNumberId, workflowId: target.workflowId };
    default:
      return { ...base, outcome: 'Failed', detail: description.status.name };
  }
}

function isSettled(x: WaitEntry | FollowTarget): x is WaitEntry {
  return 'outcome' in x;
}

export async function followWorkflows(
  client: Client,
  targets: readonly FollowTarget[],
  opts: FollowOptions,
): Promise<WaitEntry[]> {
  const deadline = Date.now() + opts.timeoutMs;
  const settled: WaitEntry[] = [];
  let pending: FollowTarget[] = [...targets];
  let pollMs = opts.firstPollMs ?? 500;
  const stages = new Map<string, string | undefined>();
  while (pending.length > 0 && !opts.signal?.aborted) {
    const still: FollowTarget[] = [];
    for (let i = 0; i < pending.length; i += opts.concurrency) {
      const slice = pending.slice(i, i + opts.concurrency);
      const outcomes = await Promise.all(
        slice.map(async (target) => {
          try {
            return await settle(client, target, stages);
          } catch {
            // A failed describe is not an outcome: try again next round.
            return target;
          }
        }),
      );
      for (const outcome of outcomes) {
        if (isSettled(outcome)) settled.push(outcome);
        else still.push(outcome);
      }
    }
    pending = still;
    opts.onRound?.(settled.length, targets.length);
    if (pending.length === 0 || Date.now() >= deadline) break;
    try {
      await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), undefined, { signal: opts.signal });
    } catch {
      break;
    }
    pollMs = Math.min(pollMs * 1.5, opts.maxPollMs ?? 5_000);
  }
  for (const t of pending) {
    const stage = stages.get(t.workflowId);
    settled.push({
      phoneNumberId: t.phoneNumberId,
      workflowId: t.workflowId,
      outcome: 'StillRunning',
      ...(stage ? { detail: stage } : {}),
    });
  }
  return settled;
}
