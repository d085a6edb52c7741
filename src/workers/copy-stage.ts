import { sql } from 'kysely';
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterQueue } from 'rate-limiter-flexible';
import { copyFor, type ReportCommand } from '../reports/decide.js';
import { foldReport, LEGACY_TEMPLATE, type ReportState } from '../reports/report-state.js';
import type { ObjectStore } from '../storage/object-store.js';
import { reportKey } from '../storage/report-key.js';
import { appendDecision, timingNow } from './append-decision.js';
import { discardIfGone } from './discard-if-gone.js';
import type { BackoffPolicy } from '../reports/backoff.js';
import { inSpan } from '../telemetry/spans.js';
import { claimDue, withLease, type Claim } from './leases.js';
import type { ReplicationMetrics } from './replication-metrics.js';
import type { StageOptions } from './stage-options.js';

/**
 * Only files on this machine's volume are copied by this instance (and region-level copies of its
 * region, if found here). `backoff.maxAttempts` is ignored for an unreachable store: the copy is
 * retried until it is back.
 */
export interface CopyStageOptions extends StageOptions {
  /**
   * `replicate`: quire's own reports (mirror mode) → ReportReplicated. `migrate`: legacy reports
   * found on a volume → ReportMigrated. Same copy, same checks.
   */
  kind: 'replicate' | 'migrate';
  objectStore: ObjectStore;
  metrics?: ReplicationMetrics;
  /** At most this many files started per second (migrations of big volumes); unlimited when unset. */
  filesPerSecond?: number;
}

/** What is on the volume is not what the events say: an operator has to look (never retried). */
class CopyMismatchError extends Error {
  override readonly name = 'CopyMismatchError';
}

/** How long a machine leaves a region-level copy it did not find alone, and how many it remembers. */
const NOT_HERE_TTL_MS = 5 * 60_000;
const NOT_HERE_MAX = 10_000;

/**
 * Copies files from this machine's volume to the object store, machine-affine: claims STORED
 * reports whose file is on this machine's volume (no sibling ever claims it, so a machine that is
 * down delays its copies and never loses them), checks the file against its recorded sha256,
 * uploads it, reads the object back and appends the copy event only when size and sha256 match.
 * A crash after the upload re-verifies the object and appends once.
 *
 * Region-level copies (recorded before machines, machine null) may be on any machine of their
 * region: every machine of the region claims them; one that does not find the file (or finds a
 * different one) leaves it alone for NOT_HERE_TTL_MS without a failure event, so the machine that
 * has it copies it and nobody records a false "disappeared".
 */
