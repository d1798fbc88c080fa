// The product's own metrics: one place names them, for the workflow, the activity interceptor,
// the tests, deploy/prometheus-rules.yml and the dashboard. Names are given without the `_total`
// suffix the exporter adds to every counter (countersTotalSuffix), so what Prometheus sees is
// `<name>_total` for counters and `<name>` (with _bucket/_sum/_count) for histograms.
// Labels are low-cardinality on purpose: an outcome, a failure type, an HTTP status, an activity
// type. Never a phone number id, a WABA id, a tenant, a PIN or a token.

export const PRODUCT_METRICS = {
  started: {
    name: 'whatsapp_onboarding_started',
    help: 'Onboarding workflows that began running (one per number)',
  },
  finished: {
    name: 'whatsapp_onboarding_finished',
    help: 'Numbers whose onboarding ended, by outcome (Completed, CompletedManually, Abandoned)',
  },
  parked: {
    name: 'whatsapp_onboarding_parked',
    help: 'Numbers entering AwaitingManualReset, by failure type and step',
  },
  duration: {
    name: 'whatsapp_onboarding_duration_seconds',
    help: 'End-to-end onboarding time of a number, from workflow start to its outcome',
  },
  graphRequests: {
    name: 'whatsapp_graph_requests',
    help: 'Graph API calls, by outcome (success or the failure type) and HTTP status ("none" without an answer)',
  },
  graphThrottled: {
    name: 'whatsapp_graph_throttled',
    help: 'Graph calls Meta throttled; announced="true" when Meta said how long to wait',
  },
  graphAnnouncedWait: {
    name: 'whatsapp_graph_announced_wait_seconds',
    help: "Meta's announced wait before the next call after a throttle (estimated_time_to_regain_access)",
  },
  vaultFailures: {
    name: 'whatsapp_vault_failures',
    help: 'Vault calls that failed, by failure type (VaultSealed, VaultUnavailable, VaultPermissionDenied, ...)',
  },
  securityEvents: {
    name: 'whatsapp_security_events',
    help: "Meta security webhook events (PIN_CHANGED, PIN_RESET_REQUEST, PIN_REQUEST_SUCCESS) by the product's handling and drift policy",
  },
} as const;

/** Histogram boundaries in seconds: onboarding runs from seconds to the 14-day deadline. */
export const DURATION_BUCKETS_SECONDS = [
  1, 5, 15, 30, 60, 300, 900, 3_600, 21_600, 86_400, 259_200, 604_800, 1_209_600,
];
/** Meta announces waits in minutes, up to about an hour. */
export const ANNOUNCED_WAIT_BUCKETS_SECONDS = [0, 60, 300, 600, 1_800, 3_600, 7_200];

/** The exported name of a counter (the exporter appends `_total`). */
export function counterSeries(name: string): string {
  return `${name}_total`;
}
