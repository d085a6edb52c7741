import { z } from 'zod';
import { PDF_STANDARDS } from '../shared/report-input.js';

/**
 * quire's event types: one discriminated union, validated on every append and every read.
 * To change a payload, bump its SCHEMA_VERSIONS entry and add an upcaster from the old version,
 * so events already in the log are read in the new shape.
 */

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lower-case hex sha256');
const region = z.string().regex(/^[a-z0-9-]{1,32}$/, 'a region name');
/** A machine id (FLY_MACHINE_ID, MACHINE_ID or one derived from the host). */
const machine = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'a machine id');
/**
 * The machine whose volume holds (or held, or was searched for) a file. Events written before
 * quire knew machines (schema version 1) are upcast with `machine: null`: such a copy is
 * region-level and is treated as it was then — any machine of the region may serve or copy it
 * if it finds the file (see reports/report-state.ts, workers/copy-stage.ts). New events always name it.
 */
const volumeMachine = machine.nullable();
/** A storage key quire derived itself: never a path a user supplied. */
const storageKey = z
  .string()
  .max(512)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'a storage key')
  .refine((k) => !k.split('/').includes('..'), 'a storage key without ".."');
const byteCount = z.number().int().nonnegative();

const base64url = (bytes: { min: number; max: number }) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]*$/, 'base64url')
    .min(Math.ceil((bytes.min * 4) / 3))
    .max(Math.ceil((bytes.max * 4) / 3));

/**
 * Personal data encrypted with its report's data key (src/reports/personal-data.ts): AES-256-GCM,
 * a fresh 96-bit IV, the 128-bit tag, the report id as additional data (an envelope copied into
 * another report does not open). The hash chain covers these bytes, so it verifies with or
 * without the key.
 */
export const PersonalDataEnvelope = z.strictObject({
  v: z.literal(1),
  alg: z.literal('A256GCM'),
  iv: base64url({ min: 12, max: 12 }),
  /** The UTF-8 JSON of the personal fields, encrypted (params are at most 1 MiB). */
  ct: base64url({ min: 0, max: 2 * 1024 * 1024 }),
  tag: base64url({ min: 16, max: 16 }),
});
export type PersonalDataEnvelope = z.infer<typeof PersonalDataEnvelope>;

const requestedFields = {
  reportId: z.uuid(),
  template: z.string().min(1).max(64),
  /** A subject id from the bearer token: pseudonymous, kept in clear (README, Erasure). */
  owner: z.string().min(1).max(200),
  /** An archival standard the requester asked for (absent: the template's default). */
  pdfStandard: z.enum(PDF_STANDARDS).optional(),
  /** Where quire POSTs the outcome (checked against the allow-list when requested; absent: no webhook). */
  callbackUrl: z.url().max(2048).optional(),
  /**
   * When the report expires (retainFor, expiresAt or the template's default; see
   * reports/retention.ts); absent: kept until deleted. Optional, so no new schema version.
   */
  expiresAt: z.iso.datetime().optional(),
};

/** The personal fields of a request, as the requester gave them. */
export const RequestedPersonalData = z.strictObject({
  title: z.string().min(1).max(200),
  params: z.record(z.string(), z.unknown()),
});
export type RequestedPersonalData = z.infer<typeof RequestedPersonalData>;

/**
 * Title and params in clear: what the domain works with, and what the log held before personal
 * data was encrypted (v1, never erasable).
 */
export const ReportRequestedInClear = z.strictObject({ ...requestedFields, ...RequestedPersonalData.shape });
/** Title and params encrypted (v2): what requestReport appends. */
export const ReportRequestedEncrypted = z.strictObject({ ...requestedFields, personal: PersonalDataEnvelope });
export const ReportRequested = z.union([ReportRequestedInClear, ReportRequestedEncrypted]);

/** An admin erased the report's personal data (its data key is deleted): who is in `by`, never what was erased. */
export const ReportErased = z.strictObject({
  by: z.string().min(1).max(200),
  reason: z.string().min(1).max(500),
});

export const ReportRendered = z.strictObject({
  sha256,
  bytes: byteCount,
  pages: z.number().int().positive(),
  renderMs: z.number().nonnegative(),
  rendererVersion: z.string().min(1).max(100),
  /** The locale of the labels, numbers and dates (absent for templates without one, and before it was recorded). */
  locale: z.string().min(1).max(35).optional(),
  /** Characters no shipped font could draw, printed as U+FFFD: a warning, not a failure. */
  missingGlyphs: z.array(z.string().regex(/^U\+[0-9A-F]{4,6}$/)).max(1000).optional(),
});

export const ReportStoredLocal = z.strictObject({
  region,
  machine: volumeMachine,
  key: storageKey,
  sha256,
  bytes: byteCount,
});

