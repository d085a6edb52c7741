import type { Kysely } from 'kysely';
import type { Database } from '../database/schema.js';
import { START, type Checkpoint } from './checkpoint.js';
import type { EventRow, FoldableEvent, FoldRow, RecordedEvent } from './recorded-event.js';
import { checkpointOf, EVENT_COLUMNS, safeEvents, TRANSACTION_ID } from './safe-read.js';
import { EventMetadata, QuireEventSchema, type EventType, type QuireEvent } from './types.js';
import { upcast } from './upcasters.js';

export class CorruptEventError extends Error {
  override readonly name = 'CorruptEventError';
}

/** Upcasts and validates a stored row. A row that fails is corrupt: reading must not guess. */
export function toRecordedEvent(row: EventRow): RecordedEvent {
  const { event, metadata } = validated(row);
  // A literal, not `...event`: spreading the parsed event and adding these made each event a
  // slow object (~15 µs an event more to build, and slower to read in every fold). An event is
  // exactly its type and data (strictObject).
  return {
    type: event.type,
    data: event.data,
    eventId: row.event_id,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    globalPosition: row.global_position,
    schemaVersion: row.schema_version,
    metadata,
    recordedAt: new Date(row.recorded_at),
    checkpoint: checkpointOf(row),
    prevHash: row.prev_hash,
    hash: row.hash,
  } as RecordedEvent;
}

/** toRecordedEvent of the columns a fold reads (the projections' replay): upcast and validated alike. */
export function toFoldableEvent(row: FoldRow): FoldableEvent {
  const { event, metadata } = validated(row);
  return {
    type: event.type,
    data: event.data,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    globalPosition: row.global_position,
    schemaVersion: row.schema_version,
    metadata,
    recordedAt: row.recorded_at,
  } as FoldableEvent;
}

/** The row's payload upcast and checked against its type's schema, and its metadata checked; or CorruptEventError. */
function validated(row: ReadabilityFields): { event: QuireEvent; metadata: EventMetadata } {
  let data: unknown;
  try {
    data = upcast(row.type as EventType, row.schema_version, row.data);
  } catch (err) {
    // A newer instance wrote it (rolling deploy), or its schema version is garbage.
    const why = err instanceof Error ? err.message : String(err);
    throw new CorruptEventError(`event ${row.global_position} (${row.stream_id} v${row.stream_version}, ${row.type}) cannot be upcast: ${why}`, { cause: err });
  }
  const parsed = QuireEventSchema.safeParse({ type: row.type, data });
  const metadata = EventMetadata.safeParse(row.metadata);
  if (!parsed.success || !metadata.success) {
    throw new CorruptEventError(
      `event ${row.global_position} (${row.stream_id} v${row.stream_version}, ${row.type}) does not match its schema`,
    );
  }
  return { event: parsed.data, metadata: metadata.data };
}

/** A row of the global log that this code cannot read: skipped by global readers, reported by `audit verify`. */
export interface QuarantinedEvent {
  globalPosition: number;
  streamId: string;
  streamVersion: number;
  type: string;
  schemaVersion: number;
  checkpoint: Checkpoint;
  reason: string;
}

export type QuarantineHandler = (event: QuarantinedEvent) => void;

/** The columns that decide whether a row can be read (verify passes no more: row-checks.ts). */
export type ReadabilityFields = Pick<EventRow, 'global_position' | 'stream_id' | 'stream_version' | 'type' | 'schema_version' | 'data' | 'metadata'>;

/** Why `row` cannot be read by this code, or null when it can. */
export function unreadableReason(row: ReadabilityFields): string | null {
  try {
    // The checks alone: verify asks this of every event and needs no event built.
    validated(row);
    return null;
  } catch (err) {
    if (err instanceof CorruptEventError) return err.message;
    throw err;
  }
}

/**
 * The rows of a global read as events, without the ones that cannot be read: one bad row (or one
 * written by a newer instance) must not stall every reader of the log behind it. Streams read one
 * at a time stay strict (readStream): folding a report without one of its events would guess.
 */
