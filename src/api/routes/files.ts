import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import parseRange from 'range-parser';
import { machineBaseUrl } from '../../config.js';
import type { Runtime } from '../../runtime.js';
import { attachmentDisposition } from '../../storage/content-disposition.js';
import { UnavailableError } from '../../storage/download-errors.js';
import { InvalidFileTokenError, type FileClaims } from '../../storage/file-token.js';
import { sendError, sendJson } from '../http-errors.js';
import { reportTraceparent } from '../../reports/report-trace.js';
import { inSpan } from '../../telemetry/spans.js';
import { loadReportState } from '../../reports/load-report.js';
import { GoneError } from '../../reports/errors.js';
import { isGone } from '../../reports/report-state.js';

/** The query parameter a redirected /files request carries: it has been sent on once already. */
const VIA = 'via';

/**
 * GET|HEAD /files/<token>: a signed, expiring link to one file. A link to another machine's volume
 * is replayed to exactly that machine by Fly's proxy (`fly-replay: instance=<id>`), or redirected
 * to that machine's URL elsewhere; a link to a region-level copy (recorded before machines) goes
 * to the region as before. A request that was already sent on once (`fly-replay-src`, or `?via=`
 * on a redirect) and still reached the wrong machine is answered UNAVAILABLE: never a different
 * file, never a loop. Streams in constant memory, with ETag (the sha256), conditional requests
 * and single ranges. A link to a report that is gone (expired, deleted) answers 410 GONE.
 */
export async function serveFile(runtime: Runtime, req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
  const { config, metrics } = runtime;
  let claims: FileClaims;
  try {
    claims = await runtime.fileTokens.verify(token);
  } catch (err) {
    if (!(err instanceof InvalidFileTokenError)) throw err;
    metrics.file('forbidden');
    return sendError(res, err);
  }
  // In the report's trace, on whichever machine the link (or its replayed hop) reached.
  const parent = await reportTraceparent(runtime.store.db, claims.reportId);
  const attributes = { 'quire.report_id': claims.reportId, 'quire.machine': config.machineId, 'quire.file_location': claims.location };
  return inSpan('serveFile', { parent, linkActive: true, attributes }, () => serveClaimed(runtime, req, res, token, claims));
}

async function serveClaimed(runtime: Runtime, req: IncomingMessage, res: ServerResponse, token: string, claims: FileClaims): Promise<void> {
  const { config, metrics } = runtime;
  // A link handed out before the report expired or was deleted dies with it, before its copy is purged.
  const report = await loadReportState(runtime.store.db, claims.reportId);
  if (report && isGone(report)) {
    metrics.file('gone');
    return sendError(res, new GoneError(report.reportId, report.status));
  }

  const here = claims.machine !== null ? claims.machine === config.machineId : claims.region === config.region;
  if (claims.location === 'volume' && !here) {
    const region = claims.region!;
    const holder = claims.machine ?? region;
    const sentOn = req.headers['fly-replay-src'] !== undefined || new URL(req.url ?? '/', 'http://x').searchParams.has(VIA);
    if (sentOn) {
      metrics.file('unavailable');
      runtime.log.warn({ reportId: claims.reportId, holder, machine: config.machineId }, 'a forwarded file request reached a machine that does not hold it');
      return sendError(res, new UnavailableError(claims.reportId, [holder], `and this request, already forwarded, reached ${config.machineId} instead (is ${holder} running?)`), {
        'retry-after': '30',
      });
    }
    if (config.flyReplay) {
      metrics.file('replayed');
      const target = claims.machine !== null ? `instance=${claims.machine}` : `region=${region}`;
      return sendJson(res, 409, { replay: holder }, { 'fly-replay': target });
    }
    const base = machineBaseUrl(config, claims.machine, region);
    if (base) {
      metrics.file('redirected');
      res.writeHead(307, { location: `${base}/files/${token}?${VIA}=${encodeURIComponent(config.machineId)}`, 'cache-control': 'no-store' });
      return void res.end();
    }
    metrics.file('unavailable');
    return sendError(res, new UnavailableError(claims.reportId, [holder]), { 'retry-after': '30' });
  }

  const size =
    claims.location === 'volume' ? await runtime.volume.size(claims.key) : ((await runtime.objectStore.head(claims.key))?.bytes ?? null);
  if (size === null) {
    metrics.file('missing');
    runtime.log.error({ key: claims.key, location: claims.location, region: config.region, machine: config.machineId }, 'a signed file is missing');
    return sendJson(res, 410, { error: { code: 'MISSING', message: 'the file behind this link is gone from its store' } });
  }

  const sha256 = claims.sha256 || (await runtime.objectStore.head(claims.key))?.sha256 || '';
  const headers: Record<string, string | number> = {
    'content-type': 'application/pdf',
    'content-disposition': attachmentDisposition(claims.filename),
    'accept-ranges': 'bytes',
    'cache-control': 'private, no-cache',
    'x-content-type-options': 'nosniff',
    ...(sha256 ? { etag: `"${sha256}"` } : {}),
  };
  if (sha256 && req.headers['if-none-match']?.split(/\s*,\s*/).includes(`"${sha256}"`)) {
    metrics.file('not_modified');
    res.writeHead(304, headers);
    return void res.end();
  }

  let range: { start: number; end: number } | undefined;
  const header = req.headers.range;
  if (header) {
    const parsed = parseRange(size, header, { combine: true });
    if (parsed === -1) {
      res.writeHead(416, { 'content-range': `bytes */${size}`, 'cache-control': 'no-store' });
      return void res.end();
    }
    // Several ranges (rare for PDFs) get the whole file, as RFC 9110 allows.
    if (parsed !== -2 && parsed.type === 'bytes' && parsed.length === 1) range = parsed[0]!;
  }
  const length = range ? range.end - range.start + 1 : size;
  res.writeHead(range ? 206 : 200, {
    ...headers,
    'content-length': length,
    ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${size}` } : {}),
  });
  metrics.file('served');
  if (req.method === 'HEAD' || length === 0) return void res.end();
  const body =
    claims.location === 'volume' ? runtime.volume.createReadStream(claims.key, range) : await runtime.objectStore.get(claims.key, range);
  if (!body) return void res.destroy();
  try {
    await pipeline(body, res);
  } catch (err) {
    // The client went away mid-body (a closed tab, a cancelled download, a player probing): its
    // choice, logged as `aborted` on the request line — not a server error with a stack, one per
    // aborted download. The source was destroyed by the pipeline all the same; its own failure still throws.
    if ((err as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE' && res.destroyed) return;
    throw err;
  }
}
