import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

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

/** canonical_json(event): the text an event's hash covers after prev_hash. */
export function hashedBody(event: HashedFields): string {
  return canonicalJson({
    eventId: event.eventId,
    streamId: event.streamId,
    streamVersion: event.streamVersion,
    type: event.type,
    schemaVersion: event.schemaVersion,
    data: event.data,
    metadata: event.metadata,
    recordedAt: event.recordedAt.toISOString(),
  });
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
  return createHash('sha256').update(prevHash).update(body).digest('hex');
}

export interface ChainBreak {
  streamId: string;
  streamVersion: number;
  reason: 'prev_hash does not match the previous event' | 'hash does not match the content' | 'version gap';
}

/**
 * Recomputes one stream's chain from its rows (ordered by version, as stored, not upcast).
 * Returns the first break, or null when every hash is reproduced.
 */
export function findChainBreak(
  rows: ReadonlyArray<HashedFields & { prevHash: string; hash: string }>,
): ChainBreak | null {
  let prev = GENESIS_HASH;
  let expectedVersion = 1;
  for (const row of rows) {
    const at = { streamId: row.streamId, streamVersion: row.streamVersion };
    if (row.streamVersion !== expectedVersion) return { ...at, reason: 'version gap' };
    if (row.prevHash !== prev) return { ...at, reason: 'prev_hash does not match the previous event' };
    if (chainHash(prev, row) !== row.hash) return { ...at, reason: 'hash does not match the content' };
    prev = row.hash;
    expectedVersion++;
  }
  return null;
}
