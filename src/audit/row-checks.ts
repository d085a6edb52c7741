import { sql } from 'kysely';
import { unreadableReason } from '../events/read.js';
import type { EventRow } from '../events/recorded-event.js';
import { TRANSACTION_ID } from '../events/safe-read.js';
import { parseCopyText } from './copy-text.js';
import { chainHashOfBody, hashedBodyAt, unstampedFieldsOfRow } from '../events/hash-chain.js';
import { positionedLeafHash } from './merkle.js';
import { parseTimestamptz, recordedAtIso } from './recorded-at.js';

/**
 * The checks verify makes of each event on its own — its hash reproduces from its content, this
 * code can read it, its seal leaf — which need no order, so they can run on worker threads
 * (hash-pool.ts) while the main thread reads the next batch and keeps the ordered checks.
 */

/**
 * Every column of `events`, with data, metadata and recorded_at as the database's text: the
 * thread that reads does not parse them; the thread that hashes does (`checkRows`).
 */
export const VERIFY_COLUMNS = [
  'global_position',
  'event_id',
  'stream_id',
  'stream_version',
  'type',
  'schema_version',
  sql<string>`data::text`.as('data'),
  sql<string>`metadata::text`.as('metadata'),
  sql<string>`recorded_at::text`.as('recorded_at'),
  TRANSACTION_ID,
  'prev_hash',
  'hash',
] as const;

/** A row as VERIFY_COLUMNS selects it. */
export type TextRow = Omit<EventRow, 'data' | 'metadata' | 'recorded_at'> & { data: string; metadata: string; recorded_at: string };

/** The row as the driver would have returned it with the columns selected as stored (what checkRows must judge alike: the tests compare them). */
export function toEventRow(row: TextRow): EventRow {
  // A literal, not a spread: one shape for every row (this runs for each event verified).
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

/** VERIFY_COLUMNS' names, in their order. */
export const VERIFY_FIELDS = ['global_position', 'event_id', 'stream_id', 'stream_version', 'type', 'schema_version', 'data', 'metadata', 'recorded_at', 'transaction_id', 'prev_hash', 'hash'] as const satisfies ReadonlyArray<keyof TextRow>;

/**
 * Rows as one flat array of their fields, to post to a worker: cloning it costs the reading
 * thread about 2.5× less than cloning the row objects (whose keys are written again for each row).
 */
export function packRows(rows: readonly TextRow[]): unknown[] {
  return packFields(rows, VERIFY_FIELDS);
}

/** `fields` of every row, row after row, in one flat array. */
function packFields<R, K extends keyof R>(rows: readonly R[], fields: readonly K[]): unknown[] {
  const out = new Array<unknown>(rows.length * fields.length);
  let at = 0;
  for (const row of rows) for (const f of fields) out[at++] = row[f];
  return out;
}

export function unpackRows(packed: readonly unknown[]): TextRow[] {
  const rows: TextRow[] = [];
  for (let at = 0; at < packed.length; ) {
    const row: Record<string, unknown> = {};
    for (const f of VERIFY_FIELDS) row[f] = packed[at++];
    rows.push(row as unknown as TextRow);
  }
  return rows;
}

/** What the per-event checks found in a batch, by index in the batch. */
export interface RowVerdicts {
  /** Rows whose hash does not reproduce from their content, with the hash that does. */
  changed: Array<[index: number, computedHash: string]>;
  /** Rows this code cannot read (read.ts unreadableReason), with why. */
  unreadable: Array<[index: number, reason: string]>;
  /** Each row's leaf in a signed (format 2) seal, 32 bytes a row in batch order. */
  leaves: Uint8Array;
}

export const LEAF_BYTES = 32;

/** The columns the ordered checks (verify.ts, on the reading thread) need of each row. */
export const ORDER_FIELDS = ['global_position', 'stream_id', 'stream_version', 'transaction_id', 'prev_hash', 'hash'] as const satisfies ReadonlyArray<keyof TextRow>;
export type OrderRow = Pick<TextRow, (typeof ORDER_FIELDS)[number]>;

/** A batch checked: its rows as the ordered checks need them, and the per-event verdicts. */
export interface CheckedBatch {
  rows: OrderRow[];
  verdicts: RowVerdicts;
}

/** The rows' ORDER_FIELDS as one flat array (cheap to clone, as packRows). */
export function packOrderRows(rows: readonly TextRow[]): unknown[] {
  return packFields(rows, ORDER_FIELDS);
}

export function unpackOrderRows(packed: readonly unknown[]): OrderRow[] {
  const rows: OrderRow[] = [];
  for (let at = 0; at < packed.length; at += ORDER_FIELDS.length) {
    rows.push({
      global_position: packed[at] as number,
      stream_id: packed[at + 1] as string,
      stream_version: packed[at + 2] as number,
      transaction_id: packed[at + 3] as string,
      prev_hash: packed[at + 4] as string,
      hash: packed[at + 5] as string,
    });
  }
  return rows;
}

export function checkRows(rows: readonly TextRow[]): RowVerdicts {
  const changed: RowVerdicts['changed'] = [];
  const unreadable: RowVerdicts['unreadable'] = [];
  const leaves = new Uint8Array(rows.length * LEAF_BYTES);
  for (let i = 0; i < rows.length; i++) {
    const text = rows[i]!;
    // What toEventRow and recomputedHash judge, without the Date: recorded_at goes from its text
    // straight to the ISO string the hash covers (test/audit/verify-pool.test.ts compares them).
    const row = {
      global_position: text.global_position,
      event_id: text.event_id,
      stream_id: text.stream_id,
      stream_version: text.stream_version,
      type: text.type,
      schema_version: text.schema_version,
      data: JSON.parse(text.data) as unknown,
      metadata: JSON.parse(text.metadata) as unknown,
    };
    const computed = chainHashOfBody(text.prev_hash, hashedBodyAt(unstampedFieldsOfRow(row), recordedAtIso(text.recorded_at)));
    if (computed !== text.hash) changed.push([i, computed]);
    const reason = unreadableReason(row);
    if (reason !== null) unreadable.push([i, reason]);
    leaves.set(positionedLeafHash(Number(text.global_position), text.hash), i * LEAF_BYTES);
  }
  return { changed, unreadable, leaves };
}

/**
 * COPY text (copy-text.ts) of VERIFY_COLUMNS, in that order, as the rows the driver returns for
 * them: the integers as numbers (connect.ts reads int8 as a number), every other column as text.
 */
export function parseVerifyCopy(bytes: Uint8Array): TextRow[] {
  return parseCopyText(bytes, VERIFY_FIELDS.length).map((f) => {
    // Every column of events is NOT NULL: a NULL means the text was misread.
    if (f.includes(null)) throw new Error(`${VERIFY_FIELDS[f.indexOf(null)]} is NULL in a COPY row of events`);
    const text = f as string[];
    return {
      global_position: Number(text[0]),
      event_id: text[1]!,
      stream_id: text[2]!,
      stream_version: Number(text[3]),
      type: text[4]!,
      schema_version: Number(text[5]),
      data: text[6]!,
      metadata: text[7]!,
      recorded_at: text[8]!,
      transaction_id: text[9]!,
      prev_hash: text[10]!,
      hash: text[11]!,
    };
  });
}

/** checkRows of a batch of COPY text, with what the ordered checks need of its rows (packOrderRows). */
export function checkCopy(bytes: Uint8Array): { verdicts: RowVerdicts; order: unknown[] } {
  const rows = parseVerifyCopy(bytes);
  return { verdicts: checkRows(rows), order: packOrderRows(rows) };
}
