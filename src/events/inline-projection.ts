import type { Transaction } from 'kysely';
import type { Database } from '../database/schema.js';
import type { RecordedEvent } from './recorded-event.js';

/**
 * A projection updated in the same transaction as the append: a reader never sees an event
 * without its projection, nor a projection ahead of the log. Throwing aborts the append.
 * `events` are those of one append, or of every append of a group commit (several streams, each
 * stream's events together and in order): a projection that writes one statement per batch
 * rather than per event keeps the batch one round trip.
 */
export interface InlineProjection {
  readonly name: string;
  apply(trx: Transaction<Database>, events: readonly RecordedEvent[]): Promise<void>;
}
