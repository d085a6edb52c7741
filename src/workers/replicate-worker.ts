import { sql } from 'kysely';
import type { Logger } from 'pino';
import { WrongExpectedVersionError } from '../events/errors.js';
import type { EventStore } from '../events/event-store.js';
import { foldReport } from '../projections/report-state.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Volume } from '../storage/volume.js';
import { nextAttemptAt, type BackoffPolicy } from './backoff.js';
import { claimDue, releaseLease, type Claim } from './leases.js';
import type { ReplicationMetrics } from './replication-metrics.js';

export interface ReplicateStageOptions {
  store: EventStore;
  volume: Volume;
  objectStore: ObjectStore;
  /** Only files on this region's volume are copied by this instance. */
  region: string;
  owner: string;
  leaseMs: number;
  /** maxAttempts is ignored: a copy is retried until the store is back (backoff caps the rate). */
  backoff: BackoffPolicy;
  log: Logger;
  metrics?: ReplicationMetrics;
}

const STAGE = 'replicate';

/** Thrown when what is on the volume or in the store is not what the events say. */
class CopyMismatchError extends Error {
  override readonly name = 'CopyMismatchError';
}

/**
 * The replicate stage, region-affine: claims STORED reports whose file is on this region's
 * volume, uploads the file, reads the object back and appends ReportReplicated only when size and
 * sha256 match the events. A crash after the upload re-verifies the object and appends once.
 */
export function replicateStage(options: ReplicateStageOptions) {
  const { store, volume, objectStore, region, owner, leaseMs, backoff, log, metrics } = options;

  async function claim(limit: number): Promise<Claim[]> {
    return claimDue(store.db, {
      stage: STAGE,
      owner,
      limit,
      leaseMs,
      due: sql<boolean>`s.status = 'STORED' AND EXISTS (
        SELECT 1 FROM report_locations AS v
        WHERE v.report_id = s.report_id AND v.kind = 'volume' AND v.place = ${region})`,
    });
  }

  async function process(claim: Claim): Promise<void> {
    try {
      await replicateOne(claim);
    } finally {
      await releaseLease(store.db, claim.reportId, STAGE, owner).catch((err) => log.warn({ err }, 'lease release failed'));
    }
  }

  async function replicateOne(claim: Claim): Promise<void> {
    const events = await store.readStream(claim.streamId);
    const state = foldReport(events);
    const copy = state?.locations.find((l) => l.kind === 'volume' && l.place === region);
    if (!state || state.status !== 'STORED' || !copy) return;
    const meta = { actor: `replicator:${region}` };
    try {
      // Upload only when the store does not already hold exactly this file (a crash after upload).
      let held = await objectStore.digest(copy.key);
      let etag = (await objectStore.head(copy.key))?.etag ?? '';
      if (!held || held.sha256 !== copy.sha256 || held.bytes !== copy.bytes) {
        const onDisk = await volume.digest(copy.key);
        if (!onDisk) throw new CopyMismatchError(`${copy.key} is missing from the ${region} volume`);
        if (onDisk.sha256 !== copy.sha256 || onDisk.bytes !== copy.bytes) {
          throw new CopyMismatchError(`${copy.key} on the ${region} volume does not match its recorded sha256`);
        }
        ({ etag } = await objectStore.put(copy.key, volume.createReadStream(copy.key), {
          bytes: copy.bytes,
          sha256: copy.sha256,
          contentType: 'application/pdf',
        }));
        held = await objectStore.digest(copy.key);
      }
      if (!held || held.sha256 !== copy.sha256 || held.bytes !== copy.bytes) {
        throw new CopyMismatchError(`the object store copy of ${copy.key} does not match (${held?.bytes ?? 0} bytes, ${held?.sha256 ?? 'missing'})`);
      }
      await store.append(
        claim.streamId,
        state.version,
        [{ type: 'ReportReplicated', data: { bucket: objectStore.bucket, key: copy.key, sha256: copy.sha256, bytes: copy.bytes, etag: etag.slice(0, 200) } }],
        meta,
      );
      metrics?.replicated((Date.now() - copy.storedAt.getTime()) / 1000);
      log.info({ reportId: state.reportId, key: copy.key, bucket: objectStore.bucket }, 'report replicated');
    } catch (err) {
      if (err instanceof WrongExpectedVersionError) return;
      const attempt = state.attempts + 1;
      const retryAt = nextAttemptAt(attempt, { ...backoff, maxAttempts: Number.POSITIVE_INFINITY });
      const message = err instanceof Error ? err.message : String(err);
      metrics?.failed(err instanceof CopyMismatchError ? 'mismatch' : 'store');
      log.warn({ err, reportId: state.reportId, attempt, retryAt }, 'replication failed');
      await store
        .append(
          claim.streamId,
          state.version,
          [{ type: 'ReportFailed', data: { stage: 'replicate', error: message.slice(0, 4000), attempt, retryAt: retryAt?.toISOString() ?? null } }],
          meta,
        )
        .catch((e) => {
          if (!(e instanceof WrongExpectedVersionError)) throw e;
        });
    }
  }

  return { claim, process };
}
