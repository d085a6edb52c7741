import type { Migration } from 'kysely';
import * as m0001 from './0001_events.js';
import * as m0002 from './0002_events_append_only.js';
import * as m0003 from './0003_report_projections.js';
import * as m0004 from './0004_work_leases.js';
import * as m0005 from './0005_log_seals.js';
import * as m0006 from './0006_volume_machines.js';
import * as m0007 from './0007_rate_limits.js';
import * as m0008 from './0008_signed_seals.js';
import * as m0009 from './0009_token_revocations.js';
import * as m0010 from './0010_worker_liveness.js';
import * as m0011 from './0011_retention.js';
import * as m0012 from './0012_report_data_keys.js';
import * as m0013 from './0013_webhooks.js';
import * as m0014 from './0014_report_status_claim_order.js';

/** Every migration, by name; names sort in the order they run. */
export const migrations: Record<string, Migration> = {
  '0001_events': m0001,
  '0002_events_append_only': m0002,
  '0003_report_projections': m0003,
  '0004_work_leases': m0004,
  '0005_log_seals': m0005,
  '0006_volume_machines': m0006,
  '0007_rate_limits': m0007,
  '0008_signed_seals': m0008,
  '0009_token_revocations': m0009,
  '0010_worker_liveness': m0010,
  '0011_retention': m0011,
  '0012_report_data_keys': m0012,
  '0013_webhooks': m0013,
  '0014_report_status_claim_order': m0014,
};
