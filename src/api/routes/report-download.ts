import type { IncomingMessage, ServerResponse } from 'node:http';
import { MIN_LSN_HEADER, parseLsnHeader } from '../../database/read-router.js';
import { canonicalUuid } from '../../reports/uuid.js';
import type { Runtime } from '../../runtime.js';
import { createDownloadUrl } from '../downloads.js';
import { sendError } from '../http-errors.js';
import { requestRecord } from '../request-log.js';

/**
 * GET /reports/:id/download — the seed's REST route, kept for existing clients: bearer auth, owner
 * check, then a 302 to wherever the bytes are. Errors are the typed ones, as JSON: a report that
 * exists elsewhere is never a bare 404.
 */
export async function downloadReport(runtime: Runtime, req: IncomingMessage, res: ServerResponse, reportId: string): Promise<void> {
  try {
    const { actor } = await runtime.userTokens.fromHeader(req.headers.authorization);
    const record = requestRecord(req);
    if (record) record.viewer = actor.id;
    const reads = runtime.reads.scope(parseLsnHeader(req.headers[MIN_LSN_HEADER]));
    const { url } = await createDownloadUrl(runtime, canonicalUuid(reportId), actor, undefined, reads);
    res.writeHead(302, { location: url, 'cache-control': 'no-store' });
    res.end();
  } catch (err) {
    const retry = err instanceof Error && 'code' in err && (err.code === 'UNAVAILABLE' || err.code === 'NOT_READY');
    sendError(res, err, retry ? { 'retry-after': '5' } : {});
  }
}
