import { sql, type Kysely } from 'kysely';
import type { Database } from '../database/schema.js';
import { eventJson, recomputedHash, type EventJson } from './log-checks.js';
import { EVENT_COLUMNS } from '../events/safe-read.js';
import { QuireError } from '../errors.js';
import { inclusionPath, sealLeaf, verifyInclusion } from './merkle.js';
import { sealCovering, sealFromJson, sealHash, sealJson, sealSignatureProblem, type SealTrust } from './seal.js';

export class EventNotFoundError extends QuireError {
  readonly code = 'EVENT_NOT_FOUND';
  constructor(readonly globalPosition: number) {
    super(`no event at global position ${globalPosition}`);
    this.name = 'EventNotFoundError';
  }
}

export class NotSealedError extends QuireError {
  readonly code = 'NOT_SEALED';
  constructor(readonly globalPosition: number) {
    super(`the event at global position ${globalPosition} is not sealed yet; ask again after the next seal`);
    this.name = 'NotSealedError';
  }
}

/**
 * Everything needed to check, offline, that an event is in the sealed log:
 *
 *  1. hash = sha256(event.prevHash || canonical_json(event fields))   (the stream chain, hash-chain.ts)
 *  2. leaf = sha256(0x00 || uint64_be(event.globalPosition) || hex_decode(hash))
 *     (seal format 1, before signing: sha256(0x00 || hex_decode(hash)))
 *  3. walk `path` with RFC 9162 §2.1.3.2 (merkle.ts verifyInclusion) from `leafIndex` in a tree of
 *     `treeSize` leaves: the result must equal seal.merkleRoot
 *  4. seal.sealHash = sha256(canonical_json(seal fields))            (seal.ts sealHash)
 *  5. seal.signature is an Ed25519 signature of "quire-seal-v2:" + sealHash by a public key you
 *     trust (the one `quire audit digest` printed), whose id is seal.keyId   (seal-key.ts)
 *  6. seal.sealHash is the digest you kept, or verifyLog(fromDigest: <your digest>) on a later log
 *     proves the log extends it (seals chain by prevSealHash).
 */
export interface EventProof {
  format: 'quire-event-proof';
  /** 2: the seal may be signed (format 2) and then the leaf binds the position; 1: older proofs. */
  version: 1 | 2;
  event: EventJson;
  leafIndex: number;
  treeSize: number;
  /** Sibling hashes, hex, leaf to root. */
  path: string[];
  seal: {
    seq: number;
    first: string;
    last: string;
    count: number;
    total: number;
    merkleRoot: string;
    prevSealHash: string;
    sealedAt: string;
    format?: number;
    keyId?: string | null;
    sealHash: string;
    signature?: string | null;
  };
}

export async function eventProof(db: Kysely<Database>, globalPosition: number): Promise<EventProof> {
  const row = await db
    .selectFrom('events')
    .select(EVENT_COLUMNS)
    .where('global_position', '=', globalPosition)
    .executeTakeFirst();
  if (!row) throw new EventNotFoundError(globalPosition);
  const seal = await sealCovering(db, { transactionId: row.transaction_id, globalPosition });
  if (!seal) throw new NotSealedError(globalPosition);
  const index = seal.positions.indexOf(globalPosition);
  if (index < 0 || seal.hashes[index] !== row.hash) throw new NotSealedError(globalPosition);
  const leaves = seal.hashes.map((h, i) => sealLeaf(seal.format, seal.positions[i]!, h));
  return {
    format: 'quire-event-proof',
    version: 2,
    event: eventJson(row),
    leafIndex: index,
    treeSize: seal.count,
    path: inclusionPath(leaves, index).map((b) => b.toString('hex')),
    seal: sealJson(seal),
  };
}

export interface ProofCheck {
  ok: boolean;
  /** What failed, step by step as documented on EventProof. */
  failures: string[];
  sealHash: string | null;
}

/**
 * The offline check of an EventProof (no database): `publicKeys` are the keys whose seals you
 * accept (a signed seal with no trusted key fails step 5); `digest` optionally pins the seal hash.
 */
export function checkProof(proof: unknown, options: SealTrust & { digest?: string } = {}): ProofCheck {
  const failures: string[] = [];
  const digest = options.digest;
  const p = proof as EventProof;
  if (!p || p.format !== 'quire-event-proof' || (p.version !== 1 && p.version !== 2) || !p.event || !p.seal || !Array.isArray(p.path)) {
    return { ok: false, failures: ['not a quire-event-proof version 1 or 2 document'], sealHash: null };
  }
  const format = p.seal.format ?? 1;
  const e = p.event;
  const hash = recomputedHash(e);
  if (hash === '') failures.push('the event fields are malformed');
  if (hash !== e.hash) failures.push('1. the event hash does not match the event fields');
  if (!/^[0-9a-f]{64}$/.test(e.hash) || !p.path.every((x) => /^[0-9a-f]{64}$/.test(x))) failures.push('hashes must be 64 lowercase hex digits');
  else if (!Number.isSafeInteger(e.globalPosition) || e.globalPosition < 0) failures.push('the event position is malformed');
  else if (!verifyInclusion(sealLeaf(format, e.globalPosition, e.hash), p.leafIndex, p.treeSize, p.path.map((x) => Buffer.from(x, 'hex')), p.seal.merkleRoot)) {
    failures.push('3. the Merkle path does not lead from the event to the seal’s root');
  }
  if (p.treeSize !== p.seal.count) failures.push('the tree size is not the seal’s event count');
  let sealOk = false;
  let signatureProblem: string | null = 'the seal is malformed';
  try {
    const s = sealFromJson(p.seal);
    sealOk = sealHash(s) === s.sealHash;
    signatureProblem = sealSignatureProblem(s, options);
  } catch {
    sealOk = false;
  }
  if (!sealOk) failures.push('4. the seal hash does not match the seal fields');
  if (signatureProblem) failures.push(`5. ${signatureProblem}`);
  if (digest && digest.trim().toLowerCase() !== p.seal.sealHash) failures.push('6. the seal is not the given digest (run verifyLog with your digest to prove a later log extends it)');
  return { ok: failures.length === 0, failures, sealHash: p.seal.sealHash };
}
