import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { StorageMode } from '../config.js';
import type { NewEvent } from '../events/append.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import { ERASED, personalDataOf } from '../reports/personal-data.js';
import { foldReport, reportStreamId } from '../reports/report-state.js';
import { RenderError } from '../render/errors.js';
import type { RenderJob, RenderPool } from '../render/render-pool.js';
import type { HistoryEntry } from '../reports/templates/registry.js';
import { ObjectStoreUnavailableError, type ObjectStore } from '../storage/object-store.js';
import { reportKey } from '../storage/report-key.js';
import { discardIfGone } from './discard-if-gone.js';
import { appendDecision, timingNow } from './append-decision.js';
import { claimDue, withLease, type Claim } from './leases.js';
import { inSpan } from '../telemetry/spans.js';
import type { StageOptions } from './stage-options.js';

export interface RenderStageOptions extends StageOptions {
  pool: RenderPool;
  /** `object` renders straight to the object store; `volume` and `mirror` write the volume. */
  mode: StorageMode;
  objectStore?: ObjectStore;
  /** The author written into every document (PDF_AUTHOR); default `quire`. */
  pdfAuthor?: string;
  /** Transient render progress (0..1); not a lifecycle event. */
  onProgress?: (reportId: string, fraction: number) => void;
  /** quire_render_duration_seconds. */
  metrics?: { rendered(seconds: number, outcome: 'ok' | 'failed'): void };
}

const STAGE = 'render';

export function toHistoryEntries(events: readonly RecordedEvent[]): HistoryEntry[] {
  const erased = events.some((e) => e.type === 'ReportErased');
  return events.map((e) => ({
    streamVersion: e.streamVersion,
    type: e.type,
    recordedAt: e.recordedAt.toISOString(),
    actor: e.metadata.actor,
    region: e.metadata.region,
    hash: e.hash,
    // Where the erased title and params were (the log still holds their ciphertext, under this hash).
    ...(erased && e.type === 'ReportRequested' ? { note: ERASED } : {}),
  }));
}

/**
 * The render stage: claims REQUESTED reports that are due, renders them on the worker pool, writes
 * the PDF to this machine's volume, then appends ReportRendered and ReportStoredLocal together at
 * the version it read. A worker that lost its lease, or lost the race, appends nothing.
 */
