import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import parseRange from 'range-parser';
import type { Runtime } from '../../runtime.js';
import { attachmentDisposition } from '../../storage/content-disposition.js';
import { UnavailableError } from '../../storage/download-errors.js';
import { InvalidFileTokenError, type FileClaims } from '../../storage/file-token.js';
import { sendError, sendJson } from '../http-errors.js';

/**
 * GET|HEAD /files/<token>: a signed, expiring link to one file. A link to another region's volume
 * is replayed there by Fly's proxy (`fly-replay`), or redirected to that region's URL elsewhere.
 * Streams in constant memory, with ETag (the sha256), conditional requests and single ranges.
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

  if (claims.location === 'volume' && claims.region !== config.region) {
    const holder = claims.region!;
    if (config.flyReplay && !req.headers['fly-replay-src']) {
      metrics.file('replayed');
      return sendJson(res, 409, { replay: holder }, { 'fly-replay': `region=${holder}` });
    }
    const base = config.regionUrls[holder];
    if (base && !req.headers['fly-replay-src']) {
      metrics.file('redirected');
      res.writeHead(307, { location: `${base}/files/${token}`, 'cache-control': 'no-store' });
      return void res.end();
    }
    metrics.file('unavailable');
    return sendError(res, new UnavailableError(claims.reportId, [holder]), { 'retry-after': '30' });
  }

  const size =
    claims.location === 'volume' ? await runtime.volume.size(claims.key) : ((await runtime.objectStore.head(claims.key))?.bytes ?? null);
  if (size === null) {
    metrics.file('missing');
    runtime.log.error({ key: claims.key, location: claims.location, region: config.region }, 'a signed file is missing');
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
  await pipeline(body, res);
}
