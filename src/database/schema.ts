import type { ColumnType, Generated } from 'kysely';

/** Table `events`: the append-only log, the single source of truth. */
export interface EventsTable {
  global_position: Generated<number>;
  event_id: string;
  stream_id: string;
  stream_version: number;
  type: string;
  schema_version: number;
  data: ColumnType<unknown, string, never>;
  metadata: ColumnType<unknown, string, never>;
  recorded_at: ColumnType<Date, Date | string, never>;
  /** xid8, read as text: pg and PGlite disagree on its JS type. */
  transaction_id: ColumnType<string, never, never>;
  prev_hash: string;
  hash: string;
}

export interface Database {
  events: EventsTable;
}