function readableEvents(rows: readonly EventRow[], onQuarantine?: QuarantineHandler): { events: RecordedEvent[]; quarantined: QuarantinedEvent[] } {
  const events: RecordedEvent[] = [];
  const quarantined: QuarantinedEvent[] = [];
  for (const row of rows) {
    try {
      events.push(toRecordedEvent(row));
    } catch (err) {
      if (!(err instanceof CorruptEventError)) throw err;
      const q: QuarantinedEvent = {
        globalPosition: Number(row.global_position),
        streamId: row.stream_id,
        streamVersion: Number(row.stream_version),
        type: row.type,
        schemaVersion: Number(row.schema_version),
        checkpoint: checkpointOf(row),
        reason: err.message,
      };
      quarantined.push(q);
      onQuarantine?.(q);
    }
  }
  return { events, quarantined };
}

export interface ReadStreamOptions {
  /** First version to return (1 = from the start). */
  fromVersion?: number;
  limit?: number;
}

/** The events of one stream, in version order. */
export async function readStream(
  db: Kysely<Database>,
  streamId: string,
  { fromVersion = 1, limit }: ReadStreamOptions = {},
): Promise<RecordedEvent[]> {
  let query = db
    .selectFrom('events')
    .select(EVENT_COLUMNS)
    .where('stream_id', '=', streamId)
    .where('stream_version', '>=', fromVersion)
    .orderBy('stream_version');
  if (limit !== undefined) query = query.limit(limit);
  const rows = await query.execute();
  return rows.map(toRecordedEvent);
}

/** The events of several streams in one query (DataLoader batches), by stream id. */
export async function readStreams(db: Kysely<Database>, streamIds: readonly string[]): Promise<Map<string, RecordedEvent[]>> {
  const out = new Map<string, RecordedEvent[]>(streamIds.map((id) => [id, []]));
  if (streamIds.length === 0) return out;
  const rows = await db
    .selectFrom('events')
    .select(EVENT_COLUMNS)
    .where('stream_id', 'in', [...streamIds])
    .orderBy('stream_id')
    .orderBy('stream_version')
    .execute();
  for (const row of rows) out.get(row.stream_id)?.push(toRecordedEvent(row));
  return out;
}

/** Rows of the global log after `after`, in commit order, without upcasting (auditors verify these). */
export async function readAllRows(db: Kysely<Database>, after: Checkpoint, limit: number, streamId?: string): Promise<EventRow[]> {
  return safeEvents(db, { after, ...(streamId === undefined ? {} : { streamId }) })
    .select(EVENT_COLUMNS)
    .limit(limit)
    .execute();
}

export interface EventQuery {
  after: Checkpoint;
  limit: number;
  streamId?: string;
  types?: readonly string[];
  since?: Date;
  until?: Date;
}

/**
 * The global log in commit order, filtered (the auditors' `events` query); same safe read as
 * readAll, and unreadable rows are quarantined the same way.
 */
export async function queryEvents(db: Kysely<Database>, q: EventQuery, onQuarantine?: QuarantineHandler): Promise<RecordedEvent[]> {
  let query = safeEvents(db, { after: q.after, ...(q.streamId === undefined ? {} : { streamId: q.streamId }) }).select(EVENT_COLUMNS);
  if (q.types && q.types.length > 0) query = query.where('type', 'in', [...q.types]);
  if (q.since) query = query.where('recorded_at', '>=', q.since);
  if (q.until) query = query.where('recorded_at', '<', q.until);
  const rows = await query.limit(q.limit).execute();
  return readableEvents(rows, onQuarantine).events;
}

export interface ReadAllResult {
  events: RecordedEvent[];
  /** Rows of this page that could not be read (skipped; see QuarantinedEvent). */
  quarantined: QuarantinedEvent[];
  /** Checkpoint of the last row read (returned or quarantined), or `after` when none was. */
  checkpoint: Checkpoint;
}

/**
 * The global log after `after`, in commit order, never skipping a late commit. A row that cannot
 * be read is quarantined (reported, not returned) and the checkpoint moves past it.
 */
export async function readAll(db: Kysely<Database>, after: Checkpoint = START, limit = 500, onQuarantine?: QuarantineHandler): Promise<ReadAllResult> {
  const rows = await readAllRows(db, after, limit);
  const { events, quarantined } = readableEvents(rows, onQuarantine);
  const last = rows.at(-1);
  return { events, quarantined, checkpoint: last ? checkpointOf(last) : after };
}

/** The checkpoint of the newest event a reader may safely see now: subscribe from here for "only new events". */
export async function headCheckpoint(db: Kysely<Database>): Promise<Checkpoint> {
  const row = await safeEvents(db, { newestFirst: true })
    .select(['global_position', TRANSACTION_ID])
    .limit(1)
    .executeTakeFirst();
  return row ? checkpointOf(row) : START;
}
