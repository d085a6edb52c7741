import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/database/schema.js';
import { merkleRoot } from '../../src/audit/merkle.js';
import { GENESIS_SEAL_HASH, latestSeal, sealHash, type SealFields } from '../../src/audit/seal.js';
import type { EventStore } from '../../src/events/event-store.js';
import { chainHash, GENESIS_HASH, hashedFieldsOfRow } from '../../src/events/hash-chain.js';
import { type TestDatabase, testStore } from '../support/databases.js';
import { failed, newReportStream, requested } from '../support/fixtures.js';

/** Five interleaved report streams of four events each: 20 events, one append (transaction) each. */
export async function seedLog(database: TestDatabase, streams = 5, perStream = 4): Promise<{ store: EventStore; streamIds: string[] }> {
  const store = testStore(database);
  const ids = Array.from({ length: streams }, () => newReportStream());
  for (let v = 0; v < perStream; v++) {
    for (const { reportId, streamId } of ids) {
      await store.append(streamId, v, [v === 0 ? requested(reportId) : failed(v)]);
    }
  }
  return { store, streamIds: ids.map((i) => i.streamId) };
}

/**
 * What the owner of the tables (or a superuser) can do: switch the append-only triggers off for a
 * moment. The service's own role cannot (test/database/roles.test.ts); the hash chain, signed seals
 * and published digests make it evident when someone who can does.
 */
export async function tamper(db: Kysely<Database>, run: () => Promise<unknown>): Promise<void> {
  await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(db);
  await sql`ALTER TABLE log_seals DISABLE TRIGGER log_seals_append_only`.execute(db);
  try {
    await run();
  } finally {
    await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(db);
    await sql`ALTER TABLE log_seals ENABLE TRIGGER log_seals_append_only`.execute(db);
  }
}

export interface StoredRow {
  global_position: number;
  transaction_id: string;
  event_id: string;
  stream_id: string;
  stream_version: number;
  type: string;
  schema_version: number;
  data: any;
  metadata: any;
  recorded_at: Date;
  prev_hash: string;
  hash: string;
}

/** Recomputes a stream's chain over `rows` (in version order) from the genesis hash. */
export function rechain(rows: StoredRow[]): StoredRow[] {
  let prev = GENESIS_HASH;
  return rows.map((r) => {
    const hash = chainHash(prev, hashedFieldsOfRow(r));
    const out = { ...r, prev_hash: prev, hash };
    prev = hash;
    return out;
  });
}

export async function rowsInCommitOrder(db: Kysely<Database>, streamId?: string): Promise<StoredRow[]> {
  const { rows } = await sql<StoredRow>`
    SELECT global_position, transaction_id::text AS transaction_id, event_id::text AS event_id, stream_id, stream_version, type,
           schema_version, data, metadata, recorded_at, prev_hash, hash
    FROM events WHERE ${streamId === undefined ? sql`true` : sql`stream_id = ${streamId}`}
    ORDER BY events.transaction_id, events.global_position`.execute(db);
  return rows.map((r) => ({ ...r, global_position: Number(r.global_position), stream_version: Number(r.stream_version) }));
}

/** Overwrites the row at `position` with `row`'s content (everything but its position and xid). */
export async function overwrite(db: Kysely<Database>, position: number, row: Omit<StoredRow, 'global_position' | 'transaction_id'>): Promise<void> {
  await sql`
    UPDATE events SET event_id = ${row.event_id}::uuid, stream_id = ${row.stream_id}, stream_version = ${row.stream_version},
      type = ${row.type}, schema_version = ${row.schema_version}, data = ${JSON.stringify(row.data)}::jsonb,
      metadata = ${JSON.stringify(row.metadata)}::jsonb, recorded_at = ${new Date(row.recorded_at)}, prev_hash = ${row.prev_hash}, hash = ${row.hash}
    WHERE global_position = ${position}`.execute(db);
}

/**
 * A consistent rewrite by someone who can switch the triggers off: `streamId`'s ReportFailed errors
 * changed, its chain recomputed, every seal removed (to be redone by the caller, with some key).
 */
export async function rewriteStreamDroppingSeals(db: Kysely<Database>, streamId: string): Promise<void> {
  const stream = await rowsInCommitOrder(db, streamId);
  const replaced = rechain(stream.map((r) => (r.type === 'ReportFailed' ? { ...r, data: { ...r.data, error: 'fine' } } : r)));
  await tamper(db, async () => {
    for (const [i, r] of stream.entries()) await overwrite(db, r.global_position, replaced[i]!);
    await sql`DELETE FROM log_seals`.execute(db);
  });
}

export { randomUUID };

/**
 * What a seal looked like before 0008 (format 1: unsigned, leaves over event hashes only), written
 * straight into log_seals for the whole unsealed log in runs of `maxEvents`: an upgraded
 * deployment's old seals, or an attacker's unsigned ones.
 */
export async function writeLegacySeals(db: Kysely<Database>, maxEvents: number): Promise<void> {
  const prev = await latestSeal(db);
  const all = await rowsInCommitOrder(db);
  const after = prev ? all.findIndex((r) => r.global_position === prev.last.globalPosition) + 1 : 0;
  let seq = prev?.seq ?? 0;
  let total = prev?.total ?? 0;
  let prevHash = prev?.sealHash ?? GENESIS_SEAL_HASH;
  for (let i = after; i < all.length; i += maxEvents) {
    const events = all.slice(i, i + maxEvents);
    const fields: SealFields = {
      seq: ++seq,
      first: { transactionId: events[0]!.transaction_id, globalPosition: events[0]!.global_position },
      last: { transactionId: events.at(-1)!.transaction_id, globalPosition: events.at(-1)!.global_position },
      count: events.length,
      total: (total += events.length),
      merkleRoot: merkleRoot(events.map((e) => e.hash))!,
      prevSealHash: prevHash,
      sealedAt: new Date(),
      format: 1,
      keyId: null,
    };
    prevHash = sealHash(fields);
    const positions = Buffer.alloc(events.length * 8);
    events.forEach((e, j) => positions.writeBigUInt64BE(BigInt(e.global_position), j * 8));
    await sql`
      INSERT INTO log_seals (seq, first_transaction_id, first_position, last_transaction_id, last_position, event_count, total_events,
        merkle_root, prev_seal_hash, seal_hash, sealed_at, leaf_positions, leaf_hashes, format)
      VALUES (${fields.seq}, ${fields.first.transactionId}::xid8, ${fields.first.globalPosition}, ${fields.last.transactionId}::xid8, ${fields.last.globalPosition},
        ${fields.count}, ${fields.total}, ${fields.merkleRoot}, ${fields.prevSealHash}, ${prevHash}, ${fields.sealedAt}, ${positions},
        ${Buffer.from(events.map((e) => e.hash).join(''), 'hex')}, 1)`.execute(db);
  }
}