export function copyStage(options: CopyStageOptions) {
  const { kind, store, volume, objectStore, region, machine, owner, leaseMs, backoff, log, metrics } = options;
  const notHere = new LRUCache<string, true>({ max: NOT_HERE_MAX, ttl: NOT_HERE_TTL_MS });
  const stage = kind;
  const templateFilter = kind === 'migrate' ? sql<boolean>`s.template = ${LEGACY_TEMPLATE}` : sql<boolean>`s.template <> ${LEGACY_TEMPLATE}`;
  const limiter = options.filesPerSecond
    ? new RateLimiterQueue(new RateLimiterMemory({ points: options.filesPerSecond, duration: 1 }), { maxQueueSize: 10_000 })
    : undefined;

  async function claim(limit: number): Promise<Claim[]> {
    const skipped = [...notHere.keys()];
    return claimDue(store.db, {
      stage,
      owner,
      limit,
      leaseMs,
      due: sql<boolean>`s.status = 'STORED' AND ${templateFilter}
        AND NOT (s.failed_stage IS NOT DISTINCT FROM ${stage} AND s.next_attempt_at IS NULL)
        AND EXISTS (
          SELECT 1 FROM report_locations AS v
          WHERE v.report_id = s.report_id AND v.kind = 'volume'
            AND (v.machine = ${machine} OR (v.machine IS NULL AND v.region = ${region}
              AND NOT s.report_id::text = ANY(${`{${skipped.join(',')}}`}::text[]))))`,
    });
  }

  async function process(claim: Claim, stop?: AbortSignal): Promise<void> {
    // Heartbeat like the render stage: an upload longer than leaseMs is not taken over and done twice.
    await withLease(store.db, { reportId: claim.reportId, stage, owner, leaseMs, log }, stop, async (signal) => {
      await limiter?.removeTokens(1);
      await copyOne(claim, signal);
    });
  }

  async function copyOne(claim: Claim, signal: AbortSignal): Promise<void> {
    const events = await store.readStream(claim.streamId);
    const state = foldReport(events);
    const copy = state && copyFor(state, region, machine);
    if (!state || state.status !== 'STORED' || !copy) return;
    // The span continues the trace of the event that made it due (the render's, a retry's).
    const attributes = { 'quire.report_id': state.reportId, 'quire.machine': machine, 'quire.region': region };
    await inSpan(kind, { parent: events.at(-1)?.metadata.traceparent ?? null, attributes }, () => copyState(state, copy, signal));
  }

  async function copyState(state: ReportState, copy: NonNullable<ReturnType<typeof copyFor>>, signal: AbortSignal): Promise<void> {
    const objectKey = kind === 'migrate' ? reportKey(state.reportId, copy.sha256) : copy.key;
    const meta = { actor: `${kind === 'migrate' ? 'migrator' : 'replicator'}:${machine}` };
    const where = copy.machine === null ? `the ${region} volume of machine ${machine}` : `the volume of machine ${machine} (${region})`;
    try {
      // Upload only when the store does not already hold exactly this file (a crash after upload).
      let held = await objectStore.digest(objectKey);
      let etag = '';
      if (!held || held.sha256 !== copy.sha256 || held.bytes !== copy.bytes) {
        const onDisk = await volume.digest(copy.key);
        if (copy.machine === null && (!onDisk || onDisk.sha256 !== copy.sha256 || onDisk.bytes !== copy.bytes)) {
          // A region-level copy may be on a sibling: not ours to judge.
          notHere.set(state.reportId, true);
          log.debug({ reportId: state.reportId, key: copy.key, machine }, 'region-level copy not on this machine; left to its siblings');
          return;
        }
        if (!onDisk) throw new CopyMismatchError(`${copy.key} has disappeared from ${where}`);
        if (onDisk.sha256 !== copy.sha256 || onDisk.bytes !== copy.bytes) {
          throw new CopyMismatchError(
            `${copy.key} on ${where} has changed: it is now ${onDisk.bytes} bytes, sha256 ${onDisk.sha256}; recorded ${copy.bytes} bytes, ${copy.sha256}`,
          );
        }
        ({ etag } = await objectStore.put(objectKey, volume.createReadStream(copy.key), {
          bytes: copy.bytes,
          sha256: copy.sha256,
          contentType: 'application/pdf',
        }));
        held = await objectStore.digest(objectKey);
      } else {
        etag = (await objectStore.head(objectKey))?.etag ?? '';
      }
      // Lease lost or stopping: whoever holds it now records the copy (the upload is idempotent).
      if (signal.aborted) return;
      if (!held || held.sha256 !== copy.sha256 || held.bytes !== copy.bytes) {
        throw new Error(`the object store copy of ${objectKey} does not match (${held?.bytes ?? 0} bytes, ${held?.sha256 ?? 'missing'})`);
      }
      const copied: Extract<ReportCommand, { type: 'RecordCopy' }>['copied'] =
        kind === 'migrate'
          ? { type: 'ReportMigrated', data: { region, machine, bucket: objectStore.bucket, key: objectKey, sha256: copy.sha256, bytes: copy.bytes } }
          : { type: 'ReportReplicated', data: { bucket: objectStore.bucket, key: objectKey, sha256: copy.sha256, bytes: copy.bytes, etag: etag.slice(0, 200) } };
      if (!(await appendDecision(store, state, { type: 'RecordCopy', copied }, meta))) {
        await discardIfGone(store, state.streamId, objectKey, () => objectStore.delete(objectKey), log);
        return;
      }
      metrics?.replicated((Date.now() - copy.storedAt.getTime()) / 1000);
      log.info({ reportId: state.reportId, key: objectKey, bucket: objectStore.bucket, kind }, 'file copied to the object store');
    } catch (err) {
      if (signal.aborted) return;
      const mismatch = err instanceof CopyMismatchError;
      metrics?.failed(mismatch ? 'mismatch' : 'store');
      log.warn({ err, reportId: state.reportId, attempt: state.attempts + 1, kind }, mismatch ? 'file does not match its record' : 'copy failed');
      const error = err instanceof Error ? err.message : String(err);
      await appendDecision(store, state, { type: 'RecordCopyFailure', kind, error, mismatch, timing: timingNow(backoff) }, meta);
    }
  }

  return { claim, process };
}
