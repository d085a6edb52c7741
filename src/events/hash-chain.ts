import { hash } from 'node:crypto';
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
  // One-shot crypto.hash: about twice as fast as createHash for inputs this small.
  return hash('sha256', prevHash + body, 'hex');
}
