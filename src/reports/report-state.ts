import type { FoldableEvent } from '../events/recorded-event.js';
import { clearPersonalData, ENCRYPTED_TITLE, ERASED, isEncrypted } from './personal-data.js';

/**
 * A report's state as a pure fold over its events. The inline projection, the rebuild and time
 * travel all use this one function, so they cannot disagree.
 */
/**
 * IMPORTED: a legacy report whose file no machine has found on its volume (yet). LOST: its only
 * copies were on volumes an operator declared gone (`quire volumes forget`). EXPIRED, DELETED,
 * ERASED: gone (see GONE_STATUSES); ERASED: an admin erased its personal data (eraseReport).
 */
export const REPORT_STATUSES = ['REQUESTED', 'RENDERED', 'STORED', 'REPLICATED', 'FAILED', 'IMPORTED', 'LOST', 'EXPIRED', 'DELETED', 'ERASED'] as const;
export type ReportStatus = (typeof REPORT_STATUSES)[number];

/**
 * The terminal statuses of a report that is gone for its users: nothing is served, nothing moves it
 * on, and the copies left in `locations` are the ones still to purge (ReportPurged removes each).
 */
export const GONE_STATUSES = ['EXPIRED', 'DELETED', 'ERASED'] as const satisfies readonly ReportStatus[];
export type GoneStatus = (typeof GONE_STATUSES)[number];

export interface ReportLocation {
  kind: 'volume' | 'object';
  /**
   * What identifies the copy: for a volume copy its machine, or its region when no machine was
   * recorded (events before machines: region-level); the bucket for an object copy.
   */
  place: string;
  /** The region of a volume copy; null for an object copy. */
  region: string | null;
  /** The machine whose volume holds the copy; null for object copies and region-level volume copies. */
  machine: string | null;
  key: string;
  sha256: string;
  bytes: number;
  storedAt: Date;
  verifiedAt: Date;
}

/** The transitions a completion webhook announces, each time the report moves into one of them. */
export const WEBHOOK_STATUSES = ['STORED', 'REPLICATED', 'FAILED'] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

/** A webhook delivery still to be made: the head of the queue is the one being attempted. */
export interface PendingWebhook {
  /** The webhook-id header, the same on every attempt: the report id and the version that reached the status. */
  deliveryId: string;
  status: WebhookStatus;
  /** The stream version at which the report reached `status`. */
  version: number;
  /** Failed attempts so far. */
  attempts: number;
  /** When the next attempt is due. */
  dueAt: Date;
}

/** A report requested with a callbackUrl: where to POST, and what is still to be delivered, in order. */
export interface ReportWebhook {
  url: string;
  pending: PendingWebhook[];
}

interface ReportFields {
  reportId: string;
  streamId: string;
  owner: string;
  /** ERASED once the report is erased; ENCRYPTED_TITLE in a fold of events nobody decrypted. */
  title: string;
  template: string;
  requestedRegion: string;
  /**
   * Its title and params are in the log encrypted with its data key, so they can be erased; false
   * for reports requested before encryption and legacy imports (in clear).
   */
  encrypted: boolean;
  /** Failed attempts at the current stage. */
  attempts: number;
  /**
   * Why the current stage failed (or why the report is LOST): set with failedStage and cleared
   * with it, so a report that recovered (an object-store outage waited out) shows no stale error.
   */
  lastError: string | null;
  failedStage: string | null;
  /** When the failed stage will be tried again. */
  nextAttemptAt: Date | null;
  requestedAt: Date;
  updatedAt: Date;
  /** Stream version of the last event folded in. */
  version: number;
  locations: ReportLocation[];
  /** Null when the report was requested without a callbackUrl. */
  webhook: ReportWebhook | null;
  /** When the report expires; null: kept until deleted. */
  expiresAt: Date | null;
  /** Under legal hold: expiry and deletion wait for its release. */
  held: boolean;
  /** When the report became gone (expired, deleted); null while it is not. */
  goneAt: Date | null;
}

