// Each test file works in a namespace of its own on the shared dev server, so workers of one
// file never pick up tasks of another (task queue names are a contract and stay the same).
export const TEST_NAMESPACES = [
  'wf-happy',
  'wf-failures',
  'vault',
  'starter',
  'trigger',
  'ops',
  'resets',
  'secrets',
  'replay',
  'drill',
  'demo',
  'worker-cli',
  'secrets-proof',
  'ui',
  'trigger-hostile',
  'registration',
  'telemetry',
  'prometheus',
  'vault-tls',
  'drift',
  'tenants',
  'spare-1',
  'spare-2',
] as const;
export type TestNamespace = (typeof TEST_NAMESPACES)[number];
