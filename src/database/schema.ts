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

/** Projection: one row per report, its current state. */
export interface ReportStatusTable {
  report_id: string;
  stream_id: string;
  owner: string;
  title: string;
  template: string;
  status: string;
  requested_region: string;
  sha256: string | null;
  bytes: number | null;
  pages: number | null;
  attempts: number;
  last_error: string | null;
  failed_stage: string | null;
  next_attempt_at: Date | null;
  requested_at: Date;
  updated_at: Date;
  last_version: number;
  /** The report's webhook (ReportState.webhook) as JSON, dates as ISO strings; null without a callbackUrl. */
  webhook: ColumnType<WebhookColumn | null, string | null, string | null>;
  /** When the next webhook delivery is due: null when none is pending (the webhook stage claims on it). */
  webhook_due_at: Date | null;
  /** Its personal data is in the log encrypted with its data key (report_data_keys); false: plaintext, from before. */
  encrypted: ColumnType<boolean, boolean | undefined, boolean>;
  /** When the report expires (null: kept until deleted). */
  expires_at: Date | null;
  /** Under legal hold (false by default: rows written before 0011). */
  held: ColumnType<boolean, boolean | undefined, boolean>;
  /** When it became gone (expired, deleted); the purge stage's claims start from here. */
  gone_at: Date | null;
}

export interface WebhookColumn {
  url: string;
  pending: Array<{ deliveryId: string; status: 'STORED' | 'REPLICATED' | 'FAILED'; version: number; attempts: number; dueAt: string }>;
}

/** Projection: where each copy of a report's file lives. */
export interface ReportLocationsTable {
  report_id: string;
  kind: 'volume' | 'object';
  /** Volume: the machine (or the region of a region-level copy); object: the bucket. */
  place: string;
  /** The volume's region; null for object copies. */
  region: string | null;
  /** The machine whose volume holds the copy; null for object and region-level copies. */
  machine: string | null;
  key: string;
  sha256: string;
  bytes: number;
  stored_at: Date;
  verified_at: Date;
}

export interface WorkLeasesTable {
  report_id: string;
  stage: string;
  owner: string;
  expires_at: Date;
  /** The report's stream version when this lease was claimed. */
  claimed_version: number | null;
  /** The version an expired holder had claimed, when this claim took its lease over. */
  abandoned_version: number | null;
}

/** Table `log_seals`: append-only seals of the global log in commit order (src/audit/seal.ts). */
export interface LogSealsTable {
  seq: number;
  /** xid8 as text on read. */
  first_transaction_id: ColumnType<string, string, never>;
  first_position: number;
  last_transaction_id: ColumnType<string, string, never>;
  last_position: number;
  event_count: number;
  total_events: number;
  merkle_root: string;
  prev_seal_hash: string;
  seal_hash: string;
  sealed_at: ColumnType<Date, Date | string, never>;
  /** Global positions, 8 bytes big-endian each, in seal order. */
  leaf_positions: Uint8Array;
  /** Event hashes, 32 bytes each, in seal order. */
  leaf_hashes: Uint8Array;
  /** 1: before 0008 (unsigned, leaves without positions); 2: signed, position-bound leaves. */
  format: number;
  /** Format 2: id of the Ed25519 key that signed the seal. */
  key_id: string | null;
  /** Format 2: Ed25519 signature of seal_hash, base64url. */
  signature: string | null;
}

/** Rate-limit windows shared by every instance (fixed windows, counted by the database's clock). */
export interface RateLimitsTable {
  key: string;
  points: number;
  window_ends_at: Date;
}

/** Revoked bearer tokens: one token by `jti`, or every token of `subject` issued up to `issued_before`. */
export interface TokenRevocationsTable {
  id: Generated<number>;
  jti: string | null;
  subject: string | null;
  issued_before: Date | null;
  revoked_at: Generated<Date>;
  revoked_by: string;
}

/** A report's data key (src/reports/personal-data.ts), wrapped with the key-encryption key; deleted on erasure. */
export interface ReportDataKeysTable {
  report_id: string;
  kek_id: string;
  wrapped_key: string;
  created_at: ColumnType<Date, Date | undefined, never>;
}

export interface Database {
  events: EventsTable;
  report_status: ReportStatusTable;
  report_locations: ReportLocationsTable;
  work_leases: WorkLeasesTable;
  log_seals: LogSealsTable;
  rate_limits: RateLimitsTable;
  token_revocations: TokenRevocationsTable;
  report_data_keys: ReportDataKeysTable;
}