export const ReportReplicated = z.strictObject({
  bucket: z.string().min(1).max(255),
  key: storageKey,
  sha256,
  bytes: byteCount,
  etag: z.string().max(200),
});

export const ReportMigrated = z.strictObject({
  /** The region and machine whose volume the file was copied from. */
  region,
  machine: volumeMachine,
  bucket: z.string().min(1).max(255),
  key: storageKey,
  sha256,
  bytes: byteCount,
});

export const FailureStage = z.enum(['render', 'store', 'replicate', 'migrate', 'scan']);

export const ReportFailed = z.strictObject({
  stage: FailureStage,
  error: z.string().max(4000),
  attempt: z.number().int().positive(),
  /** When the stage will be tried again; null after the last attempt. */
  retryAt: z.iso.datetime().nullable(),
});

/** A failed report goes back to the queue (retryReport); who asked is in the metadata. */
export const ReportRetryRequested = z.strictObject({
  reason: z.string().max(500).optional(),
});

/**
 * A report of the legacy application (a row of its `reports` table), adopted by quire. Which
 * region's volume holds its file is not known yet: each region's scan records what it finds.
 */
export const LegacyReportImported = z.strictObject({
  reportId: z.uuid(),
  legacyId: z.string().min(1).max(200),
  owner: z.string().min(1).max(200),
  title: z.string().min(1).max(500),
  /** file_path exactly as the legacy row had it. */
  filePath: z.string().min(1).max(1024),
  createdAt: z.iso.datetime({ offset: true }),
});

/** One machine's pass over its volume for imported files (stream `legacy-scan-<machine>`; `-<region>` before v2). */
export const LegacyScanCompleted = z.strictObject({
  region,
  machine: volumeMachine,
  checked: z.number().int().nonnegative(),
  found: z.number().int().nonnegative(),
  notHere: z.number().int().nonnegative(),
});

/**
 * An operator declared a machine's volume gone for good (`quire volumes forget`), on the stream
 * `volume-<machine>`. Each report with a copy there gets a ReportVolumeForgotten.
 */
export const VolumeForgotten = z.strictObject({
  machine,
  /** The machine's region, when its copies said; null when none did. */
  region: region.nullable(),
  reason: z.string().min(1).max(500),
});

/** This report's copy on a forgotten machine's volume is gone; with no other copy the report is LOST. */
export const ReportVolumeForgotten = z.strictObject({
  machine,
  region,
  reason: z.string().min(1).max(500),
});

/**
 * Files on a machine's volume that no event referenced, older than the grace period (a crash
 * between writing a rendered file and appending its event), recorded on `volume-<machine>`
 * before they are removed.
 */
export const VolumeOrphansRemoved = z.strictObject({
  machine,
  region,
  graceMs: z.number().int().positive(),
  files: z
    .array(z.strictObject({ key: storageKey, bytes: byteCount, modifiedAt: z.iso.datetime() }))
    .min(1)
    .max(1000),
});

/** Which transition of the report a webhook delivery announces. */
const WebhookStatus = z.enum(['STORED', 'REPLICATED', 'FAILED']);

/** The attempt's HTTP answer, when there was one. */
const httpStatus = z.number().int().min(100).max(599);

/**
 * One webhook delivery (`deliveryId`, the webhook-id header, the same on every attempt) answered
 * 2xx. Delivery events are appended to the report's stream; they change its webhook queue only.
 */
export const WebhookDelivered = z.strictObject({
  deliveryId: z.string().min(1).max(100),
  status: WebhookStatus,
  attempt: z.number().int().positive(),
  httpStatus,
});

/** One attempt that failed (refused address, timeout, non-2xx); `retryAt` null when it was the last. */
export const WebhookAttemptFailed = z.strictObject({
  deliveryId: z.string().min(1).max(100),
  status: WebhookStatus,
  attempt: z.number().int().positive(),
  httpStatus: httpStatus.nullable(),
  error: z.string().max(1000),
  retryAt: z.iso.datetime().nullable(),
});

/** The delivery was given up on after its last attempt (WEBHOOK_MAX_ATTEMPTS). */
export const WebhookFailed = z.strictObject({
  deliveryId: z.string().min(1).max(100),
  status: WebhookStatus,
  attempts: z.number().int().positive(),
  error: z.string().max(1000),
});

/**
 * A pending delivery that will never be attempted (again): the report was erased, so nothing more
 * is said about it to anyone. Appended with the erasure, one per delivery still queued.
 */
export const WebhookCancelled = z.strictObject({
  deliveryId: z.string().min(1).max(100),
  status: WebhookStatus,
  reason: z.enum(['erased']),
});

