// Build step (`npm run build`, after tsc): bundles the compiled workflows into dist/workflow-bundle.js,
// which the compiled worker loads instead of running webpack at every start.
import { writeFileSync } from 'node:fs';
import { bundleWorkflows, PREBUILT_WORKFLOW_BUNDLE_PATH } from './workflow-bundle';

// Webpack's module list is noise in a build log; its warnings and errors are not.
const quiet = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn: (message: string) => console.warn(`workflow bundle: ${message}`),
  error: (message: string) => console.error(`workflow bundle: ${message}`),
};

async function main(): Promise<void> {
  const { code } = await bundleWorkflows(quiet);
  writeFileSync(PREBUILT_WORKFLOW_BUNDLE_PATH, code);
  console.log(`workflow bundle: ${PREBUILT_WORKFLOW_BUNDLE_PATH} (${Math.round(code.length / 1024)} KiB)`);
}

main().catch((err: unknown) => {
  console.error(`workflow bundle: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