/** The statuses of a report that has a file: its hash and size are known. */
export const FILED_STATUSES = ['RENDERED', 'STORED', 'REPLICATED'] as const;
export type FiledStatus = (typeof FILED_STATUSES)[number];

/** A report with a file (RENDERED, STORED, REPLICATED): sha256 and bytes are known. */
export interface FiledReport extends ReportFields {
  status: FiledStatus;
  sha256: string;
  bytes: number;
  /** Null only for a legacy file: the legacy application never counted its pages. */
  pages: number | null;
}

/** A report without a usable file yet (REQUESTED, IMPORTED), never (FAILED) or any more (LOST). */
export interface UnfiledReport extends ReportFields {
  status: Exclude<ReportStatus, FiledStatus>;
  /** Known for a LOST report (it had a file); null otherwise. */
  sha256: string | null;
  bytes: number | null;
  pages: number | null;
}

/** A report's state, by status: the statuses with a file guarantee its hash and size. */
export type ReportState = FiledReport | UnfiledReport;

export function isFiledStatus(status: ReportStatus): status is FiledStatus {
  return (FILED_STATUSES as readonly string[]).includes(status);
}

export function hasFile(state: ReportState): state is FiledReport {
  return isFiledStatus(state.status);
}

export function isGoneStatus(status: ReportStatus): status is GoneStatus {
  return (GONE_STATUSES as readonly string[]).includes(status);
}

/** Gone for its users: expired or deleted (whatever made it so); it answers GoneError. */
export function isGone(state: ReportState): boolean {
  return isGoneStatus(state.status);
}

/** The copies of a gone report whose bytes are still to be deleted (none for a live report). */
export function copiesToPurge(state: ReportState): ReportLocation[] {
  return isGone(state) ? state.locations : [];
}

/** Whether the expiry sweep is due to expire the report at `now`. */
export function isExpiryDue(state: ReportState, now: Date): boolean {
  return !isGone(state) && !state.held && state.expiresAt !== null && state.expiresAt.getTime() <= now.getTime();
}

export const REPORT_STREAM_PREFIX = 'report-';

/** The template name of reports adopted from the legacy application. */
export const LEGACY_TEMPLATE = 'legacy';

export function reportStreamId(reportId: string): string {
  return `${REPORT_STREAM_PREFIX}${reportId}`;
}

function withLocation(locations: ReportLocation[], location: ReportLocation): ReportLocation[] {
  const others = locations.filter((l) => !(l.kind === location.kind && l.place === location.place));
  return [...others, location];
}

/** A step that succeeded (or a retry) clears the failure record. */
const NO_FAILURE = { attempts: 0, lastError: null, failedStage: null, nextAttemptAt: null } as const;

/** The state a report's first event creates. */
function newReport(
  event: FoldableEvent,
  first: Pick<UnfiledReport, 'reportId' | 'owner' | 'title' | 'template' | 'requestedAt' | 'expiresAt' | 'encrypted'> & { status: 'REQUESTED' | 'IMPORTED' },
): ReportState {
  return {
    ...first,
    held: false,
    goneAt: null,
    streamId: event.streamId,
    requestedRegion: event.metadata.region,
    sha256: null,
    bytes: null,
    pages: null,
    ...NO_FAILURE,
    updatedAt: event.recordedAt,
    version: event.streamVersion,
    locations: [],
    webhook: null,
  };
}

function isWebhookStatus(status: ReportStatus): status is WebhookStatus {
  return (WEBHOOK_STATUSES as readonly string[]).includes(status);
}

/** The webhook-id of the delivery that announces the status reached at `version`. */
export function webhookDeliveryId(reportId: string, version: number): string {
  return `msg_${reportId}_${version}`;
}

