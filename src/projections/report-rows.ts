import type { Insertable, Selectable } from 'kysely';
import type { ReportLocationsTable, ReportStatusTable, WebhookColumn } from '../database/schema.js';
import { isFiledStatus, type ReportLocation, type ReportState, type ReportStatus, type ReportWebhook } from '../reports/report-state.js';

/** Mapping between ReportState and its two projection tables (both ways); the reads are in src/reports/load-report.ts. */
function webhookColumn(w: ReportWebhook): WebhookColumn {
  return { url: w.url, pending: w.pending.map((p) => ({ ...p, dueAt: p.dueAt.toISOString() })) };
}

function toWebhook(w: WebhookColumn): ReportWebhook {
  return { url: w.url, pending: w.pending.map((p) => ({ ...p, dueAt: new Date(p.dueAt) })) };
}

export function statusRow(s: ReportState): Insertable<ReportStatusTable> & { held: boolean; encrypted: boolean } {
  const row = statusRecord(s);
  return { ...row, webhook: row.webhook && JSON.stringify(row.webhook) };
}

/** statusRow with the webhook as a JSON value, not its text: a row of a JSON document of rows (the rebuild's insert). */
export function statusRecord(s: ReportState): Omit<ReturnType<typeof statusRow>, 'webhook'> & { webhook: WebhookColumn | null } {
  return {
    report_id: s.reportId,
    stream_id: s.streamId,
    owner: s.owner,
    title: s.title,
    template: s.template,
    status: s.status,
    requested_region: s.requestedRegion,
    sha256: s.sha256,
    bytes: s.bytes,
    pages: s.pages,
    attempts: s.attempts,
    last_error: s.lastError,
    failed_stage: s.failedStage,
    next_attempt_at: s.nextAttemptAt,
    requested_at: s.requestedAt,
    updated_at: s.updatedAt,
    last_version: s.version,
    webhook: s.webhook && webhookColumn(s.webhook),
    webhook_due_at: s.webhook?.pending[0]?.dueAt ?? null,
    encrypted: s.encrypted,
    expires_at: s.expiresAt,
    held: s.held,
    gone_at: s.goneAt,
  };
}

export function locationRow(reportId: string, l: ReportLocation): ReportLocationsTable {
  return {
    report_id: reportId,
    kind: l.kind,
    place: l.place,
    region: l.region,
    machine: l.machine,
    key: l.key,
    sha256: l.sha256,
    bytes: l.bytes,
    stored_at: l.storedAt,
    verified_at: l.verifiedAt,
  };
}

/** A location row as selected directly, or from JSON (where timestamps are strings). */
export type LocationRow = Omit<Selectable<ReportLocationsTable>, 'stored_at' | 'verified_at'> & { stored_at: Date | string; verified_at: Date | string };

export function toLocation(r: LocationRow): ReportLocation {
  return {
    kind: r.kind,
    place: r.place,
    region: r.region,
    machine: r.machine,
    key: r.key,
    sha256: r.sha256,
    bytes: Number(r.bytes),
    storedAt: new Date(r.stored_at),
    verifiedAt: new Date(r.verified_at),
  };
}

export function toReportState(r: Selectable<ReportStatusTable>, locations: ReportLocation[]): ReportState {
  const fields = {
    reportId: r.report_id,
    streamId: r.stream_id,
    owner: r.owner,
    title: r.title,
    template: r.template,
    requestedRegion: r.requested_region,
    pages: r.pages,
    attempts: r.attempts,
    lastError: r.last_error,
    failedStage: r.failed_stage,
    nextAttemptAt: r.next_attempt_at && new Date(r.next_attempt_at),
    requestedAt: new Date(r.requested_at),
    updatedAt: new Date(r.updated_at),
    version: Number(r.last_version),
    encrypted: r.encrypted,
    locations,
    webhook: r.webhook && toWebhook(typeof r.webhook === 'string' ? (JSON.parse(r.webhook) as WebhookColumn) : r.webhook),
    expiresAt: r.expires_at && new Date(r.expires_at),
    held: r.held,
    goneAt: r.gone_at && new Date(r.gone_at),
  };
  const status = r.status as ReportStatus;
  if (!isFiledStatus(status)) return { ...fields, status, sha256: r.sha256, bytes: r.bytes === null ? null : Number(r.bytes) };
  // The fold never writes a filed status without the file's hash and size: a row that does is damaged.
  if (r.sha256 === null || r.bytes === null) throw new Error(`report_status row of ${r.report_id} is ${status} without sha256 and bytes`);
  return { ...fields, status, sha256: r.sha256, bytes: Number(r.bytes) };
}