/** The expiry sweep found the report past its expiresAt (and not held): it is gone, its copies to purge. */
export const ReportExpired = z.strictObject({
  /** The expiresAt that passed (the event's recordedAt says when the sweep saw it). */
  at: z.iso.datetime(),
});

/** Deleted by its owner or an admin (deleteReport), or an operator (`quire reports delete`): gone, its copies to purge. */
export const ReportDeleted = z.strictObject({
  /** The actor id (as in the metadata): a token subject, never a name or address. */
  by: z.string().min(1).max(200),
  reason: z.string().max(500).optional(),
});

/** Legal hold (admin): expiry and deletion are refused until ReportReleased. */
export const ReportHeld = z.strictObject({
  by: z.string().min(1).max(200),
  reason: z.string().max(500).optional(),
});

export const ReportReleased = z.strictObject({
  by: z.string().min(1).max(200),
});

/** One copy of a gone report whose bytes are deleted: a volume file (machine, or region-level) or an object. */
export const PurgedCopy = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('volume'), region, machine: volumeMachine, key: storageKey }),
  z.strictObject({ kind: z.literal('object'), bucket: z.string().min(1).max(255), key: storageKey }),
]);

export const ReportPurged = z.strictObject({
  location: PurgedCopy,
});

const event = <T extends string, D extends z.ZodType>(type: T, data: D) =>
  z.strictObject({ type: z.literal(type), data });

export const QuireEventSchema = z.discriminatedUnion('type', [
  event('ReportRequested', ReportRequested),
  event('ReportRendered', ReportRendered),
  event('ReportStoredLocal', ReportStoredLocal),
  event('ReportReplicated', ReportReplicated),
  event('ReportMigrated', ReportMigrated),
  event('ReportFailed', ReportFailed),
  event('ReportRetryRequested', ReportRetryRequested),
  event('LegacyReportImported', LegacyReportImported),
  event('LegacyScanCompleted', LegacyScanCompleted),
  event('VolumeForgotten', VolumeForgotten),
  event('ReportVolumeForgotten', ReportVolumeForgotten),
  event('VolumeOrphansRemoved', VolumeOrphansRemoved),
  event('WebhookDelivered', WebhookDelivered),
  event('WebhookAttemptFailed', WebhookAttemptFailed),
  event('WebhookFailed', WebhookFailed),
  event('WebhookCancelled', WebhookCancelled),
  event('ReportErased', ReportErased),
  event('ReportExpired', ReportExpired),
  event('ReportDeleted', ReportDeleted),
  event('ReportHeld', ReportHeld),
  event('ReportReleased', ReportReleased),
  event('ReportPurged', ReportPurged),
]);

export type QuireEvent = z.infer<typeof QuireEventSchema>;
export type EventType = QuireEvent['type'];
export type EventData<T extends EventType> = Extract<QuireEvent, { type: T }>['data'];

export const EVENT_TYPES = QuireEventSchema.options.map((o) => o.shape.type.value) as EventType[];

/** The schema version new events of each type are written with. */
export const SCHEMA_VERSIONS: Record<EventType, number> = {
  // v2: title and params may be encrypted (`personal`); v1 payloads are in clear, read as they are.
  ReportRequested: 2,
  ReportRendered: 1,
  // v2: + machine (v1 events upcast with machine null: region-level copies).
  ReportStoredLocal: 2,
  ReportReplicated: 1,
  ReportMigrated: 2,
  ReportFailed: 1,
  ReportRetryRequested: 1,
  LegacyReportImported: 1,
  LegacyScanCompleted: 2,
  VolumeForgotten: 1,
  ReportVolumeForgotten: 1,
  VolumeOrphansRemoved: 1,
  WebhookDelivered: 1,
  WebhookAttemptFailed: 1,
  WebhookFailed: 1,
  WebhookCancelled: 1,
  ReportErased: 1,
  ReportExpired: 1,
  ReportDeleted: 1,
  ReportHeld: 1,
  ReportReleased: 1,
  ReportPurged: 1,
};

/** Who and where: stamped on every event. */
export const EventMetadata = z.strictObject({
  region,
  /** The machine that appended it (absent on events written before machines were recorded). */
  machine: machine.optional(),
  actor: z.string().max(200).nullable(),
  correlationId: z.string().max(200).optional(),
  causationId: z.string().max(200).optional(),
  requestId: z.string().max(200).optional(),
  /**
   * W3C trace context of the span that appended it (only while tracing is on): the next stage,
   * on whichever machine, starts its span as a child of it, so one report is one trace.
   */
  traceparent: z
    .string()
    .regex(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'a W3C traceparent')
    .optional(),
});
export type EventMetadata = z.infer<typeof EventMetadata>;
