// What `npm run starter -- --help` prints: the starter's flags, input forms, output and exit codes.

export const STARTER_HELP = `Usage: npm run starter -- --file FILE [options]

Starts the two-step-verification onboarding (workflow registerNumber, one per phone number)
for every number in FILE. The file is streamed, so its size does not matter.

Input
  --file FILE, -f FILE   the batch: .csv, .json (one array of objects), .jsonl / .ndjson
                         (one object per line); "-" reads stdin (then --format is required)
  --format FORMAT        csv | json | jsonl, when the extension does not say
  A row has phone_number_id (required), waba_id, display_phone_number, tenant, register. CSV
  needs a header row with these column names; JSON also accepts phoneNumberId, wabaId,
  displayPhoneNumber. UTF-8 (a BOM is fine), CRLF or LF, quoted CSV fields, blank lines skipped.
  register: always | never | auto, whether the number is registered on Cloud API after its PIN
  is set (auto: only when Meta says it is not registered yet); empty means --register.

Validation (every problem is reported with its line; invalid rows are never started)
  a missing or malformed id, an unknown column (the whole file is refused) or unknown JSON
  field, a number given twice (the first occurrence wins; later ones name its line).

Starting
  --dry-run              validate and report; connects to nothing, starts nothing
  --concurrency N        starts in flight at once (default 20)
  --rate N               at most N starts per second (default: no limit)
  --register CHOICE      always | never | auto for rows without a register value (default auto:
                         register a number only when it is not on Cloud API yet)
  --reonboard            start a new run for numbers whose earlier run has closed (completed,
                         failed or terminated); a running workflow is never replaced
  Without --reonboard, a number whose workflow is running is reported "already running" and
  one whose workflow has closed, however it ended, "already done".

Output
  progress on stderr (a bar on a terminal, a line every --progress-every rows or 10 s otherwise),
  then a summary on stdout: started, already running, already done, invalid, failed to start.
  --report FILE          JSON report: one entry per row {line, phoneNumberId, outcome, reason,
                         workflowId, runId}, in file order, plus the summary
  --progress-every N     rows between progress lines when stderr is not a terminal (default 10000)
  --stats                also print rows/second and the peak memory (RSS) of the run

Waiting
  --wait                 after starting, follow the started and already-running workflows to
                         their outcome: Completed, CompletedManually, Abandoned, or
                         AwaitingManualReset (waiting for an operator: it does not close)
  --wait-timeout D       stop waiting after D (e.g. 90s, 30m, 2h; default 30m)

Interrupting
  Ctrl-C stops starting new rows, lets the starts in flight finish and prints what was done
  (exit 130). Run the same command again to continue: rows already started are reported as
  already running or done, never started twice. A second Ctrl-C quits at once.

Exit codes
  0  every row handled (started, already running or already done; with --wait, every
     followed workflow Completed or CompletedManually)
  1  some rows invalid or failed to start, a malformed file, or (with --wait) a workflow that
     needs a human, was abandoned, failed or was still running at the timeout
  2  configuration or connection error (bad flag, unreadable file, Temporal unreachable)
  130 interrupted

Environment
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*   where Temporal is
      (default: the local stack at 127.0.0.1:7233)
  PAYLOAD_CODEC_KEYS         payload encryption keys, as the workers have them (local stack:
                             generated into .data/ when TEMPORAL_ADDRESS is unset)
  ONBOARDING_RETRY_SCHEDULES JSON retry schedules per step: {"graph":{"initialInterval":"30s",
                             "backoffCoefficient":2,"maximumInterval":"10m","maximumAttempts":10,
                             "giveUpAfter":"1d"},"vault":{...},"generatePin":{...},"register":{...}}
  MANUAL_RESET_DEADLINE      how long a number waits for an operator before it is abandoned
                             (default 14d)
`;
