import { sql, type Kysely, type Transaction } from 'kysely';
import type pg from 'pg';
import { availableParallelism } from 'node:os';
import { ReadAhead } from '../shared/read-ahead.js';
import { checkpointOf, safeEvents } from '../events/safe-read.js';
import type { Database } from '../database/schema.js';
import { encodeCheckpoint, START, type Checkpoint, compareCheckpoints } from '../events/checkpoint.js';
import { HashPool } from './hash-pool.js';
import { checkEvent, checkSeal, checkSealRange } from './log-checks.js';
import { MerkleBuilder, sealLeaf } from './merkle.js';
import { EVENT_COPY_COLUMNS, parseTextRows, type TextRow } from '../events/copy-rows.js';
import { checkRows, LEAF_BYTES, type CheckedBatch } from './row-checks.js';
import { copyOutBatches } from '../database/copy-out.js';
import { postgresPoolOf } from '../database/pool-of.js';
import { decodeLeaves, SEAL_COLUMNS, toSeal, type Seal, type SealLeaves, type SealTrust } from './seal.js';

export const PROBLEM_KINDS = [
  /** The event's hash is not sha256(prev_hash || canonical_json(event)): its content was changed. */
  'CONTENT',
  /** prev_hash is not the hash of the stream's previous event (or the genesis hash). */
  'CHAIN',
  /** The stream's previous version does not exist: an event was deleted. */
  'VERSION_GAP',
  /** The stream's previous version comes later in commit order: events were moved or inserted. */
  'ORDER',
  /** A seal's own hash does not match its fields, or the seal chain (seq, prev_seal_hash, total) is broken. */
  'SEAL',
  /** An event in a sealed range is not the event the seal covers: rewritten, deleted, inserted or moved. */
  'SEALED_EVENT',
  /** A seal's Merkle root does not match the events of its range. */
  'SEAL_ROOT',
  /** The given digest is not a seal of this log, or the log does not extend it. */
  'DIGEST',
  /**
   * The event does not parse or upcast with this version of quire (a bad row, or one written by a
   * newer version): readers quarantine it — they skip it and go on — so it must be looked at.
   */
  'UNREADABLE',
  /** A seal is unsigned, signed by a key not trusted, or its signature does not verify: someone without the key wrote it. */
  'SIGNATURE',
  /** A digest published to the object store (published-seals.ts) differs from the log's seal, or is missing from the log. */
  'PUBLISHED',
] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

export interface Problem {
  kind: ProblemKind;
  message: string;
  /** Global position of the broken event, when one can be named. */
  position: number | null;
  checkpoint: Checkpoint | null;
  streamId: string | null;
  streamVersion: number | null;
  sealSeq: number | null;
}

export interface VerifyOptions extends SealTrust {
  /** A seal hash kept outside quire earlier: prove the current log extends it. */
  fromDigest?: string;
  /** Rows per read (default 2,000). */
  batchSize?: number;
  /** Most problems listed in the report (default 100); all are counted. */
  maxProblems?: number;
  /** Stream heads remembered between events (default 100,000): bounds memory; misses cost a lookup. */
  headCacheSize?: number;
  onProgress?: (events: number) => void;
  /**
   * Read through a server-side cursor inside one REPEATABLE READ, READ ONLY transaction (PostgreSQL:
   * about 3× faster than keyset pages, and every read sees one snapshot). It holds back vacuum's
   * horizon while it runs but not the log's readers (a read-only transaction has no xid). Leave
   * it off on PGlite, where a transaction holds the only connection.
   */
  cursor?: boolean;
  /**
   * With `cursor` on PostgreSQL (a db opened by connect.ts): stream the rows with COPY on a second
   * connection in the same snapshot instead of FETCHing them (default). The reading thread then
   * parses nothing: the hash workers parse the COPY text. `false`, or a pool of one connection:
   * FETCH through the cursor.
   */
  copy?: boolean;
  /**
   * Worker threads that re-hash events while the next batch is read (row-checks.ts); 0 hashes on
   * the reading thread. Default: one per core, at most DEFAULT_MAX_WORKERS, and none for a log that
   * fits in one batch (starting a thread costs more than hashing it).
   */
  workers?: number;
  /** Another hash worker entry (tests: one that crashes). */
  workerUrl?: URL;
}

