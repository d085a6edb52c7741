import { sql } from 'kysely';
import { copyRows, type CopyFields } from './copy-text.js';
import { parseTimestamptz, recordedAtDate } from './recorded-at.js';
import type { EventRow, FoldRow } from './recorded-event.js';
import { TRANSACTION_ID } from './safe-read.js';

/**
 * Rows of `events` read by COPY (database/copy-out.ts) rather than through the driver: verify
 * (audit) and the projections' rebuild both stream the log this way, and decode it here.
 */

/** data, metadata and recorded_at as the database's text, in that order (both column lists below). */
const AS_TEXT = [sql<string>`data::text`.as('data'), sql<string>`metadata::text`.as('metadata'), sql<string>`recorded_at::text`.as('recorded_at')] as const;

/**
 * Every column of `events`, with data, metadata and recorded_at as the database's text: COPY
 * writes every column as text anyway, and verify hashes the text's values on worker threads.
 */
export const EVENT_COPY_COLUMNS = [
  'global_position',
  'event_id',
  'stream_id',
  'stream_version',
  'type',
  'schema_version',
  ...AS_TEXT,
  TRANSACTION_ID,
  'prev_hash',
  'hash',
] as const;

/** EVENT_COPY_COLUMNS' names, in their order. */
export const EVENT_COPY_FIELDS = ['global_position', 'event_id', 'stream_id', 'stream_version', 'type', 'schema_version', 'data', 'metadata', 'recorded_at', 'transaction_id', 'prev_hash', 'hash'] as const satisfies ReadonlyArray<keyof TextRow>;

/** A row as EVENT_COPY_COLUMNS selects it. */
export type TextRow = Omit<EventRow, 'data' | 'metadata' | 'recorded_at'> & { data: string; metadata: string; recorded_at: string };

/** The row as the driver would have returned it with the columns selected as stored (EVENT_COLUMNS). */
export function toEventRow(row: TextRow): EventRow {
  // A literal, not a spread: one shape for every row.
  return {
    global_position: row.global_position,
    event_id: row.event_id,
    stream_id: row.stream_id,
    stream_version: row.stream_version,
    type: row.type,
    schema_version: row.schema_version,
    data: JSON.parse(row.data),
    metadata: JSON.parse(row.metadata),
    recorded_at: parseTimestamptz(row.recorded_at),
    transaction_id: row.transaction_id,
    prev_hash: row.prev_hash,
    hash: row.hash,
  };
}

/** The next field, which no column of events may hold NULL in: a NULL means the text was misread. */
function text(fields: CopyFields, column: (typeof EVENT_COPY_FIELDS)[number]): string {
  const value = fields.value();
  if (value === null) throw new Error(`${column} is NULL in a COPY row of events`);
  return value;
}

/**
 * COPY text (copy-text.ts) of EVENT_COPY_COLUMNS, in that order, as the rows the driver returns
 * for them: the integers as numbers (connect.ts reads int8 as a number), every other column as text.
 */
export function parseTextRows(bytes: Uint8Array): TextRow[] {
  // The literal's properties are evaluated in order: the fields are taken in column order.
  return copyRows(bytes, EVENT_COPY_FIELDS.length, (f) => ({
    global_position: Number(text(f, 'global_position')),
    event_id: text(f, 'event_id'),
    stream_id: text(f, 'stream_id'),
    stream_version: Number(text(f, 'stream_version')),
    type: text(f, 'type'),
    schema_version: Number(text(f, 'schema_version')),
    data: text(f, 'data'),
    metadata: text(f, 'metadata'),
    recorded_at: text(f, 'recorded_at'),
    transaction_id: text(f, 'transaction_id'),
    prev_hash: text(f, 'prev_hash'),
    hash: text(f, 'hash'),
  }));
}

/**
 * The columns a replay folds (FoldRow), data, metadata and recorded_at as text: no ids, no hashes,
 * a third fewer bytes of COPY than EVENT_COPY_COLUMNS for the server to write and this process to
 * decode.
 */
export const FOLD_COPY_COLUMNS = [
  'global_position',
  'stream_id',
  'stream_version',
  'type',
  'schema_version',
  ...AS_TEXT,
] as const;

/**
 * COPY text of FOLD_COPY_COLUMNS as the rows the driver returns for those columns as stored, in
 * one pass: one object a row, nothing between the text and it.
 */
export function parseFoldRows(bytes: Uint8Array): FoldRow[] {
  return copyRows(bytes, FOLD_COPY_COLUMNS.length, (f) => ({
    global_position: Number(text(f, 'global_position')),
    stream_id: text(f, 'stream_id'),
    stream_version: Number(text(f, 'stream_version')),
    type: text(f, 'type'),
    schema_version: Number(text(f, 'schema_version')),
    data: JSON.parse(text(f, 'data')) as unknown,
    metadata: JSON.parse(text(f, 'metadata')) as unknown,
    recorded_at: recordedAtDate(text(f, 'recorded_at')),
  }));
}
