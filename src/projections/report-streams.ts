import { sql, type Transaction } from 'kysely';
import type pg from 'pg';
import { copyOutBatches } from '../database/copy-out.js';
import type { Database } from '../database/schema.js';
import { FOLD_COPY_COLUMNS, parseFoldRows } from '../events/copy-rows.js';
import { readStreams, toFoldableEvent } from '../events/read.js';
import type { FoldableEvent } from '../events/recorded-event.js';
import { REPORT_STREAM_PREFIX } from '../reports/report-state.js';
import { ReadAhead } from '../shared/read-ahead.js';

/**
 * Streams a batch holds by default. 100 measured no different from 500 once runs alternated
 * (18.5/21.8 s vs 20.2/19.1 s for 1M events, load 2–3): 500 it stays.
 */
export const REPLAY_PAGE_SIZE = 500;

/** Batches of COPY text read ahead of the one being decoded. */
const COPY_READ_AHEAD = 2;

/** One report stream's events, in version order. */
export type ReportStream = FoldableEvent[];

export interface ReportStreamsOptions {
  /** Streams a batch holds (about: a COPY batch of text is taken whole). */
  pageSize: number;
  /** PostgreSQL's pool under the transaction: read by COPY on a second connection of it. */
  pool?: pg.Pool;
  /**
   * Bytes of COPY text decoded at a time (default 512 KiB: about 1,000 events, a row being
   * ~400–600 bytes of text); tests make it tiny so streams straddle batches.
   */
  copyBatchBytes?: number;
}

/**
 * Every report stream, stream after stream, each whole and in version order, in batches of at
 * most about `pageSize` streams: what a replay folds. Memory holds one batch, never the log.
 *
 * On PostgreSQL with a pool of two or more (`pool`): one ordered read over the
 * (stream_id, stream_version) index, streamed by COPY on a second connection that imports `trx`'s
 * snapshot (it sees exactly the log `trx` sees), of only the columns a fold reads, each row decoded
 * as the driver would have (events/copy-rows.ts) and then upcast and validated as every read is
 * (toFoldableEvent). A stream is handed on when the next one's first row arrives. Otherwise
 * (PGlite, a pool of one): pages of `pageSize` stream ids, each page's events in one statement
 * (readStreams) on `trx`.
 */
export function reportStreams(trx: Transaction<Database>, options: ReportStreamsOptions): AsyncGenerator<ReportStream[]> {
  const { pool, pageSize } = options;
  // COPY needs a connection beside the transaction's: a pool of one would wait forever.
  return pool && pool.options.max >= 2 ? copiedStreams(trx, pool, pageSize, options.copyBatchBytes ?? 512 * 1024) : pagedStreams(trx, pageSize);
}

async function* copiedStreams(trx: Transaction<Database>, pool: pg.Pool, pageSize: number, batchBytes: number): AsyncGenerator<ReportStream[]> {
  const { rows } = await sql<{ snapshot: string }>`SELECT pg_export_snapshot() AS snapshot`.execute(trx);
  const snapshot = rows[0]!.snapshot;
  if (!/^[0-9A-F-]+$/i.test(snapshot)) throw new Error(`unexpected snapshot id ${snapshot}`);
  // COPY takes no parameters: the prefix is a literal.
  const query = trx
    .selectFrom('events')
    .select(FOLD_COPY_COLUMNS)
    .where('stream_id', 'like', sql.lit(`${REPORT_STREAM_PREFIX}%`))
    .orderBy('stream_id')
    .orderBy('stream_version')
    .compile();
  if (query.parameters.length > 0) throw new Error('the ordered read of the report streams has parameters: COPY cannot take them');
  const client = await pool.connect();
  let clean = false;
  let batches: AsyncGenerator<Uint8Array> | null = null;
  let ahead: ReadAhead<Uint8Array> | null = null;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
    // The (stream_id, stream_version) index, not the planner's parallel seq scan and sort: a sort
    // sends no row until the whole log is sorted (1.5 s of a 1M-event replay with nothing to
    // fold) and spills it to temp files that grow with the log (~360 MB at 1M). bench:verify:
    // 9.8–11.4 s against 11.1–13.3 s for the replay of 1M, alternating.
    await client.query('SET LOCAL enable_sort = off');
    const copied = (batches = copyOutBatches(client, query.sql, batchBytes));
    // The socket is drained a batch or two ahead while this thread decodes and folds: the server
    // never waits for the process to ask (the batches are bytes: memory stays bounded).
    ahead = new ReadAhead(async () => {
      const next = await copied.next();
      return next.done ? null : next.value;
    }, COPY_READ_AHEAD);
    let streams: ReportStream[] = [];
    let current: ReportStream = [];
    for (let batch = await ahead.take(); batch; batch = await ahead.take()) {
      for (const row of parseFoldRows(batch)) {
        const event = toFoldableEvent(row);
        if (current.length > 0 && current[0]!.streamId !== event.streamId) {
          streams.push(current);
          current = [];
        }
        current.push(event);
      }
      if (streams.length >= pageSize) {
        yield streams;
        streams = [];
      }
    }
    if (current.length > 0) streams.push(current);
    if (streams.length > 0) yield streams;
    await client.query('COMMIT');
    clean = true;
  } finally {
    // A COPY that failed or was left mid-way (the replay failed) leaves the connection unusable:
    // stop reading ahead, end the COPY's generator, destroy the connection.
    if (!clean) {
      await ahead?.close();
      await batches?.return(undefined).catch(() => undefined);
    }
    client.release(!clean);
  }
}

async function* pagedStreams(trx: Transaction<Database>, pageSize: number): AsyncGenerator<ReportStream[]> {
  // Each report stream starts at version 1: walk those through the (stream_id, version) index,
  // then read the page's streams in one statement (readStreams, not one per stream).
  const readPage = async (after: string) => {
    const ids = await trx
      .selectFrom('events')
      .select('stream_id')
      .where('stream_version', '=', 1)
      .where('stream_id', '>', after)
      .where('stream_id', 'like', `${REPORT_STREAM_PREFIX}%`)
      .orderBy('stream_id')
      .limit(pageSize)
      .execute();
    if (ids.length === 0) return null;
    const byStream = await readStreams(
      trx,
      ids.map((r) => r.stream_id),
    );
    return [...byStream.values()];
  };
  let page = readPage(REPORT_STREAM_PREFIX);
  for (;;) {
    const streams = await page;
    if (!streams) return;
    // The next page's reads go out now: the database runs them while this page is folded and
    // written (one connection: the statements queue; the work overlaps). Awaited above next
    // time round, unless the replay failed first.
    page = readPage(streams.at(-1)![0]!.streamId);
    page.catch(() => undefined);
    yield streams;
  }
}