export interface VerifyReport {
  ok: boolean;
  events: number;
  /** Streams seen starting (events at version 1). */
  streams: number;
  seals: number;
  sealedEvents: number;
  /** The last event checked (the safe head when verify ran). */
  head: Checkpoint;
  latestSeal: Seal | null;
  digest: { sealHash: string; found: boolean; seq: number | null; extended: boolean } | null;
  /** The first broken place in commit order. */
  firstProblem: Problem | null;
  problems: Problem[];
  problemCount: number;
  durationMs: number;
}

type Row = TextRow;

interface Head {
  version: number;
  hash: string;
  checkpoint: Checkpoint;
}


async function lookupHeads(db: Kysely<Database>, keys: Array<{ streamId: string; version: number }>): Promise<Map<string, Head>> {
  const out = new Map<string, Head>();
  if (keys.length === 0) return out;
  const { rows } = await sql<{ stream_id: string; stream_version: number; hash: string; transaction_id: string; global_position: number }>`
    SELECT e.stream_id, e.stream_version, e.hash, e.transaction_id::text AS transaction_id, e.global_position
    FROM unnest(${keys.map((k) => k.streamId)}::text[], ${keys.map((k) => k.version)}::bigint[]) AS k(stream_id, stream_version)
    JOIN events AS e ON e.stream_id = k.stream_id AND e.stream_version = k.stream_version`.execute(db);
  for (const r of rows) {
    out.set(`${r.stream_version}@${r.stream_id}`, {
      version: Number(r.stream_version),
      hash: r.hash,
      checkpoint: checkpointOf(r),
    });
  }
  return out;
}

/**
 * A seal's stored leaves only locate differences: they count only if they reproduce its root.
 * Judged on first need — an intact seal's events all match its leaves, and its root is checked
 * when it closes — so a clean verify does not hash every leaf twice.
 */
class StoredLeaves {
  private judged: { trusted: boolean; indexOf: Map<number, number> } | null = null;
  constructor(
    private readonly seal: Seal,
    private readonly leaves: SealLeaves,
  ) {}
  get trusted(): boolean {
    return this.judge().trusted;
  }
  /** Index of each sealed position in the seal's order (empty when not trusted). */
  get indexOf(): Map<number, number> {
    return this.judge().indexOf;
  }
  private judge(): { trusted: boolean; indexOf: Map<number, number> } {
    if (this.judged) return this.judged;
    const { seal, leaves } = this;
    const tree = new MerkleBuilder();
    leaves.hashes.forEach((h, i) => tree.addLeaf(sealLeaf(seal.format, leaves.positions[i] ?? 0, h)));
    const trusted = leaves.hashes.length === seal.count && leaves.positions.length === seal.count && tree.root() === seal.merkleRoot;
    const indexOf = new Map<number, number>();
    if (trusted) leaves.positions.forEach((p, i) => indexOf.set(p, i));
    return (this.judged = { trusted, indexOf });
  }
}

