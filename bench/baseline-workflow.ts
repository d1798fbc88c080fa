// The benchmark's baseline: the bare shape of registerNumber (three activities in a row, the
// last one on a rate-capped queue of its own) with no work in them. Whatever it achieves on a
// machine is the ceiling Temporal itself sets there; registerNumber is reported against it.
import { proxyActivities } from '@temporalio/workflow';

export const BASELINE_WORKFLOW_TYPE = 'baselineThreeSteps';
export const BASELINE_TASK_QUEUE = 'bench-baseline';
export const BASELINE_GRAPH_TASK_QUEUE = 'bench-baseline-graph';

export interface BaselineActivities {
  noopGenerate: (id: string) => Promise<string>;
  noopStore: (id: string) => Promise<number>;
  noopGraph: (id: string) => Promise<void>;
}

const local = proxyActivities<BaselineActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '5s' },
});
const graph = proxyActivities<BaselineActivities>({
  taskQueue: BASELINE_GRAPH_TASK_QUEUE,
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '5s' },
});

export async function baselineThreeSteps(input: { phoneNumberId: string }): Promise<string> {
  await local.noopGenerate(input.phoneNumberId);
  await local.noopStore(input.phoneNumberId);
  await graph.noopGraph(input.phoneNumberId);
  return input.phoneNumberId;
}
