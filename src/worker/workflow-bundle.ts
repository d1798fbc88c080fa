// The workflow code as one prebuilt bundle: `npm run build` writes it next to the compiled worker,
// so a production worker starts without running webpack. From source (`npm run worker` under tsx)
// there is no bundle to trust, so the worker bundles the current source at start-up instead.
import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { bundleWorkflowCode, type BundleOptions, type WorkflowBundleOption } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../codec/data-converter';
import { WORKFLOWS_PATH } from './onboarding-workers';

/** dist/workflow-bundle.js in the build; nothing is read from here when running from source. */
export const PREBUILT_WORKFLOW_BUNDLE_PATH = join(__dirname, '..', 'workflow-bundle.js');

const runningFromBuild = extname(__filename) === '.js';

/** The same options wherever the workflows are bundled, so every bundle decodes failures alike. */
export function workflowBundleOptions(logger?: BundleOptions['logger']): BundleOptions {
  return { workflowsPath: WORKFLOWS_PATH, failureConverterPath: FAILURE_CONVERTER_PATH, logger };
}

export function bundleWorkflows(logger?: BundleOptions['logger']): Promise<{ code: string }> {
  return bundleWorkflowCode(workflowBundleOptions(logger));
}

/** The prebuilt bundle when this is the build and it has one; otherwise undefined (bundle from source). */
export function prebuiltWorkflowBundle(): WorkflowBundleOption | undefined {
  if (!runningFromBuild || !existsSync(PREBUILT_WORKFLOW_BUNDLE_PATH)) return undefined;
  return { codePath: PREBUILT_WORKFLOW_BUNDLE_PATH };
}
