import type { Kysely } from 'kysely';
import { canRead, type Actor } from '../actor.js';
import type { Database } from '../database/schema.js';
import { loadReportState } from '../projections/report-rows.js';
import type { ReportLocation } from '../projections/report-state.js';
import { ReportNotFoundError } from '../reports/errors.js';
import { isUuid } from '../reports/uuid.js';
import { attachmentName } from './attachment-name.js';
import { InvalidTtlError, NotReadyError, ReportFailedError, UnavailableError } from './download-errors.js';
import type { FileTokens } from './file-token.js';
import type { ObjectStore } from './object-store.js';

export type DownloadSource = 'OBJECT_STORE' | 'LOCAL_VOLUME' | 'REMOTE_VOLUME';

export interface DownloadUrl {
  url: string;
  expiresAt: Date;
  source: DownloadSource;
  /** The region whose volume serves the file; null for the object store. */
  region: string | null;
}

export interface DownloadContext {
  db: Kysely<Database>;
  objectStore: ObjectStore;
  fileTokens: FileTokens;
  /** This instance's region. */
  region: string;
  /** Base of the /files links. */
  publicUrl: string;
  /** Whether a request for another region's volume can be sent there (fly-replay or a region URL). */
  canReach(region: string): boolean;
}

export const MAX_TTL_SECONDS = 3600;

/**
 * The way to a report's bytes, best first: a verified object-store copy (presigned GET), a copy on
 * this region's volume (a signed link served here), a copy on another region's volume (a signed
 * link that is replayed or redirected there). Otherwise a typed error that says why.
 */
export async function resolveDownload(ctx: DownloadContext, reportId: string, actor: Actor, ttlSeconds: number): Promise<DownloadUrl> {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS) throw new InvalidTtlError(ttlSeconds, MAX_TTL_SECONDS);
  const state = isUuid(reportId) ? await loadReportState(ctx.db, reportId) : null;
  if (!state || !canRead(actor, state.owner)) throw new ReportNotFoundError(reportId);

  const filename = attachmentName(state.title);
  const object = state.locations.find((l) => l.kind === 'object' && l.place === ctx.objectStore.bucket);
  if (object) {
    const { url, expiresAt } = await ctx.objectStore.presignGet(object.key, { ttlSeconds, filename });
    return { url: absolute(ctx.publicUrl, url), expiresAt, source: 'OBJECT_STORE', region: null };
  }

  const volumes = state.locations.filter((l) => l.kind === 'volume');
  const local = volumes.find((l) => l.place === ctx.region);
  if (local) return signVolumeLink(ctx, state.reportId, local, filename, ttlSeconds, 'LOCAL_VOLUME');
  const remote = volumes.find((l) => ctx.canReach(l.place));
  if (remote) return signVolumeLink(ctx, state.reportId, remote, filename, ttlSeconds, 'REMOTE_VOLUME');
  if (volumes.length > 0) throw new UnavailableError(reportId, volumes.map((l) => l.place));

  if (state.status === 'FAILED') throw new ReportFailedError(reportId, state.lastError ?? 'unknown error');
  if (state.locations.length > 0) {
    // Only copies in a bucket this instance is not configured for.
    throw new UnavailableError(reportId, state.locations.map((l) => l.place));
  }
  throw new NotReadyError(reportId, state.status);
}

async function signVolumeLink(
  ctx: DownloadContext,
  reportId: string,
  location: ReportLocation,
  filename: string,
  ttlSeconds: number,
  source: DownloadSource,
): Promise<DownloadUrl> {
  const { token, expiresAt } = await ctx.fileTokens.sign(
    { reportId, key: location.key, location: 'volume', region: location.place, sha256: location.sha256, filename },
    ttlSeconds,
  );
  return { url: `${ctx.publicUrl}/files/${token}`, expiresAt, source, region: location.place };
}

function absolute(base: string, url: string): string {
  return url.startsWith('/') ? `${base}${url}` : url;
}
