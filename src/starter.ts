// `npm run starter -- --file numbers.csv`: the batch starter (src/batch/run-starter.ts) as a
// process. Ctrl-C stops starting new rows and lets the starts in flight finish (exit 130); a
// second Ctrl-C quits at once.
import { runMain } from './cli/run-main';
import { runStarter } from './batch/run-starter';

if (require.main === module) {
  runMain(
    {
      name: 'starter',
      stop: {
        notice: 'stopping: no new starts; waiting for the starts in flight (Ctrl-C again to quit now)',
        again: 'exit',
      },
    },
    (io) => runStarter({ ...io, stderr: process.stderr, stdin: () => process.stdin }),
  );
}