/** Seals one at a time, in seq order, checking the seal chain as it goes. */
class SealCursor {
  current: (Seal & SealLeaves & { trust: StoredLeaves; index: number; tree: MerkleBuilder; reported: boolean }) | null = null;
  private prev: Seal | null = null;
  seals = 0;
  get maxSeqChecked(): number {
    return this.maxSeq;
  }
  digestSeal: Seal | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    /** `rankAt`: where in commit order the problem counts (a missing event: where it used to be). */
    private readonly report: (p: Omit<Problem, 'streamId' | 'streamVersion'> & Partial<Problem>, rankAt?: Checkpoint | null) => void,
    private readonly digest: string | undefined,
    private readonly maxSeq: number,
    private readonly trust: SealTrust,
  ) {}
  private sawSigned = false;
  /** Events found inside a seal's range. */
  sealedEvents = 0;

  /** Loads the next seal (or null), checking its own hash and its link to the previous one. */
  async next(): Promise<void> {
    const row = await this.db
      .selectFrom('log_seals')
      .select([...SEAL_COLUMNS, 'leaf_positions', 'leaf_hashes'])
      .where('seq', '>', this.prev?.seq ?? 0)
      .where('seq', '<=', this.maxSeq)
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst();
    if (!row) {
      this.current = null;
      return;
    }
    const seal = toSeal(row);
    const leaves = decodeLeaves(row.leaf_positions, row.leaf_hashes);
    const at = { position: seal.first.globalPosition, checkpoint: seal.first, sealSeq: seal.seq };
    for (const found of checkSeal(seal, this.prev, this.sawSigned, this.trust)) this.report({ ...found, ...at });
    if (seal.format >= 2) this.sawSigned = true;
    this.current = { ...seal, ...leaves, trust: new StoredLeaves(seal, leaves), index: 0, tree: new MerkleBuilder(), reported: false };
    if (this.digest && seal.sealHash === this.digest) this.digestSeal = seal;
    this.prev = seal;
    this.seals++;
  }

  /** Closes the seals that end before `checkpoint` (before placing an event there). */
  async reach(checkpoint: Checkpoint): Promise<void> {
    while (this.current && compareCheckpoints(checkpoint, this.current.last) > 0) {
      this.finish();
      await this.next();
    }
  }

  /**
   * Accounts for one event in the seal its checkpoint falls in (after `reach`), and names the
   * first event of a seal that is not the event the seal covers. Not async: it runs for every
   * event, and awaiting each cost the reading thread a microtask an event.
   */
  place(at: Omit<Problem, 'kind' | 'message' | 'sealSeq'> & { position: number; checkpoint: Checkpoint }, hash: string, positionedLeaf: Uint8Array): void {
    const s = this.current;
    if (!s) return;
    if (compareCheckpoints(at.checkpoint, s.first) < 0) {
      this.report({ ...at, kind: 'SEALED_EVENT', sealSeq: s.seq, message: `event at position ${at.position} lies inside sealed history but in no seal: it was inserted after sealing` });
      return;
    }
    this.sealedEvents++;
    const i = s.index++;
    s.tree.addLeaf(s.format >= 2 ? positionedLeaf : sealLeaf(s.format, at.position, hash));
    if (s.reported) return;
    // The event the stored leaves name here: nothing to locate, whether they are trusted or not
    // (the root, checked when the seal closes, judges the range).
    if (i < s.count && s.positions[i] === at.position && s.hashes[i] === hash) return;
    if (!s.trust.trusted) return;
    if (i >= s.count) {
      s.reported = true;
      this.report({ ...at, kind: 'SEALED_EVENT', sealSeq: s.seq, message: `event at position ${at.position} was not sealed in seal ${s.seq} (which covers ${s.count} events): it was inserted after sealing` });
      return;
    }
    const sealedPosition = s.positions[i]!;
    s.reported = true;
    if (sealedPosition === at.position) {
      this.report({ ...at, kind: 'SEALED_EVENT', sealSeq: s.seq, message: `event at position ${at.position} (${at.streamId} v${at.streamVersion}) is not the event seal ${s.seq} covers: its hash differs from the sealed ${s.hashes[i]}` });
    } else {
      const j = s.trust.indexOf.get(at.position);
      if (j === undefined) {
        this.report({ ...at, kind: 'SEALED_EVENT', sealSeq: s.seq, message: `event at position ${at.position} was not sealed in seal ${s.seq}: it was inserted after sealing` });
      } else if (j > i) {
        this.report(
          {
            position: sealedPosition,
            checkpoint: null,
            kind: 'SEALED_EVENT',
            sealSeq: s.seq,
            message: `sealed event at position ${sealedPosition} is missing (seal ${s.seq}): deleted or moved`,
          },
          at.checkpoint,
        );
      } else {
        this.report({ ...at, kind: 'SEALED_EVENT', sealSeq: s.seq, message: `event at position ${at.position} was sealed earlier in seal ${s.seq}'s order: events were reordered` });
      }
    }
  }

  /** Closes the current seal: every sealed event seen, the root reproduced. */
  finish(): void {
    const s = this.current;
    if (!s) return;
    if (!s.reported) {
      if (s.index < s.count) {
        const missing = s.trust.trusted ? s.positions[s.index]! : null;
        this.report({
          kind: 'SEALED_EVENT',
          position: missing,
          checkpoint: s.last,
          sealSeq: s.seq,
          message:
            missing === null
              ? `seal ${s.seq} covers ${s.count} events, only ${s.index} remain`
              : `sealed event at position ${missing} is missing (seal ${s.seq} covers ${s.count} events, ${s.index} remain): the log was truncated or events deleted`,
        });
      } else {
        const found = checkSealRange(s, s.index, s.tree.root());
        if (found) this.report({ ...found, message: found.message + (s.trust.trusted ? '' : ' (and its stored leaves were altered too)'), position: s.first.globalPosition, checkpoint: s.first, sealSeq: s.seq });
      }
    }
    this.current = null;
  }
}