/** The webhook queue after the head delivery `deliveryId` was settled (delivered or given up on). */
function settled(webhook: ReportWebhook, deliveryId: string): ReportWebhook {
  return webhook.pending[0]?.deliveryId === deliveryId ? { ...webhook, pending: webhook.pending.slice(1) } : webhook;
}

/**
 * Folds one event into the state. Events at or below `state.version` are ignored (idempotent).
 *
 * Webhooks: every time the report moves into STORED, REPLICATED or FAILED from another status, a
 * delivery is queued (so STORED and REPLICATED fire at most once each; FAILED once per failure
 * that a retryReport ended; a second volume copy, STORED → STORED, fires nothing). Deliveries go
 * out in order, one at a time.
 */
export function evolve(state: ReportState | null, event: FoldableEvent): ReportState | null {
  const next = evolveReport(state, event);
  if (!next || next === state || !next.webhook || !isWebhookStatus(next.status) || next.status === state?.status) return next;
  const delivery: PendingWebhook = { deliveryId: webhookDeliveryId(next.reportId, event.streamVersion), status: next.status, version: event.streamVersion, attempts: 0, dueAt: event.recordedAt };
  return { ...next, webhook: { ...next.webhook, pending: [...next.webhook.pending, delivery] } };
}

function evolveReport(state: ReportState | null, event: FoldableEvent): ReportState | null {
  if (event.type === 'LegacyReportImported') {
    // Dated when the legacy application made it, not when it was imported.
    const { reportId, owner, title, createdAt } = event.data;
    return state ?? newReport(event, { reportId, owner, title, template: LEGACY_TEMPLATE, status: 'IMPORTED', requestedAt: new Date(createdAt), expiresAt: null, encrypted: false });
  }
  if (event.type === 'ReportRequested') {
    const { reportId, owner, template, callbackUrl, expiresAt } = event.data;
    if (state) return state;
    // Encrypted and not decrypted (PersonalData.reveal) before the fold: the title is not known here.
    const title = clearPersonalData(event.data)?.title ?? ENCRYPTED_TITLE;
    const report = newReport(event, {
      reportId,
      owner,
      title,
      template,
      status: 'REQUESTED',
      requestedAt: event.recordedAt,
      expiresAt: expiresAt ? new Date(expiresAt) : null,
      encrypted: isEncrypted(event.data),
    });
    return callbackUrl === undefined ? report : { ...report, webhook: { url: callbackUrl, pending: [] } };
  }
  if (!state || event.streamVersion <= state.version) return state;
  const next: ReportState = { ...state, updatedAt: event.recordedAt, version: event.streamVersion };
  const at = event.recordedAt;
  switch (event.type) {
    case 'ReportRendered':
      return {
        ...next,
        status: 'RENDERED',
        sha256: event.data.sha256,
        bytes: event.data.bytes,
        pages: event.data.pages,
        ...NO_FAILURE,
      };
    case 'ReportStoredLocal': {
      const { region, machine, key, sha256, bytes } = event.data;
      return {
        ...next,
        status: state.status === 'REPLICATED' ? 'REPLICATED' : 'STORED',
        // A legacy file's hash is first known when a region finds it.
        sha256: state.sha256 ?? sha256,
        bytes: state.bytes ?? bytes,
        ...NO_FAILURE,
        locations: withLocation(state.locations, { kind: 'volume', place: machine ?? region, region, machine, key, sha256, bytes, storedAt: at, verifiedAt: at }),
      };
    }
    case 'ReportReplicated':
    case 'ReportMigrated': {
      const { bucket, key, sha256, bytes } = event.data;
      return {
        ...next,
        status: 'REPLICATED',
        sha256: state.sha256 ?? sha256,
        bytes: state.bytes ?? bytes,
        ...NO_FAILURE,
        locations: withLocation(state.locations, { kind: 'object', place: bucket, region: null, machine: null, key, sha256, bytes, storedAt: at, verifiedAt: at }),
      };
    }
    case 'ReportFailed': {
      const { stage, error, attempt, retryAt } = event.data;
      // Only a report that never got a file is FAILED; a failed copy leaves the existing one usable.
      const terminal = retryAt === null && (stage === 'render' || stage === 'store');
      const failed = { attempts: attempt, lastError: error, failedStage: stage, nextAttemptAt: retryAt === null ? null : new Date(retryAt) };
      return terminal ? { ...next, ...failed, status: 'FAILED' } : { ...next, ...failed };
    }
    case 'ReportRetryRequested':
      if (state.status === 'FAILED') return { ...next, ...NO_FAILURE, status: 'REQUESTED' };
      // A copy (replicate, migrate) that was given up on is tried again.
      if (isStuckCopy(state)) return { ...next, ...NO_FAILURE };
      return next;
    case 'ReportVolumeForgotten': {
      const { machine, reason } = event.data;
      const locations = state.locations.filter((l) => !(l.kind === 'volume' && l.machine === machine));
      // A report that still has a copy (another volume, the object store) keeps its status.
      const lost = locations.length === 0 && (state.status === 'STORED' || state.status === 'RENDERED');
      return {
        ...next,
        locations,
        ...(lost
          ? {
              status: 'LOST' as const,
              lastError: `its only copy was on the volume of machine ${machine}, which is gone: ${reason}`,
              failedStage: 'lost',
              nextAttemptAt: null,
            }
          : {}),
      };
    }
    // Deliveries are not changes of the report: updatedAt stays.
    case 'WebhookDelivered':
    case 'WebhookFailed':
    case 'WebhookCancelled':
      return state.webhook ? { ...state, version: event.streamVersion, webhook: settled(state.webhook, event.data.deliveryId) } : { ...state, version: event.streamVersion };
    case 'WebhookAttemptFailed': {
      const { deliveryId, attempt, retryAt } = event.data;
      const head = state.webhook?.pending[0];
      if (!state.webhook || head?.deliveryId !== deliveryId) return { ...state, version: event.streamVersion };
      const retried: PendingWebhook = { ...head, attempts: attempt, dueAt: retryAt === null ? head.dueAt : new Date(retryAt) };
      return { ...state, version: event.streamVersion, webhook: { ...state.webhook, pending: [retried, ...state.webhook.pending.slice(1)] } };
    }
    case 'ReportExpired':
    case 'ReportDeleted':
    case 'ReportErased':
      // Gone: no stage is pending any more; the copies stay listed until each is purged.
      return {
        ...next,
        status: event.type === 'ReportExpired' ? 'EXPIRED' : event.type === 'ReportDeleted' ? 'DELETED' : 'ERASED',
        // Erased: the title (decrypted into the projection) goes with the data key.
        ...(event.type === 'ReportErased' ? { title: ERASED } : {}),
        // An erased report may have been gone (deleted, expired) before: it stays gone since then.
        goneAt: state.goneAt ?? at,
        attempts: 0,
        failedStage: null,
        lastError: null,
        nextAttemptAt: null,
      };
    case 'ReportHeld':
      return { ...next, held: true };
    case 'ReportReleased':
      return { ...next, held: false };
    case 'ReportPurged': {
      const { location } = event.data;
      const place = location.kind === 'object' ? location.bucket : (location.machine ?? location.region);
      return { ...next, locations: state.locations.filter((l) => !(l.kind === location.kind && l.place === place)) };
    }
    case 'LegacyScanCompleted':
    case 'VolumeForgotten':
    case 'VolumeOrphansRemoved':
      return state;
  }
}

/** A file whose copy to the object store was given up on (it did not match its record). */
export function isStuckCopy(state: ReportState): boolean {
  return (state.failedStage === 'replicate' || state.failedStage === 'migrate') && state.nextAttemptAt === null && state.status === 'STORED';
}

/** Folds a whole stream (in version order). */
export function foldReport(events: readonly FoldableEvent[], initial: ReportState | null = null): ReportState | null {
  return events.reduce<ReportState | null>(evolve, initial);
}
