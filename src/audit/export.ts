import { sql, type Kysely } from 'kysely';
import { readAllRows } from '../events/read.js';
import { checkpointOf, TRANSACTION_ID } from '../events/safe-read.js';
import type { Database } from '../database/schema.js';
import { decodeCheckpoint, encodeCheckpoint, InvalidCheckpointError, START, type Checkpoint, compareCheckpoints } from '../events/checkpoint.js';
import { checkEvent, checkSeal, checkSealRange, eventJson, recomputedHash, type EventJson, type Finding } from './log-checks.js';
import { MerkleBuilder, sealLeaf } from './merkle.js';
import { SEAL_COLUMNS, sealFromJson, sealJson, toSeal, type Seal, type SealTrust } from './seal.js';

/**
 * The export format, NDJSON, one JSON object per line, in this order:
 *
 *   {"kind":"header","format":"quire-log-export","version":1,"after":"<xid>:<pos>"|null,"streamId":string|null,"exportedAt":ISO}
 *   then, in commit order, events — each sealed range preceded by its seal (unfiltered exports only):
 *   {"kind":"seal","seq","first","last","count","total","merkleRoot","prevSealHash","sealedAt","format","keyId","sealHash","signature"}
 *   (format, keyId and signature only for format-2 seals; see seal.ts)
 *   {"kind":"event","globalPosition","transactionId","eventId","streamId","streamVersion","type","schemaVersion",
 *    "data","metadata","recordedAt","prevHash","hash"}
 *   {"kind":"end","events":n,"seals":n,"head":"<xid>:<pos>"}
 *
 * Every field an event's hash covers is there as stored (not upcast), so the file can be checked
 * with no database: see checkExport.
 */
export const EXPORT_FORMAT = 'quire-log-export';

export interface ExportOptions {
  /** A checkpoint "<xid>:<pos>", or a global position (resolved to its event's checkpoint). */
  after?: string;
  streamId?: string;
  batchSize?: number;
  now?: Date;
}

export class UnknownPositionError extends InvalidCheckpointError {}

/** "<xid>:<pos>" as is; a bare global position becomes the checkpoint of its event. */
export async function resolveAfter(db: Kysely<Database>, after: string | undefined): Promise<Checkpoint> {
  if (after === undefined || after === '' || after === '0') return START;
  if (after.includes(':')) return decodeCheckpoint(after);
  if (!/^\d{1,16}$/.test(after)) throw new InvalidCheckpointError(`invalid position ${JSON.stringify(after)}: expected a global position or "<xid>:<position>"`);
  const row = await db
    .selectFrom('events')
    .select(TRANSACTION_ID)
    .where('global_position', '=', Number(after))
    .executeTakeFirst();
  if (!row) throw new UnknownPositionError(`no event at global position ${after}`);
  return { transactionId: row.transaction_id, globalPosition: Number(after) };
}


function sealLine(s: Seal): string {
  return JSON.stringify({ kind: 'seal', ...sealJson(s) });
}

/** The export as lines (no trailing newline each), streamed: one batch and one seal in memory. */
export async function* exportLines(db: Kysely<Database>, options: ExportOptions = {}): AsyncGenerator<string> {
  const after = await resolveAfter(db, options.after);
  const batchSize = options.batchSize ?? 2000;
  const streamId = options.streamId ?? null;
  yield JSON.stringify({
    kind: 'header',
    format: EXPORT_FORMAT,
    version: 1,
    after: after === START ? null : encodeCheckpoint(after),
    streamId,
    exportedAt: (options.now ?? new Date()).toISOString(),
  });
  // Seals go only into unfiltered exports, and only those whose whole range is in the file.
  let nextSeal: Seal | null = null;
  let sealSeq = 0;
  const loadSeal = async () => {
    if (streamId !== null) return null;
    const row = await db
      .selectFrom('log_seals')
      .select(SEAL_COLUMNS)
      .where('seq', '>', sealSeq)
      .where(sql<boolean>`(first_transaction_id, first_position) > (${after.transactionId}::xid8, ${after.globalPosition}::bigint)`)
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst();
    const s = row ? toSeal(row) : null;
    if (s) sealSeq = s.seq;
    return s;
  };
  nextSeal = await loadSeal();
  let events = 0;
  let seals = 0;
  let cursor = after;
  for (;;) {
    const rows = await readAllRows(db, cursor, batchSize, streamId ?? undefined);
    if (rows.length === 0) break;
    for (const r of rows) {
      const checkpoint = checkpointOf(r);
      while (nextSeal && compareCheckpoints(nextSeal.first, checkpoint) < 0) nextSeal = await loadSeal();
      if (nextSeal && compareCheckpoints(nextSeal.first, checkpoint) === 0) {
        yield sealLine(nextSeal);
        seals++;
        nextSeal = await loadSeal();
      }
      yield JSON.stringify({ kind: 'event', ...eventJson(r) });
      events++;
      cursor = checkpoint;
    }
  }
  yield JSON.stringify({ kind: 'end', events, seals, head: encodeCheckpoint(cursor) });
}

export interface ExportProblem {
  line: number;
  position: number | null;
  message: string;
}

export interface ExportCheck {
  ok: boolean;
  events: number;
  seals: number;
  /** The last seal in the file: with the export's provenance, a digest to compare with one kept earlier. */
  lastSealHash: string | null;
  digest: { sealHash: string; found: boolean } | null;
  problems: ExportProblem[];
  problemCount: number;
}

/**
 * Checks an export with no database: the header and the end line (a cut file fails), every
 * event's hash from its fields, every stream chain (a stream first seen above version 1 is
 * accepted only in an export that starts after the log's beginning or one stream's), commit
 * order, every seal's hash, its link to the seal before it in the file, and its Merkle root over
 * exactly its `count` events. Memory: one entry per stream (the chains' heads).
 */
