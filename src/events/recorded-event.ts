import type { Checkpoint } from './checkpoint.js';
import type { EventMetadata, QuireEvent } from './types.js';

/** An event as the log holds it, payload lifted to the current schema version. */
export type RecordedEvent<E extends QuireEvent = QuireEvent> = E & {
  readonly eventId: string;
  readonly streamId: string;
  /** 1 for the first event of a stream, gapless. */
  readonly streamVersion: number;
  readonly globalPosition: number;
  /** The version the payload was written with (data is already upcast to the current one). */
  readonly schemaVersion: number;
  readonly metadata: EventMetadata;
  readonly recordedAt: Date;
  readonly checkpoint: Checkpoint;
  readonly prevHash: string;
  readonly hash: string;
};

/** A row of `events` as selected by the store (transaction_id as text). */
export interface EventRow {
  global_position: number;
  event_id: string;
  stream_id: string;
  stream_version: number;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: unknown;
  recorded_at: Date;
  transaction_id: string;
  prev_hash: string;
  hash: string;
}
