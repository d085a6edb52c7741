import { createHash } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, LogSealsTable } from '../database/schema.js';
import { canonicalJson } from '../events/canonical-json.js';
import { encodeCheckpoint, START, type Checkpoint } from '../events/checkpoint.js';
import { leafHash, MerkleBuilder } from './merkle.js';

/** prev_seal_hash of seal 1. */
export const GENESIS_SEAL_HASH = '0'.repeat(64);

/**
 * A seal: the next contiguous range of the global log in commit order, i.e. ordered by the
 * checkpoint (transaction_id, global_position) exactly as the safe read hands events out. Seal
 * k+1 starts at the first event after seal k's `last` checkpoint; ranges never overlap and leave
 * no gap. Only events below pg_snapshot_xmin are sealed, so no event can later commit inside a
 * sealed range.
 */
export interface Seal {
  seq: number;
  first: Checkpoint;
  last: Checkpoint;
  /** Events in this seal. */
  count: number;
  /** Events in this seal and every earlier one: the length of the sealed log. */
  total: number;
  /** Hex Merkle root (merkle.ts) over the event hashes, in commit order. */
  merkleRoot: string;
  prevSealHash: string;
  sealedAt: Date;
  sealHash: string;
}

export type SealFields = Omit<Seal, 'sealHash'>;

/**
 * seal_hash = sha256(canonical_json({seq, first, last, count, total, merkleRoot, prevSealHash,
 * sealedAt})) as hex, with first/last written as "<transaction_id>:<global_position>" and
 * sealedAt as an ISO 8601 UTC timestamp with milliseconds (RFC 8785 canonical JSON, UTF-8).
 */
export function sealHash(s: SealFields): string {
  return createHash('sha256').update(sealBody(s)).digest('hex');
}

export function sealBody(s: SealFields): string {
  return canonicalJson(sealFieldsJson(s));
}

/** The fields a seal's hash covers, as JSON values: what proofs and exports show of a seal. */
export function sealFieldsJson(s: SealFields) {
  return {
    seq: s.seq,
    first: encodeCheckpoint(s.first),
    last: encodeCheckpoint(s.last),
    count: s.count,
    total: s.total,
    merkleRoot: s.merkleRoot,
    prevSealHash: s.prevSealHash,
    sealedAt: s.sealedAt.toISOString(),
  };
}

export type SealRow = Selectable<LogSealsTable>;

export const SEAL_COLUMNS = [
  'seq',
  sql<string>`first_transaction_id::text`.as('first_transaction_id'),
  'first_position',
  sql<string>`last_transaction_id::text`.as('last_transaction_id'),
  'last_position',
  'event_count',
  'total_events',
  'merkle_root',
  'prev_seal_hash',
  'seal_hash',
  'sealed_at',
] as const;

export type SealHeaderRow = Omit<SealRow, 'leaf_positions' | 'leaf_hashes'>;

export function toSeal(r: SealHeaderRow): Seal {
  return {
    seq: Number(r.seq),
    first: { transactionId: String(r.first_transaction_id), globalPosition: Number(r.first_position) },
    last: { transactionId: String(r.last_transaction_id), globalPosition: Number(r.last_position) },
    count: Number(r.event_count),
    total: Number(r.total_events),
    merkleRoot: r.merkle_root,
    prevSealHash: r.prev_seal_hash,
    sealedAt: new Date(r.sealed_at),
    sealHash: r.seal_hash,
  };
}

/** The stored leaves of a seal: positions and event hashes (hex), in seal order. */
export interface SealLeaves {
  positions: number[];
  hashes: string[];
}

export function decodeLeaves(positions: Uint8Array, hashes: Uint8Array): SealLeaves {
  const p = Buffer.from(positions.buffer, positions.byteOffset, positions.byteLength);
  const h = Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength);
  const out: SealLeaves = { positions: [], hashes: [] };
  for (let i = 0; i + 8 <= p.length; i += 8) out.positions.push(Number(p.readBigUInt64BE(i)));
  for (let i = 0; i + 32 <= h.length; i += 32) out.hashes.push(h.subarray(i, i + 32).toString('hex'));
  return out;
}

function encodeLeaves(positions: number[], hashes: string[]): { leaf_positions: Buffer; leaf_hashes: Buffer } {
  const p = Buffer.alloc(positions.length * 8);
  positions.forEach((pos, i) => p.writeBigUInt64BE(BigInt(pos), i * 8));
  return { leaf_positions: p, leaf_hashes: Buffer.from(hashes.join(''), 'hex') };
}

export async function latestSeal(db: Kysely<Database>): Promise<Seal | null> {
  const row = await db.selectFrom('log_seals').select(SEAL_COLUMNS).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row ? toSeal(row) : null;
}

export async function sealByHash(db: Kysely<Database>, hash: string): Promise<Seal | null> {
  const row = await db.selectFrom('log_seals').select(SEAL_COLUMNS).where('seal_hash', '=', hash.toLowerCase()).executeTakeFirst();
  return row ? toSeal(row) : null;
}

