import { sql } from 'kysely';
import { LRUCache } from 'lru-cache';
import { nextAttemptAt, type BackoffPolicy } from '../reports/backoff.js';
import { copiesToPurge, foldReport, type ReportLocation } from '../reports/report-state.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Volume } from '../storage/volume.js';
import { appendDecision } from './append-decision.js';
import { claimDue, withLease, type Claim } from './leases.js';
import type { StageOptions } from './stage-options.js';

/** A stage's options; its `backoff` spaces the tries at a copy whose store fails (maxAttempts is ignored: a purge is never given up). */
export interface PurgeStageOptions extends Omit<StageOptions, 'volume'> {
  /** This machine's volume: absent in object mode (no volume copies are written there). */
  volume: Volume | undefined;
  objectStore: ObjectStore;
}

/** How long a machine leaves a region-level copy it did not find (as the copy stage does), and how many it remembers. */
const NOT_HERE_TTL_MS = 5 * 60_000;
const NOT_HERE_MAX = 10_000;
/** The longest wait between two tries at a failing copy: an outage's end is noticed within this. */
const PURGE_MAX_DELAY_MS = 5 * 60_000;

/**
 * Deletes the copies of gone reports (expired, deleted — whatever made them gone: the claim only
 * asks for gone_at) and records a ReportPurged for each copy whose bytes are gone. Machine-affine
 * for volume copies: only the machine whose volume holds a copy deletes it (a region-level copy,
 * recorded before machines, by a machine of its region that finds the file); object copies in
 * this instance's bucket by any instance. A copy is recorded as purged only once the store says
 * it is not there any more; a store that fails leaves the copy listed, tried again after a backoff
 * (the copies' doubling delays). The backoff is kept in memory, per copy: a failed deletion changes
 * nothing, so it is not an event; a restart or another instance simply tries again sooner.
 */
export function purgeStage(options: PurgeStageOptions) {
  const { store, volume, objectStore, region, machine, owner, leaseMs, log } = options;
  const stage = 'purge';
  const backoff: BackoffPolicy = { ...options.backoff, maxAttempts: Number.POSITIVE_INFINITY, maxDelayMs: PURGE_MAX_DELAY_MS };
  const notHere = new LRUCache<string, true>({ max: NOT_HERE_MAX, ttl: NOT_HERE_TTL_MS });
  /** Copies whose deletion failed: how many times in a row, and when to try again. */
  const failing = new LRUCache<string, { attempts: number; retryAt: number }>({ max: NOT_HERE_MAX });
  /** Reports not claimed until their first failing copy is due again (each entry lives until then). */
  const waiting = new LRUCache<string, true>({ max: NOT_HERE_MAX });
  const copyKey = (reportId: string, copy: ReportLocation) => `${reportId}:${copy.kind}:${copy.place}`;

  function claim(limit: number): Promise<Claim[]> {
    const skipped = [...notHere.keys()];
    const backingOff = [...waiting.keys()];
    const volumeCopy = volume
      ? sql<boolean>`(v.kind = 'volume' AND (v.machine = ${machine}
          OR (v.machine IS NULL AND v.region = ${region} AND NOT s.report_id::text = ANY(${`{${skipped.join(',')}}`}::text[]))))`
      : sql<boolean>`false`;
    return claimDue(store.db, {
      stage,
      owner,
      limit,
      leaseMs,
      whileRetrying: true,
      due: sql<boolean>`s.gone_at IS NOT NULL AND NOT s.report_id::text = ANY(${`{${backingOff.join(',')}}`}::text[]) AND EXISTS (
        SELECT 1 FROM report_locations AS v
        WHERE v.report_id = s.report_id AND (${volumeCopy} OR (v.kind = 'object' AND v.place = ${objectStore.bucket})))`,
    });
  }

  /** Deletes one copy if it is this instance's to delete; true once its bytes are gone. */
  async function purgeOne(reportId: string, copy: ReportLocation): Promise<boolean> {
    if (copy.kind === 'object') {
      if (copy.place !== objectStore.bucket) return false;
      await objectStore.delete(copy.key);
      return (await objectStore.head(copy.key)) === null;
    }
    if (!volume) return false;
    if (copy.machine === null) {
      if (copy.region !== region) return false;
      // A region-level copy may be on a sibling: only the machine that has the file deletes it.
      if ((await volume.size(copy.key)) === null) {
        notHere.set(reportId, true);
        return false;
      }
    } else if (copy.machine !== machine) {
      return false;
    }
    await volume.remove(copy.key);
    return (await volume.size(copy.key)) === null;
  }

  async function process(claim: Claim, stop?: AbortSignal): Promise<void> {
    await withLease(store.db, { reportId: claim.reportId, stage, owner, leaseMs, log }, stop, async (signal) => {
      const state = foldReport(await store.readStream(claim.streamId));
      if (!state) return;
      const purged: ReportLocation[] = [];
      let nextTry = Number.POSITIVE_INFINITY;
      for (const copy of copiesToPurge(state)) {
        if (signal.aborted) break;
        const key = copyKey(state.reportId, copy);
        const failed = failing.get(key);
        if (failed && failed.retryAt > Date.now()) {
          nextTry = Math.min(nextTry, failed.retryAt);
          continue;
        }
        try {
          if (await purgeOne(state.reportId, copy)) purged.push(copy);
          failing.delete(key);
        } catch (err) {
          const attempts = (failed?.attempts ?? 0) + 1;
          const retryAt = nextAttemptAt(attempts, backoff)!.getTime();
          failing.set(key, { attempts, retryAt });
          nextTry = Math.min(nextTry, retryAt);
          log.warn({ err, reportId: state.reportId, kind: copy.kind, place: copy.place, attempts, retryAt: new Date(retryAt) }, 'purge of a copy failed; tried again later');
        }
      }
      if (nextTry !== Number.POSITIVE_INFINITY) waiting.set(state.reportId, true, { ttl: Math.max(1, nextTry - Date.now()) });
      if (purged.length === 0) return;
      // Deleting again is harmless, so a lost append (a race, a crash) is redone by the next claim.
      if (await appendDecision(store, state, { type: 'RecordPurge', copies: purged }, { actor: `purger:${machine}` })) {
        log.info({ reportId: state.reportId, copies: purged.map((c) => `${c.kind}:${c.place}`) }, 'copies purged');
      }
    });
  }

  return { claim, process };
}
