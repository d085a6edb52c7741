import type { Checkpoint } from './checkpoint.js';
import type { EventMetadata, QuireEvent } from './types.js';

/**
 * What a fold reads of an event (reports/report-state.ts): its payload, its place in its stream,
 * and where and when it was recorded. The projections' replay reads only these columns.
 */
export type FoldableEvent<E extends QuireEvent = QuireEvent> = E & {
  readonly streamId: string;
  /** 1 for the first event of a stream, gapless. */
  readonly streamVersion: number;
  readonly globalPosition: number;
  /** The version the payload was written with (data is already upcast to the current one). */
  readonly schemaVersion: number;
  readonly metadata: EventMetadata;
  readonly recordedAt: Date;
};

/** An event as the log holds it, payload lifted to the current schema version. */
export type RecordedEvent<E extends QuireEvent = QuireEvent> = FoldableEvent<E> & {
  readonly eventId: string;
  readonly checkpoint: Checkpoint;
  readonly prevHash: string;
  readonly hash: string;
};

/** The columns of a row that a fold reads (FoldableEvent): what the projections' replay selects. */
export type FoldRow = Pick<EventRow, 'global_position' | 'stream_id' | 'stream_version' | 'type' | 'schema_version' | 'data' | 'metadata' | 'recorded_at'>;

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
