// What the SDK writes in clear in a registerNumber history: the patch markers' ids and the keys of
// a local activity's marker. Shared by the replay fixtures' check and the secrets proof.
import { LEAN_PATH_PATCH, ONE_MARKER_PATCH, REGISTRATION_PATCH } from '../../src/workflows/register-number';
import { SECURITY_EVENTS_PATCH } from '../../src/workflows/security-events';

/** Every patch the workflow knows: the one a run started by this code records, then the older ones. */
export const WORKFLOW_PATCHES = [
  ONE_MARKER_PATCH,
  LEAN_PATH_PATCH,
  REGISTRATION_PATCH,
  SECURITY_EVENTS_PATCH,
];

/** The keys of a `core_local_activity` marker's data, sorted. */
export const LOCAL_ACTIVITY_DATA_KEYS = [
  'activity_id',
  'activity_type',
  'attempt',
  'backoff',
  'complete_time',
  'original_schedule_time',
  'seq',
];
