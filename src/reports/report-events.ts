import type { QuireEvent } from '../events/types.js';

/**
 * The events of a report's stream (`report-<id>`, see reportStreamId). Their schemas live with all
 * of quire's events in events/types.ts (validated on every append and read); this is the report's
 * view of them.
 */
export const REPORT_EVENT_TYPES = [
  'ReportRequested',
  'LegacyReportImported',
  'ReportRendered',
  'ReportStoredLocal',
  'ReportReplicated',
  'ReportMigrated',
  'ReportFailed',
  'ReportRetryRequested',
  'ReportVolumeForgotten',
  'WebhookDelivered',
  'WebhookAttemptFailed',
  'WebhookFailed',
  'WebhookCancelled',
  'ReportErased',
  'ReportExpired',
  'ReportDeleted',
  'ReportHeld',
  'ReportReleased',
  'ReportPurged',
] as const satisfies readonly QuireEvent['type'][];

export type ReportEventType = (typeof REPORT_EVENT_TYPES)[number];
export type ReportEvent = Extract<QuireEvent, { type: ReportEventType }>;