const batchSizeOf = (options: VerifyOptions) => options.batchSize ?? 2000;

/**
 * Bytes of COPY text a batch holds at least (copyOutBatches), for `batchSize` rows: an event's row
 * is at least ~250 bytes of text (two hashes, an id, a stream id, a timestamp…), so a batch holds
 * about as many rows as a fetched one, or fewer.
 */
export const copyBatchBytes = (batchSize: number) => batchSize * 256;

/**
 * A worker per core by default, not one less: the reading thread only cuts COPY text into batches
 * and keeps the ordered checks (idle ~60% of a 1M verify beside one worker on two cores), and a
 * second worker took 1M from a median 12.4 s to 10.7 s there (15 runs each, alternating). Beyond
 * about four, the reading thread and the server's one COPY would be the limit (~4.5 and ~3.5 µs an
 * event), not hashing.
 */
const DEFAULT_MAX_WORKERS = 4;

/**
 * Batches read but not yet checked, at most: each worker holds up to two (one hashing, one
 * queued), so a worker never waits for the reader; hashing inline, one is read ahead. With the
 * batch being checked and the one being fetched, memory holds at most this + 2 batches.
 */
export function verifyReadAhead(workers: number): number {
  return workers > 0 ? 2 * workers : 1;
}

/** Where verifyFrom's batches come from: rows the driver parsed, or whole rows of COPY text. */
type Source = { kind: 'rows'; next: () => Promise<Row[]> } | { kind: 'copy'; next: () => Promise<Uint8Array | null> };

/**
 * Verifies the whole log in one pass in commit order, streaming (COPY or a cursor, or keyset
 * pages) with bounded memory: a few batches (verifyReadAhead), one seal's leaves (at most SEAL_EVERY_EVENTS), and a bounded cache
 * of stream heads. For every event: its hash reproduces from its content and prev_hash; prev_hash
 * is its stream's previous event's hash (or the genesis hash at version 1), and that event exists
 * and precedes it in commit order. For every seal: its hash reproduces from its fields, it links
 * to the previous seal, and its range — exactly the events between its first and last checkpoint
 * — reproduces its Merkle root; the first event that differs from the sealed one is named. With
 * `fromDigest`: that seal is in the verified chain and nothing at or before it is broken.
 */
export async function verifyLog(db: Kysely<Database>, options: VerifyOptions = {}): Promise<VerifyReport> {
  const batchSize = batchSizeOf(options);
  if (!options.cursor) {
    let after: Checkpoint = START;
    return verifyFrom(db, options, {
      kind: 'rows',
      next: async () => {
        const rows = await safeEvents(db, { after }).select(EVENT_COPY_COLUMNS).limit(batchSize).execute();
        const last = rows.at(-1);
        if (last) after = checkpointOf(last);
        return rows;
      },
    });
  }
  // COPY needs a second connection beside the transaction's: a pool of one would wait forever.
  const pool = options.copy === false ? undefined : postgresPoolOf(db);
  const copyPool = pool && pool.options.max >= 2 ? pool : undefined;
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      if (copyPool) return verifyByCopy(trx, copyPool, options);
      await sql`DECLARE quire_verify NO SCROLL CURSOR FOR ${safeEvents(trx).select(EVENT_COPY_COLUMNS)}`.execute(trx);
      const fetch = sql<Row>`FETCH ${sql.raw(String(batchSize))} FROM quire_verify`;
      return verifyFrom(trx, options, { kind: 'rows', next: async () => (await fetch.execute(trx)).rows });
    });
}

/**
 * The safe rows streamed by COPY on a second connection that imports `trx`'s snapshot, so the
 * rows, the head lookups and the seals are read as of one moment, as with the cursor. The reading
 * thread then only cuts the stream into batches at row ends; the hash workers parse the text.
 */
