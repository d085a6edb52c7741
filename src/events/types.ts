import { z } from 'zod';

/**
 * quire's event types: one discriminated union, validated on every append and every read.
 * To change a payload, bump its SCHEMA_VERSIONS entry and add an upcaster from the old version,
 * so events already in the log are read in the new shape.
 */

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lower-case hex sha256');
const region = z.string().regex(/^[a-z0-9-]{1,32}$/, 'a region name');
/** A storage key quire derived itself: never a path a user supplied. */
const storageKey = z
  .string()
  .max(512)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'a storage key')
  .refine((k) => !k.split('/').includes('..'), 'a storage key without ".."');
const byteCount = z.number().int().nonnegative();

export const ReportRequested = z.strictObject({
  reportId: z.uuid(),
  template: z.string().min(1).max(64),
  title: z.string().min(1).max(200),
  params: z.record(z.string(), z.unknown()),
  owner: z.string().min(1).max(200),
});

export const ReportRendered = z.strictObject({
  sha256,
  bytes: byteCount,
  pages: z.number().int().positive(),
  renderMs: z.number().nonnegative(),
  rendererVersion: z.string().min(1).max(100),
});

export const ReportStoredLocal = z.strictObject({
  region,
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
  /** The region whose volume the file was copied from. */
  region,
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

/** One region's pass over its volume for imported files (stream `legacy-scan-<region>`). */
export const LegacyScanCompleted = z.strictObject({
  region,
  checked: z.number().int().nonnegative(),
  found: z.number().int().nonnegative(),
  notHere: z.number().int().nonnegative(),
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
]);

export type QuireEvent = z.infer<typeof QuireEventSchema>;
export type EventType = QuireEvent['type'];
export type EventData<T extends EventType> = Extract<QuireEvent, { type: T }>['data'];

export const EVENT_TYPES = QuireEventSchema.options.map((o) => o.shape.type.value) as EventType[];

/** The schema version new events of each type are written with. */
export const SCHEMA_VERSIONS: Record<EventType, number> = {
  ReportRequested: 1,
  ReportRendered: 1,
  ReportStoredLocal: 1,
  ReportReplicated: 1,
  ReportMigrated: 1,
  ReportFailed: 1,
  ReportRetryRequested: 1,
  LegacyReportImported: 1,
  LegacyScanCompleted: 1,
};

/** Who and where: stamped on every event. */
export const EventMetadata = z.strictObject({
  region,
  actor: z.string().max(200).nullable(),
  correlationId: z.string().max(200).optional(),
  causationId: z.string().max(200).optional(),
  requestId: z.string().max(200).optional(),
});
export type EventMetadata = z.infer<typeof EventMetadata>;
