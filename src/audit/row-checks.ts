import { unreadableReason } from '../events/read.js';
import { EVENT_COPY_FIELDS, parseTextRows, type TextRow } from '../events/copy-rows.js';
import { chainHashOfBody, hashedBodyAt, unstampedFieldsOfRow } from '../events/hash-chain.js';
import { writePositionedLeaf } from './merkle.js';
import { recordedAtIso } from '../events/recorded-at.js';

/**
 * The checks verify makes of each event on its own — its hash reproduces from its content, this
 * code can read it, its seal leaf — which need no order, so they can run on worker threads
 * (hash-pool.ts) while the main thread reads the next batch and keeps the ordered checks.
 */

/**
 * Rows as one flat array of their fields, to post to a worker: cloning it costs the reading
 * thread about 2.5× less than cloning the row objects (whose keys are written again for each row).
 */
export function packRows(rows: readonly TextRow[]): unknown[] {
  return packFields(rows, EVENT_COPY_FIELDS);
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
    for (const f of EVENT_COPY_FIELDS) row[f] = packed[at++];
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
  // Its own ArrayBuffer (not the pool's): it is transferred back to the reading thread.
  const leaves = Buffer.alloc(rows.length * LEAF_BYTES);
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
    writePositionedLeaf(leaves, i * LEAF_BYTES, Number(text.global_position), text.hash);
  }
  return { changed, unreadable, leaves };
}

/** checkRows of a batch of COPY text, with what the ordered checks need of its rows (packOrderRows). */
export function checkCopy(bytes: Uint8Array): { verdicts: RowVerdicts; order: unknown[] } {
  const rows = parseTextRows(bytes);
  return { verdicts: checkRows(rows), order: packOrderRows(rows) };
}
