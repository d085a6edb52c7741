import type { RecordedEvent } from '../events/recorded-event.js';

/**
 * A report's state as a pure fold over its events. The inline projection, the rebuild and time
 * travel all use this one function, so they cannot disagree.
 */
/**
 * IMPORTED: a legacy report whose file no machine has found on its volume (yet). LOST: its only
 * copies were on volumes an operator declared gone (`quire volumes forget`).
 */
export const REPORT_STATUSES = ['REQUESTED', 'RENDERED', 'STORED', 'REPLICATED', 'FAILED', 'IMPORTED', 'LOST'] as const;
export type ReportStatus = (typeof REPORT_STATUSES)[number];

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

interface ReportFields {
  reportId: string;
  streamId: string;
  owner: string;
  title: string;
  template: string;
  requestedRegion: string;
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
  event: RecordedEvent,
  first: Pick<UnfiledReport, 'reportId' | 'owner' | 'title' | 'template' | 'requestedAt'> & { status: 'REQUESTED' | 'IMPORTED' },
): ReportState {
  return {
    ...first,
    streamId: event.streamId,
    requestedRegion: event.metadata.region,
    sha256: null,
    bytes: null,
    pages: null,
    ...NO_FAILURE,
    updatedAt: event.recordedAt,
    version: event.streamVersion,
    locations: [],
  };
}

/** Folds one event into the state. Events at or below `state.version` are ignored (idempotent). */
export function evolve(state: ReportState | null, event: RecordedEvent): ReportState | null {
  if (event.type === 'LegacyReportImported') {
    // Dated when the legacy application made it, not when it was imported.
    const { reportId, owner, title, createdAt } = event.data;
    return state ?? newReport(event, { reportId, owner, title, template: LEGACY_TEMPLATE, status: 'IMPORTED', requestedAt: new Date(createdAt) });
  }
  if (event.type === 'ReportRequested') {
    const { reportId, owner, title, template } = event.data;
    return state ?? newReport(event, { reportId, owner, title, template, status: 'REQUESTED', requestedAt: event.recordedAt });
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
export function foldReport(events: readonly RecordedEvent[], initial: ReportState | null = null): ReportState | null {
  return events.reduce<ReportState | null>(evolve, initial);
}
