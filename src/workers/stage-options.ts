import type { Logger } from 'pino';
import type { EventStore } from '../events/event-store.js';
import type { BackoffPolicy } from '../reports/backoff.js';
import type { Volume } from '../storage/volume.js';

/** What every claim → act → decide → append stage is given: this machine, its volume, its lease and retry policy. */
export interface StageOptions {
  store: EventStore;
  volume: Volume;
  /** This instance's region and machine: the volume its files are on. */
  region: string;
  machine: string;
  /** This instance's lease owner id. */
  owner: string;
  leaseMs: number;
  backoff: BackoffPolicy;
  log: Logger;
}
