import { createHash } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, LogSealsTable } from '../database/schema.js';
import { canonicalJson } from '../events/canonical-json.js';
import { decodeCheckpoint, encodeCheckpoint, START, type Checkpoint } from '../events/checkpoint.js';
import { MerkleBuilder, positionedLeafHash } from './merkle.js';
import { verifySealSignature, type SealPublicKey, type SealSigner } from './seal-key.js';
import { checkpointOf, safeEvents, TRANSACTION_ID } from '../events/safe-read.js';

/**
 * Seal formats. 1: written before migration 0008, unsigned, leaves over event hashes only.
 * 2: leaves bind each event's global position (merkle.ts), the hash covers format and key id, and
 * the seal hash is signed with Ed25519 (seal-key.ts). Every seal written now is format 2.
 */
export const SEAL_FORMAT = 2;

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
  /** Hex Merkle root (merkle.ts) over the events' leaves, in commit order. */
  merkleRoot: string;
  prevSealHash: string;
  sealedAt: Date;
  /** 1 (legacy, unsigned) or 2. */
  format: number;
  /** Format 2: the id of the key that signed it (seal-key.ts). */
  keyId: string | null;
  sealHash: string;
  /** Format 2: Ed25519 signature of the seal hash, base64url. Not covered by the hash. */
  signature: string | null;
}

export type SealFields = Omit<Seal, 'sealHash' | 'signature'>;

/**
 * seal_hash = sha256(canonical_json({seq, first, last, count, total, merkleRoot, prevSealHash,
 * sealedAt, format, keyId})) as hex, with first/last written as "<transaction_id>:<global_position>"
 * and sealedAt as an ISO 8601 UTC timestamp with milliseconds (RFC 8785 canonical JSON, UTF-8).
 * Format 1 seals hash the same object without format and keyId.
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
    ...(s.format >= 2 ? { format: s.format, keyId: s.keyId } : {}),
  };
}

/** A seal's fields as exports, proofs and the published digests show them (hash and signature included). */
export function sealJson(s: Seal) {
  return { ...sealFieldsJson(s), sealHash: s.sealHash, ...(s.format >= 2 ? { signature: s.signature } : {}) };
}

/** A seal from its JSON (sealJson); throws on malformed fields. */
export function sealFromJson(o: Record<string, any>): Seal {
  const format = o.format === undefined ? 1 : o.format;
  if (format !== 1 && format !== 2) throw new TypeError(`unknown seal format ${JSON.stringify(o.format)}`);
  return {
    seq: o.seq,
    first: decodeCheckpoint(o.first),
    last: decodeCheckpoint(o.last),
    count: o.count,
    total: o.total,
    merkleRoot: o.merkleRoot,
    prevSealHash: o.prevSealHash,
    sealedAt: new Date(o.sealedAt),
    format,
    keyId: format >= 2 ? String(o.keyId) : null,
    sealHash: o.sealHash,
    signature: format >= 2 ? String(o.signature) : null,
  };
}

export interface SealTrust {
  /** Public keys whose signatures are accepted (seal-key.ts). */
  publicKeys?: readonly SealPublicKey[];
  /**
   * Seals 1..legacySeals may be format 1 (written before seals were signed): the operator
   * counted them at the upgrade. Any other unsigned seal is a problem: anyone can write one.
   */
  legacySeals?: number;
}

/**
 * Why this seal is not vouched for by a trusted key, or null when it is. A seal's own hash is
 * checked separately (sealHash); this checks only who vouches for it.
 */
export function sealSignatureProblem(s: Seal, trust: SealTrust): string | null {
  if (s.format < 2) {
    return s.seq <= (trust.legacySeals ?? 0) ? null : `seal ${s.seq} is unsigned (format 1): anyone who can write the database can write such a seal`;
  }
  const key = trust.publicKeys?.find((k) => k.keyId === s.keyId);
  if (!key) {
    return trust.publicKeys?.length
      ? `seal ${s.seq} is signed by key ${s.keyId}, which is not a key you trust`
      : `seal ${s.seq} is signed by key ${s.keyId}; give its public key to check the signature`;
  }
  if (!s.signature || !verifySealSignature(key, s.sealHash, s.signature)) return `seal ${s.seq}'s signature does not verify with key ${s.keyId}`;
  return null;
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
  'format',
  'key_id',
  'signature',
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
    format: Number(r.format),
    keyId: r.key_id,
    sealHash: r.seal_hash,
    signature: r.signature,
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
  /** Signs every seal written (seal-key.ts); the database never holds its private key. */
  signer: SealSigner;
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
export async function sealPending(db: Kysely<Database>, options: SealOptions): Promise<Seal[]> {
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
      const pending = () => safeEvents(trx, { after });
      // Cheap probes first: an idle sealer must not read a whole range every tick.
      const oldest = await pending().select('recorded_at').limit(1).executeTakeFirst();
      if (!oldest) return null;
      if (now().getTime() - new Date(oldest.recorded_at).getTime() < (options.minAgeMs ?? 0)) {
        const { n } = await trx
          .selectFrom(pending().select('global_position').limit(maxEvents).as('p'))
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        if (Number(n) < maxEvents) return null;
      }
      // Only the columns a seal needs.
      const events = await pending().select(['global_position', TRANSACTION_ID, 'hash']).limit(maxEvents).execute();
      if (events.length === 0) return null;
      const sealedAt = now();
      const tree = new MerkleBuilder();
      for (const e of events) tree.addLeaf(positionedLeafHash(e.global_position, e.hash));
      const first = events[0]!;
      const last = events.at(-1)!;
      const fields: SealFields = {
        seq: (prev?.seq ?? 0) + 1,
        first: checkpointOf(first),
        last: checkpointOf(last),
        count: events.length,
        total: (prev?.total ?? 0) + events.length,
        merkleRoot: tree.root()!,
        prevSealHash: prev?.sealHash ?? GENESIS_SEAL_HASH,
        sealedAt,
        format: SEAL_FORMAT,
        keyId: options.signer.keyId,
      };
      const hash = sealHash(fields);
      const s: Seal = { ...fields, sealHash: hash, signature: options.signer.sign(hash) };
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
          format: s.format,
          key_id: s.keyId,
          signature: s.signature,
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