export async function checkExport(lines: AsyncIterable<string> | Iterable<string>, options: SealTrust & { digest?: string; maxProblems?: number } = {}): Promise<ExportCheck> {
  const maxProblems = options.maxProblems ?? 100;
  const digest = options.digest?.trim().toLowerCase();
  const problems: ExportProblem[] = [];
  let problemCount = 0;
  const problem = (line: number, position: number | null, message: string) => {
    problemCount++;
    if (problems.length < maxProblems) problems.push({ line, position, message });
  };
  let lineNo = 0;
  let header: { after: string | null; streamId: string | null } | null = null;
  let ended = false;
  let events = 0;
  let sealCount = 0;
  let prevSeal: Seal | null = null;
  let open: { seal: Seal; tree: MerkleBuilder; seen: number; line: number } | null = null;
  let lastCheckpoint: Checkpoint | null = null;
  let digestFound = false;
  let sawSigned = false;
  const heads = new Map<string, { version: number; hash: string }>();

  const closeSeal = (line: number) => {
    if (!open) return;
    const { seal, tree, seen } = open;
    const found = checkSealRange(seal, seen, tree.root());
    if (found?.kind === 'SEALED_EVENT') problem(line, seal.last.globalPosition, found.message);
    else if (found) problem(open.line, seal.first.globalPosition, found.message);
    open = null;
  };

  for await (const raw of lines) {
    lineNo++;
    const text = raw.trim();
    if (text === '') continue;
    let obj: Record<string, any>;
    try {
      obj = JSON.parse(text);
    } catch {
      problem(lineNo, null, 'not JSON');
      continue;
    }
    if (ended) {
      problem(lineNo, null, 'content after the end line');
      continue;
    }
    if (lineNo === 1 || !header) {
      if (obj.kind !== 'header' || obj.format !== EXPORT_FORMAT || obj.version !== 1) {
        problem(lineNo, null, `not a ${EXPORT_FORMAT} version 1 file (the first line must be its header)`);
        return { ok: false, events, seals: sealCount, lastSealHash: null, digest: digest ? { sealHash: digest, found: false } : null, problems, problemCount };
      }
      header = { after: obj.after ?? null, streamId: obj.streamId ?? null };
      continue;
    }
    if (obj.kind === 'seal') {
      closeSeal(lineNo);
      let seal: Seal;
      let found: Finding[];
      try {
        seal = sealFromJson(obj);
        // Before its first seal, a file that starts mid-log does not hold the link to the seal before.
        found = checkSeal(seal, prevSeal ?? (header.after === null ? null : 'unknown'), sawSigned, options);
      } catch {
        problem(lineNo, null, 'malformed seal');
        continue;
      }
      for (const f of found) problem(lineNo, seal.first.globalPosition, f.message);
      if (seal.format >= 2) sawSigned = true;
      if (digest && seal.sealHash === digest) digestFound = true;
      prevSeal = seal;
      open = { seal, tree: new MerkleBuilder(), seen: 0, line: lineNo };
      sealCount++;
      continue;
    }
    if (obj.kind === 'end') {
      closeSeal(lineNo);
      if (obj.events !== events || obj.seals !== sealCount) problem(lineNo, null, `the end line counts ${obj.events} events and ${obj.seals} seals, the file has ${events} and ${sealCount}`);
      ended = true;
      continue;
    }
    if (obj.kind !== 'event') {
      problem(lineNo, null, `unknown line kind ${JSON.stringify(obj.kind)}`);
      continue;
    }
    events++;
    const position = Number(obj.globalPosition);
    let checkpoint: Checkpoint;
    try {
      checkpoint = decodeCheckpoint(`${obj.transactionId}:${obj.globalPosition}`);
    } catch {
      problem(lineNo, null, 'malformed event position');
      continue;
    }
    if (lastCheckpoint && compareCheckpoints(checkpoint, lastCheckpoint) <= 0) problem(lineNo, position, `event at position ${position} is out of commit order`);
    lastCheckpoint = checkpoint;
    const event = { position, streamId: obj.streamId, version: obj.streamVersion, prevHash: obj.prevHash, hash: obj.hash, computedHash: recomputedHash(obj as EventJson) };
    // A stream may start above version 1 only in a file that starts after the log's beginning.
    for (const f of checkEvent(event, heads.get(obj.streamId), header.after !== null)) problem(lineNo, position, f.message);
    heads.set(obj.streamId, { version: obj.streamVersion, hash: obj.hash });
    if (open) {
      if (compareCheckpoints(checkpoint, open.seal.last) > 0) closeSeal(lineNo);
      else {
        if (open.seen === 0 && compareCheckpoints(checkpoint, open.seal.first) !== 0) problem(lineNo, position, `seal ${open.seal.seq} starts at ${encodeCheckpoint(open.seal.first)}, the file at ${encodeCheckpoint(checkpoint)}`);
        try {
          open.tree.addLeaf(sealLeaf(open.seal.format, position, String(obj.hash)));
        } catch {
          problem(lineNo, position, `event at position ${position}: malformed position or hash`);
        }
        open.seen++;
      }
    }
  }
  if (!header) problem(lineNo, null, 'empty file');
  else if (!ended) problem(lineNo, null, 'the file ends without its end line: it was cut short');
  if (digest && !digestFound) problem(lineNo, null, `digest ${digest} is not a seal in this export`);
  return {
    ok: problemCount === 0,
    events,
    seals: sealCount,
    lastSealHash: prevSeal?.sealHash ?? null,
    digest: digest ? { sealHash: digest, found: digestFound } : null,
    problems,
    problemCount,
  };
}