/** The seal covering `c`, with its leaves, or null when `c` is not sealed yet. */
export async function sealCovering(db: Kysely<Database>, c: Checkpoint): Promise<(Seal & SealLeaves) | null> {
  const row = await db
    .selectFrom('log_seals')
    .select([...SEAL_COLUMNS, 'leaf_positions', 'leaf_hashes'])
    .where(sql<boolean>`(last_transaction_id, last_position) >= (${c.transactionId}::xid8, ${c.globalPosition}::bigint)`)
    .orderBy('log_seals.last_transaction_id')
    .orderBy('last_position')
    .limit(1)
    .executeTakeFirst();
  if (!row) return null;
  const seal = toSeal(row);
  const after = (a: Checkpoint, b: Checkpoint) => BigInt(a.transactionId) > BigInt(b.transactionId) || (a.transactionId === b.transactionId && a.globalPosition > b.globalPosition);
  if (after(seal.first, c)) return null;
  return { ...seal, ...decodeLeaves(row.leaf_positions, row.leaf_hashes) };
}

export interface SealOptions {
  /** Most events in one seal (default 10,000). */
  maxEvents?: number;
  /** Seal a partial range only when its oldest event is at least this old (default 0: seal whatever is there). */
  minAgeMs?: number;
  /** Stop after this many seals (default: until nothing is left to seal). */
  maxSeals?: number;
  now?: () => Date;
}

export const DEFAULT_SEAL_EVENTS = 10_000;
/** Key of the advisory lock that keeps sealers one at a time (any constant; "quire-seal"). */
export const SEALER_LOCK_KEY = 0x7175697265_53n; // "quireS"

/**
 * Appends seals for the safe, unsealed part of the log: full seals of `maxEvents`, then one partial
 * seal if its oldest event is `minAgeMs` old. Each seal is written in its own transaction holding
 * a transaction-scoped advisory lock, so concurrent sealers (other instances) never race: a
 * sealer that does not get the lock returns at once. Returns the seals written.
 */
export async function sealPending(db: Kysely<Database>, options: SealOptions = {}): Promise<Seal[]> {
  const maxEvents = options.maxEvents ?? DEFAULT_SEAL_EVENTS;
  if (!Number.isInteger(maxEvents) || maxEvents < 1) throw new RangeError(`maxEvents must be a positive integer, got ${maxEvents}`);
  const now = options.now ?? (() => new Date());
  const written: Seal[] = [];
  while (written.length < (options.maxSeals ?? Infinity)) {
    const seal = await db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ locked: boolean }>`SELECT pg_try_advisory_xact_lock(${SEALER_LOCK_KEY.toString()}::bigint) AS locked`.execute(trx);
      if (!rows[0]?.locked) return 'locked' as const;
      const prev = await latestSeal(trx);
      const after = prev?.last ?? START;
      const pending = () =>
        trx
          .selectFrom('events')
          .where(sql<boolean>`transaction_id < pg_snapshot_xmin(pg_current_snapshot())`)
          .where(sql<boolean>`(transaction_id, global_position) > (${after.transactionId}::xid8, ${after.globalPosition}::bigint)`);
      // Cheap probes first: an idle sealer must not read a whole range every tick.
      const oldest = await pending().select('recorded_at').orderBy('events.transaction_id').orderBy('global_position').limit(1).executeTakeFirst();
      if (!oldest) return null;
      if (now().getTime() - new Date(oldest.recorded_at).getTime() < (options.minAgeMs ?? 0)) {
        const { n } = await trx
          .selectFrom(pending().select('global_position').limit(maxEvents).as('p'))
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        if (Number(n) < maxEvents) return null;
      }
      // The safe read (read.ts), only the columns a seal needs.
      const events = await trx
        .selectFrom('events')
        .select(['global_position', sql<string>`transaction_id::text`.as('transaction_id'), 'hash'])
        .where(sql<boolean>`transaction_id < pg_snapshot_xmin(pg_current_snapshot())`)
        .where(sql<boolean>`(transaction_id, global_position) > (${after.transactionId}::xid8, ${after.globalPosition}::bigint)`)
        .orderBy('events.transaction_id')
        .orderBy('global_position')
        .limit(maxEvents)
        .execute();
      if (events.length === 0) return null;
      const sealedAt = now();
      const tree = new MerkleBuilder();
      for (const e of events) tree.addLeaf(leafHash(e.hash));
      const first = events[0]!;
      const last = events.at(-1)!;
      const fields: SealFields = {
        seq: (prev?.seq ?? 0) + 1,
        first: { transactionId: first.transaction_id, globalPosition: first.global_position },
        last: { transactionId: last.transaction_id, globalPosition: last.global_position },
        count: events.length,
        total: (prev?.total ?? 0) + events.length,
        merkleRoot: tree.root()!,
        prevSealHash: prev?.sealHash ?? GENESIS_SEAL_HASH,
        sealedAt,
      };
      const s: Seal = { ...fields, sealHash: sealHash(fields) };
      await trx
        .insertInto('log_seals')
        .values({
          seq: s.seq,
          first_transaction_id: s.first.transactionId,
          first_position: s.first.globalPosition,
          last_transaction_id: s.last.transactionId,
          last_position: s.last.globalPosition,
          event_count: s.count,
          total_events: s.total,
          merkle_root: s.merkleRoot,
          prev_seal_hash: s.prevSealHash,
          seal_hash: s.sealHash,
          sealed_at: s.sealedAt,
          ...encodeLeaves(events.map((e) => e.global_position), events.map((e) => e.hash)),
        })
        .execute();
      return s;
    });
    if (seal === 'locked' || seal === null) break;
    written.push(seal);
    if (seal.count < maxEvents) break;
  }
  return written;
}
