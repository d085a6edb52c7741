/**
 * npm run bench:append — events/s through EventStore.append at 1, 8 and 32 concurrent writers
 * (distinct streams, and one hot stream), against a raw INSERT of the same row shape into a plain
 * table on the same database in the same run. PostgreSQL from DATABASE_URL (a scratch database is
 * created beside it), and embedded PGlite.
 *
 *   BENCH_SECONDS=3 npm run bench:append        seconds per case (default 3)
 *   BENCH_BACKENDS=postgres,pglite               which backends (default: both when DATABASE_URL is set)
 */
import { randomUUID, createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DatabaseKind } from '../src/database/connect.js';
import { openScratchDatabase } from '../src/database/scratch-database.js';
import { EventStore } from '../src/events/event-store.js';
import { createLogger } from '../src/log.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WRITERS = [1, 8, 32];
const log = createLogger('silent');
const adminUrl = process.env.DATABASE_URL;
const kinds = (process.env.BENCH_BACKENDS?.split(',') ?? (adminUrl ? ['postgres', 'pglite'] : ['pglite'])) as DatabaseKind[];

const payload = (reportId: string) => ({
  reportId,
  template: 'table',
  title: 'Quarterly revenue by region',
  params: { columns: ['region', 'revenue'], rows: 120 },
  owner: 'user-42',
});

/**
 * `bench_raw`: the same columns as `events`, no triggers, no chain, no version check — the floor.
 * `bench_raw_indexed`: the same plus the three indexes `events` needs (event id, stream version,
 * commit order), to show how much of the gap is index upkeep rather than the append path.
 */
async function createRawTables(db: Kysely<any>): Promise<void> {
  await sql`CREATE TABLE bench_raw (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id uuid NOT NULL, stream_id text NOT NULL, stream_version bigint NOT NULL, type text NOT NULL,
    schema_version integer NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL, recorded_at timestamptz NOT NULL,
    transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(), prev_hash text NOT NULL, hash text NOT NULL)`.execute(db);
  await sql`CREATE TABLE bench_raw_indexed (LIKE bench_raw INCLUDING ALL)`.execute(db);
  await sql`CREATE UNIQUE INDEX ON bench_raw_indexed (event_id)`.execute(db);
  await sql`CREATE UNIQUE INDEX ON bench_raw_indexed (stream_id, stream_version)`.execute(db);
  await sql`CREATE INDEX ON bench_raw_indexed (transaction_id, global_position)`.execute(db);
}

/** Runs `writers` loops of `op` for SECONDS; returns operations per second. */
async function measure(writers: number, op: (writer: number, i: number) => Promise<void>): Promise<number> {
  const deadline = performance.now() + SECONDS * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await op(w, i);
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

type Row = { backend: string; writers: number; streams: string; append: number; raw: number; ratio: number; indexed: number };

async function benchBackend(kind: DatabaseKind): Promise<Row[]> {
  const database = await openScratchDatabase(kind, { prefix: 'quire_bench', poolMax: 40 });
  try {
    await createRawTables(database.db);
    const store = new EventStore({ db: database.db, notifier: database.notifier, region: 'iad', log });
    const rows: Row[] = [];
    for (const mode of ['distinct', 'hot'] as const) {
      for (const writers of WRITERS) {
        const hotStream = `report-${randomUUID()}`;
        const append = await measure(writers, async () => {
          const reportId = randomUUID();
          const streamId = mode === 'hot' ? hotStream : `report-${reportId}`;
          await store.append(streamId, mode === 'hot' ? 'any' : 'no_stream', [{ type: 'ReportRequested', data: payload(reportId) }]);
        });
        const rawInsert = (table: string) => async (w: number, i: number) => {
          const reportId = randomUUID();
          const data = JSON.stringify(payload(reportId));
          await database.db
            .insertInto(table as any)
            .values({
              event_id: randomUUID(),
              stream_id: `report-${reportId}`,
              stream_version: w * 1e6 + i,
              type: 'ReportRequested',
              schema_version: 1,
              data,
              metadata: JSON.stringify({ region: 'iad', actor: null }),
              recorded_at: new Date(),
              prev_hash: '0'.repeat(64),
              hash: createHash('sha256').update(data).digest('hex'),
            })
            .execute();
        };
        const raw = await measure(writers, rawInsert('bench_raw'));
        const indexed = await measure(writers, rawInsert('bench_raw_indexed'));
        const row = { backend: kind, writers, streams: mode, append: Math.round(append), raw: Math.round(raw), ratio: append / raw, indexed: Math.round(indexed) };
        console.log(
          `${kind.padEnd(8)} ${String(writers).padStart(2)} writers ${mode.padEnd(8)} append ${String(row.append).padStart(6)}/s  raw INSERT ${String(row.raw).padStart(6)}/s  ratio ${(row.ratio * 100).toFixed(1)}%  (raw with events' indexes ${row.indexed}/s: ${((append / indexed) * 100).toFixed(1)}%)`,
        );
        rows.push(row);
      }
    }
    return rows;
  } finally {
    await database.drop();
  }
}

console.log(`bench:append — ${SECONDS} s per case, node ${process.version}, ${kinds.join(' + ')}`);
const all: Row[] = [];
for (const kind of kinds) all.push(...(await benchBackend(kind)));
console.log('\n| backend | writers | streams | append events/s | raw INSERT rows/s | append / raw | raw INSERT, events\' indexes | append / that |');
console.log('|---|---:|---|---:|---:|---:|---:|---:|');
for (const r of all) {
  console.log(`| ${r.backend} | ${r.writers} | ${r.streams} | ${r.append} | ${r.raw} | ${(r.ratio * 100).toFixed(1)}% | ${r.indexed} | ${((r.append / r.indexed) * 100).toFixed(1)}% |`);
}
const target = all.find((r) => r.backend === 'postgres' && r.writers === 32 && r.streams === 'distinct');
if (target) console.log(`\ntarget (postgres, 32 writers, distinct streams, >= 70% of raw): ${(target.ratio * 100).toFixed(1)}% ${target.ratio >= 0.7 ? 'MET' : 'NOT MET'}`);
