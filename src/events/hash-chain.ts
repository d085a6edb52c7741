import { hash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import type { EventRow } from './recorded-event.js';

/** prev_hash of the first event of every stream. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields of an event that its hash covers: everything but its global position and xid. */
export interface HashedFields {
  eventId: string;
  streamId: string;
  streamVersion: number;
  type: string;
  schemaVersion: number;
  data: unknown;
  metadata: unknown;
  recordedAt: Date;
}

/** The fields a stored row's hash covers, as stored (not upcast). */
export function hashedFieldsOfRow(row: EventRow): HashedFields {
  return { ...unstampedFieldsOfRow(row), recordedAt: new Date(row.recorded_at) };
}

/** The same but recorded_at (verify takes it from the column's text: recorded-at.ts). */
export function unstampedFieldsOfRow(row: Pick<EventRow, 'event_id' | 'stream_id' | 'stream_version' | 'type' | 'schema_version' | 'data' | 'metadata'>): Omit<HashedFields, 'recordedAt'> {
  return {
    eventId: row.event_id,
    streamId: row.stream_id,
    streamVersion: Number(row.stream_version),
    type: row.type,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata,
  };
}

/**
 * canonical_json(event): the text an event's hash covers after prev_hash. The eight top-level
 * keys are written in their sorted (JCS) order directly; only data and metadata need sorting.
 */
export function hashedBody(event: HashedFields): string {
  return hashedBodyAt(event, event.recordedAt.toISOString());
}

/** hashedBody with recordedAt given as its ISO string. */
export function hashedBodyAt(event: Omit<HashedFields, 'recordedAt'>, recordedAtIso: string): string {
  return (
    `{"data":${canonicalJson(event.data)},"eventId":${JSON.stringify(event.eventId)},` +
    `"metadata":${canonicalJson(event.metadata)},"recordedAt":${JSON.stringify(recordedAtIso)},` +
    `"schemaVersion":${canonicalJson(event.schemaVersion)},"streamId":${JSON.stringify(event.streamId)},` +
    `"streamVersion":${canonicalJson(event.streamVersion)},"type":${JSON.stringify(event.type)}}`
  );
}

/**
 * hash = sha256(prev_hash || canonical_json(event)), hex, over the UTF-8 bytes. The append
 * statement computes the same thing in SQL; verifiers use this.
 */
export function chainHash(prevHash: string, event: HashedFields): string {
  return chainHashOfBody(prevHash, hashedBody(event));
}

/** The same, from a body already canonicalised (the append path computes it once). */
export function chainHashOfBody(prevHash: string, body: string): string {
  // One-shot crypto.hash: about twice as fast as createHash for inputs this small.
  return hash('sha256', prevHash + body, 'hex');
}
