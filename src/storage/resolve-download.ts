import type { Kysely } from 'kysely';
import type { Actor } from '../actor.js';
import type { Database } from '../database/schema.js';
import { loadReportState } from '../reports/load-report.js';
import { isGone, type ReportLocation, type ReportState } from '../reports/report-state.js';
import { GoneError } from '../reports/errors.js';
import { readableReport } from '../reports/report-access.js';
import { isUuid } from '../reports/uuid.js';
import { attachmentName } from './attachment-name.js';
import { InvalidTtlError, NotReadyError, ReportFailedError, UnavailableError } from './download-errors.js';
import type { FileTokens } from './file-token.js';
import { ObjectStoreUnavailableError, type ObjectStore } from './object-store.js';

export type DownloadSource = 'OBJECT_STORE' | 'LOCAL_VOLUME' | 'REMOTE_VOLUME';

export interface DownloadUrl {
  url: string;
  expiresAt: Date;
  source: DownloadSource;
  /** The region whose volume serves the file; null for the object store. */
  region: string | null;
  /** The machine whose volume serves the file; null for the object store and region-level copies. */
  machine: string | null;
}

export interface DownloadContext {
  db: Kysely<Database>;
  objectStore: ObjectStore;
  fileTokens: FileTokens;
  /** This instance's region and machine. */
  region: string;
  machine: string;
  /** Base of the /files links. */
  publicUrl: string;
  /**
   * Whether a request for another volume can be sent there: to `machine` (fly-replay instance=,
   * a machine URL) or, for a region-level copy (machine null), to `region`.
   */
  canReach(machine: string | null, region: string): boolean;
  /** True while the object store is failing: prefer a volume copy if there is one. */
  objectStoreUnavailable?(): boolean;
  /** Before a presigned link goes out: whether the store answers (asked only when nothing succeeded lately). */
  probeObjectStore?(key: string): Promise<boolean>;
}

export const MAX_TTL_SECONDS = 3600;

export interface DownloadRoute {
  source: DownloadSource;
  location: ReportLocation;
}

/** A copy this very instance serves: on its machine's volume, or region-level in its region (as before machines). */
function isHere(l: ReportLocation, ctx: Pick<DownloadContext, 'region' | 'machine'>): boolean {
  return l.machine !== null ? l.machine === ctx.machine : l.region === ctx.region;
}

/**
 * The best way to a report's bytes from this instance: a verified object-store copy, a copy on
 * this machine's volume, a copy on a reachable machine's volume (same region or not; machine-level
 * copies before region-level ones) — or the typed error that says why there is none (GONE for an
 * expired or deleted report). A sibling's
 * copy is never LOCAL_VOLUME.
 */
export function chooseRoute(
  state: ReportState,
  ctx: Pick<DownloadContext, 'objectStore' | 'region' | 'machine' | 'canReach' | 'objectStoreUnavailable'>,
): DownloadRoute {
  // Expired or deleted: its copies may still be there until purged, but they are not served.
  if (isGone(state)) throw new GoneError(state.reportId, state.status);
  const object = state.locations.find((l) => l.kind === 'object' && l.place === ctx.objectStore.bucket);
  const volumes = state.locations.filter((l) => l.kind === 'volume');
  const local = volumes.find((l) => l.machine !== null && isHere(l, ctx)) ?? volumes.find((l) => isHere(l, ctx));
  const remote =
    volumes.find((l) => l.machine !== null && ctx.canReach(l.machine, l.region!)) ?? volumes.find((l) => l.machine === null && ctx.canReach(null, l.region!));
  const volume: DownloadRoute | undefined = local
    ? { source: 'LOCAL_VOLUME', location: local }
    : remote
      ? { source: 'REMOTE_VOLUME', location: remote }
      : undefined;
  // During an object-store outage a volume copy is the way that works.
  if (object && !(volume && ctx.objectStoreUnavailable?.())) return { source: 'OBJECT_STORE', location: object };
  if (volume) return volume;
  if (state.locations.length > 0) {
    // On volumes we cannot route to, or only in a bucket this instance is not configured for.
    throw new UnavailableError(state.reportId, state.locations.map((l) => l.place));
  }
  if (state.status === 'FAILED' || state.status === 'LOST') throw new ReportFailedError(state.reportId, state.lastError ?? 'unknown error');
  throw new NotReadyError(state.reportId, state.status);
}

/** createDownloadUrl: resolves the route and signs a URL for it that expires after `ttlSeconds`. */
export async function resolveDownload(ctx: DownloadContext, reportId: string, actor: Actor, ttlSeconds: number): Promise<DownloadUrl> {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS) throw new InvalidTtlError(ttlSeconds, MAX_TTL_SECONDS);
  const state = readableReport(actor, reportId, isUuid(reportId) ? await loadReportState(ctx.db, reportId) : null);

  let { source, location } = chooseRoute(state, ctx);
  if (source === 'OBJECT_STORE' && ctx.probeObjectStore && !(await ctx.probeObjectStore(location.key))) {
    // The store does not answer (and now counts as down): a volume copy if there is one, else say so.
    ({ source, location } = chooseRoute(state, ctx));
    if (source === 'OBJECT_STORE') throw new ObjectStoreUnavailableError(`report ${state.reportId} is only in the object store, which does not answer`);
  }
  const filename = attachmentName(state.title);
  if (source === 'OBJECT_STORE') {
    const { url, expiresAt } = await ctx.objectStore.presignGet(location.key, { ttlSeconds, filename });
    return { url: url.startsWith('/') ? `${ctx.publicUrl}${url}` : url, expiresAt, source, region: null, machine: null };
  }
  const { token, expiresAt } = await ctx.fileTokens.sign(
    { reportId: state.reportId, key: location.key, location: 'volume', region: location.region, machine: location.machine, sha256: location.sha256, filename },
    ttlSeconds,
  );
  return { url: `${ctx.publicUrl}/files/${token}`, expiresAt, source, region: location.region, machine: location.machine };
}