async function verifyByCopy(trx: Transaction<Database>, pool: pg.Pool, options: VerifyOptions): Promise<VerifyReport> {
  const { rows } = await sql<{ snapshot: string }>`SELECT pg_export_snapshot() AS snapshot`.execute(trx);
  const snapshot = rows[0]!.snapshot;
  if (!/^[0-9A-F-]+$/i.test(snapshot)) throw new Error(`unexpected snapshot id ${snapshot}`);
  // The one definition of the safe rows; it takes no parameters (COPY accepts none).
  const query = safeEvents(trx).select(EVENT_COPY_COLUMNS).compile();
  if (query.parameters.length > 0) throw new Error('the safe read of the whole log has parameters: COPY cannot take them');
  const client = await pool.connect();
  let clean = false;
  let batches: AsyncGenerator<Uint8Array> | null = null;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
    const copied = (batches = copyOutBatches(client, query.sql, copyBatchBytes(batchSizeOf(options))));
    const report = await verifyFrom(trx, options, {
      kind: 'copy',
      next: async () => {
        const next = await copied.next();
        return next.done ? null : next.value;
      },
    });
    await client.query('COMMIT');
    clean = true;
    return report;
  } finally {
    // A COPY that failed or was left mid-way leaves the connection unusable: destroy it.
    if (!clean) await batches?.return(undefined).catch(() => undefined);
    client.release(!clean);
  }
}