export function renderStage(options: RenderStageOptions) {
  const { store, pool, volume, region, machine, owner, leaseMs, backoff, log } = options;

  async function claim(limit: number): Promise<Claim[]> {
    return claimDue(store.db, { stage: STAGE, owner, limit, leaseMs, due: sql<boolean>`s.status = 'REQUESTED'` });
  }

  async function process(claim: Claim, stop: AbortSignal): Promise<void> {
    await withLease(store.db, { reportId: claim.reportId, stage: STAGE, owner, leaseMs, log }, stop, (signal) => renderOne(claim, signal));
  }

  /** Puts the file where the storage mode says, verified, and returns the event that records it. */
  async function storeFile(key: string, pdf: Buffer, sha256: string): Promise<NewEvent & { type: 'ReportStoredLocal' | 'ReportReplicated' }> {
    const bytes = pdf.byteLength;
    if (options.mode !== 'object') {
      await volume.write(key, pdf);
      return { type: 'ReportStoredLocal', data: { region, machine, key, sha256, bytes } };
    }
    const objects = options.objectStore;
    if (!objects) throw new Error('STORAGE_MODE=object needs an object store');
    const { etag } = await objects.put(key, pdf, { bytes, sha256, contentType: 'application/pdf' });
    const held = await objects.digest(key);
    if (held?.sha256 !== sha256 || held.bytes !== bytes) throw new Error(`the object store copy of ${key} does not match what was rendered`);
    return { type: 'ReportReplicated', data: { bucket: objects.bucket, key, sha256, bytes, etag: etag.slice(0, 200) } };
  }

  async function renderOne(claim: Claim, signal: AbortSignal): Promise<void> {
    // Decrypted for the renderer only: the title and params never go into a log line or an event.
    const events = await store.reveal(await store.readStream(claim.streamId));
    const state = foldReport(events);
    const requested = events[0];
    if (!state || state.status !== 'REQUESTED' || requested?.type !== 'ReportRequested') return;
    // Claimed at another version: the report moved on since (a claim that outlived its lease).
    if (state.version !== claim.version) return;

    let stage: 'render' | 'store' = 'render';
    const meta = { actor: `worker:${region}` };
    if (claim.abandonedVersion === state.version) {
      // The last claimer died or hung at this very state (a template that kills its process, a
      // machine lost mid-render): decide() records it as an attempt.
      log.warn({ reportId: state.reportId, attempt: state.attempts + 1 }, 'render abandoned by its last claimer');
      const error = new RenderError('abandoned', 'the process rendering it died or stopped renewing its lease before it finished').message;
      await appendDecision(store, state, { type: 'RecordAbandonedRender', error, timing: timingNow(backoff) }, meta);
      return;
    }
    // The span continues the trace of the event that made it due (the request, or a retry).
    const attributes = { 'quire.report_id': state.reportId, 'quire.machine': machine, 'quire.region': region, 'quire.template': requested.data.template };
    await inSpan('render', { parent: events.at(-1)?.metadata.traceparent ?? null, attributes }, async () => {
      const started = performance.now();
      try {
        const { title, params } = personalDataOf(requested.data);
        const job: RenderJob = {
          template: requested.data.template,
          title,
          params,
          reportId: state.reportId,
          // The request time, not the clock: a re-render of the same report gives the same bytes.
          generatedAt: state.requestedAt,
          ...(options.pdfAuthor ? { author: options.pdfAuthor } : {}),
          ...(requested.data.pdfStandard ? { pdfStandard: requested.data.pdfStandard } : {}),
        };
        if (job.template === 'history') {
          const subject = String((params as { reportId?: unknown }).reportId);
          job.history = toHistoryEntries(await store.readStream(reportStreamId(subject)));
        }
        const result = await pool.render(job, {
          signal,
          ...(options.onProgress ? { onProgress: (f: number) => options.onProgress!(state.reportId, f) } : {}),
        });
        options.metrics?.rendered((performance.now() - started) / 1000, 'ok');
        stage = 'store';
        const sha256 = createHash('sha256').update(result.pdf).digest('hex');
        const bytes = result.pdf.byteLength;
        const key = reportKey(state.reportId, sha256);
        const stored = await inSpan('store', { attributes: { ...attributes, 'quire.storage_mode': options.mode } }, () => storeFile(key, result.pdf, sha256));
        if (signal.aborted) return;
        const rendered = {
          sha256,
          bytes,
          pages: result.pages,
          renderMs: result.renderMs,
          rendererVersion: result.rendererVersion,
          ...(result.locale ? { locale: result.locale } : {}),
          ...(result.missingGlyphs?.length ? { missingGlyphs: result.missingGlyphs.slice(0, 1000) } : {}),
        };
        if (!(await appendDecision(store, state, { type: 'RecordRender', rendered, stored }, meta))) {
          log.info({ reportId: state.reportId }, 'report moved on meanwhile; result discarded');
          const objects = options.objectStore;
          await discardIfGone(store, state.streamId, key, () => (stored.type === 'ReportReplicated' && objects ? objects.delete(key) : volume.remove(key)), log);
          return;
        }
        log.info({ reportId: state.reportId, pages: result.pages, renderMs: Math.round(result.renderMs), key, to: stored.type }, 'report stored');
      } catch (err) {
        // Lost lease or shutdown: another instance (or the next start) takes over; no failure to record.
        if (signal.aborted) return;
        if (stage === 'render') options.metrics?.rendered((performance.now() - started) / 1000, 'failed');
        const permanent = err instanceof RenderError && err.reason === 'invalid_job';
        const outage = err instanceof ObjectStoreUnavailableError;
        log.warn({ err, reportId: state.reportId, stage, attempt: state.attempts + 1, permanent, outage }, 'report failed');
        const error = err instanceof Error ? err.message : String(err);
        await appendDecision(store, state, { type: 'RecordRenderFailure', stage, error, permanent, outage, timing: timingNow(backoff) }, meta);
      }
    });
  }

  return { claim, process };
}