async function verifyFrom(db: Kysely<Database>, options: VerifyOptions, source: Source): Promise<VerifyReport> {
  const started = performance.now();
  const maxProblems = options.maxProblems ?? 100;
  const headCacheSize = options.headCacheSize ?? 100_000;
  const digest = options.fromDigest?.trim().toLowerCase();

  const problems: Problem[] = [];
  let problemCount = 0;
  let firstProblem: Problem | null = null;
  // Problems rank by where they are in commit order (a missing event: where it used to be).
  let firstRank: Checkpoint | null = null;
  const report = (p: Omit<Problem, 'streamId' | 'streamVersion'> & Partial<Problem>, rankAt: Checkpoint | null = p.checkpoint) => {
    const problem: Problem = { streamId: null, streamVersion: null, ...p };
    problemCount++;
    if (problems.length < maxProblems) problems.push(problem);
    if (!firstProblem || (rankAt && (!firstRank || compareCheckpoints(rankAt, firstRank) < 0))) {
      firstProblem = problem;
      firstRank = rankAt;
    }
  };

  const heads = new Map<string, Head>();
  // Seals written after this point cover events this pass may not reach: check up to here.
  const newest = await db.selectFrom('log_seals').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
  const seals = new SealCursor(db, report, digest, Number(newest?.seq ?? 0), options);
  await seals.next();
  let events = 0;
  let streams = 0;
  let after: Checkpoint = START;

  // Per-event checks (content hash, readability, seal leaf) go to worker threads as batches
  // arrive; this thread reads ahead and keeps the checks that need commit order.
  const first = await source.next();
  const batchSize = batchSizeOf(options);
  const small = source.kind === 'rows' ? (first as Row[]).length < batchSize : first === null || first.length < copyBatchBytes(batchSize);
  const workers = options.workers ?? (small ? 0 : Math.min(availableParallelism(), DEFAULT_MAX_WORKERS));
  const pool = workers > 0 ? new HashPool({ size: workers, ...(options.workerUrl ? { workerUrl: options.workerUrl } : {}) }) : null;
  let firstBatch: Row[] | Uint8Array | null = first;
  // Each batch as it is read: its checks under way on a worker, or (inline) to run when taken.
  // (Wrapped in an object: a promise returned from the async read would be awaited there.)
  const readAhead = new ReadAhead<{ checked: Promise<CheckedBatch> | (() => CheckedBatch) }>(async () => {
    const batch = firstBatch ?? (await source.next());
    firstBatch = null;
    if (batch === null || batch.length === 0) return null;
    let checked: Promise<CheckedBatch> | (() => CheckedBatch);
    const checkedHere = (rows: TextRow[]): CheckedBatch => ({ rows, verdicts: checkRows(rows) });
    if (batch instanceof Uint8Array) checked = pool ? pool.checkCopy(batch) : () => checkedHere(parseTextRows(batch));
    else checked = pool ? pool.check(batch).then((verdicts) => ({ rows: batch, verdicts })) : () => checkedHere(batch);
    if (typeof checked !== 'function') checked.catch(() => undefined); // taken (and thrown) in order below
    return { checked };
  }, verifyReadAhead(workers));
  try {
    for (;;) {
      const batch = await readAhead.take();
      if (!batch) break;
      const { rows, verdicts } = typeof batch.checked === 'function' ? batch.checked() : await batch.checked;
      if (rows.length === 0) continue;
      after = checkpointOf(rows[rows.length - 1]!);

      // Predecessors neither remembered nor earlier in this batch: one lookup for the batch.
      const seen = new Map<string, number>();
      const misses: Array<{ streamId: string; version: number }> = [];
      for (const r of rows) {
        const v = Number(r.stream_version);
        if (v > 1 && heads.get(r.stream_id)?.version !== v - 1 && seen.get(r.stream_id) !== v - 1) misses.push({ streamId: r.stream_id, version: v - 1 });
        seen.set(r.stream_id, v);
      }
      const looked = await lookupHeads(db, misses);
      const changed = new Map(verdicts.changed);
      const unreadable = new Map(verdicts.unreadable);

      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        const position = Number(r.global_position);
        const version = Number(r.stream_version);
        const checkpoint = checkpointOf(r);
        const at = { position, checkpoint, streamId: r.stream_id, streamVersion: version, sealSeq: null };
        events++;
        if (version === 1) streams++;

        const why = unreadable.get(i);
        if (why !== undefined) report({ kind: 'UNREADABLE', ...at, message: `${why}; readers skip it (quarantined)` });
        const cached = heads.get(r.stream_id);
        const pred = version === 1 ? undefined : cached?.version === version - 1 ? cached : looked.get(`${version - 1}@${r.stream_id}`);
        const event = { position, streamId: r.stream_id, version, prevHash: r.prev_hash, hash: r.hash, computedHash: changed.get(i) ?? r.hash, checkpoint };
        for (const found of checkEvent(event, pred)) report({ ...found, ...at });
        // `cached` is still the stream's head here: nothing above writes `heads`.
        if (!cached || cached.version < version) {
          heads.delete(r.stream_id);
          heads.set(r.stream_id, { version, hash: r.hash, checkpoint });
          if (heads.size > headCacheSize) heads.delete(heads.keys().next().value!);
        }

        const leaf = verdicts.leaves.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES);
        if (seals.current && compareCheckpoints(checkpoint, seals.current.last) > 0) await seals.reach(checkpoint);
        seals.place(at, r.hash, leaf);
      }
      options.onProgress?.(events);
    }
  } finally {
    // Stop reading (a fetch in flight finishes first: the transaction outlives it) and end the threads.
    await readAhead.close();
    await pool?.close();
  }
  // Whatever seals remain cover events that are gone.
  while (seals.current) {
    seals.finish();
    await seals.next();
  }

  const latest = await db.selectFrom('log_seals').select(SEAL_COLUMNS).where('seq', '<=', seals.maxSeqChecked).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  let digestResult: VerifyReport['digest'] = null;
  if (digest) {
    const d = seals.digestSeal;
    const first = firstProblem as Problem | null;
    const brokenBefore = !!d && !!first && (!first.checkpoint || compareCheckpoints(first.checkpoint, d.last) <= 0);
    digestResult = { sealHash: digest, found: !!d, seq: d?.seq ?? null, extended: !!d && !brokenBefore };
    if (!d) {
      const latestSeal = latest ? toSeal(latest) : null;
      report({
        kind: 'DIGEST',
        position: null,
        checkpoint: null,
        sealSeq: null,
        message: `digest ${digest} is not a seal of this log: the sealed history it vouches for was truncated or rewritten${
          latestSeal ? ` (the log's seals now end at seal ${latestSeal.seq}, position ${latestSeal.last.globalPosition})` : ' (the log has no seals)'
        }`,
      });
    } else if (brokenBefore) {
      report({ kind: 'DIGEST', position: null, checkpoint: null, sealSeq: d.seq, message: `the log does not extend digest ${digest} (seal ${d.seq}): history before it is broken` });
    }
  }
  return {
    ok: problemCount === 0,
    events,
    streams,
    seals: seals.seals,
    sealedEvents: seals.sealedEvents,
    head: after,
    latestSeal: latest ? toSeal(latest) : null,
    digest: digestResult,
    firstProblem,
    problems,
    problemCount,
    durationMs: Math.round(performance.now() - started),
  };
}

export function describeProblem(p: Problem): string {
  return `${p.kind}${p.position !== null ? ` at position ${p.position}` : ''}${p.checkpoint ? ` [${encodeCheckpoint(p.checkpoint)}]` : ''}: ${p.message}`;
}
