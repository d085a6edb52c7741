/**
 * npm run bench:append — events/s and latency through EventStore.append (group commit on and off) at 1, 8 and 32 concurrent writers
 * (distinct streams; the service's request path: data key + encrypted request + report projection; and one hot stream), against a raw INSERT of the same row shape into a plain
 * table on the same database in the same run. PostgreSQL from DATABASE_URL (a scratch database is
 * created beside it), and embedded PGlite.
 *
 *   BENCH_SECONDS=3 npm run bench:append        seconds per case (default 3)
 *   BENCH_BACKENDS=postgres,pglite               which backends (default: both when DATABASE_URL is set)
 *   BENCH_STREAMS=service                        which cases (default: distinct,service,hot)
 */
import { randomUUID, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sql, type Kysely } from 'kysely';
import type { DatabaseKind } from '../src/database/connect.js';
import { openScratchDatabase } from '../src/database/scratch-database.js';
import { EventStore } from '../src/events/event-store.js';
import { createLogger } from '../src/log.js';
import { reportProjection } from '../src/projections/report-projection.js';
import { keyEncryptionKey, PersonalData } from '../src/reports/personal-data.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WRITERS = [1, 8, 32];
const log = createLogger('silent');
const adminUrl = process.env.DATABASE_URL;
const kinds = (process.env.BENCH_BACKENDS?.split(',') ?? (adminUrl ? ['postgres', 'pglite'] : ['pglite'])) as DatabaseKind[];
const MODES = ['distinct', 'service', 'hot'] as const;
const modes = (process.env.BENCH_STREAMS?.split(',') ?? MODES) as (typeof MODES)[number][];
for (const m of modes) if (!MODES.includes(m)) throw new Error(`BENCH_STREAMS: unknown case ${m} (${MODES.join(', ')})`);

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

interface Measured {
  rate: number;
  p50: number;
  p99: number;
}
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!;

/** Runs `writers` loops of `op` for SECONDS; operations per second and the latency of each. */
async function measure(writers: number, op: (writer: number, i: number) => Promise<void>): Promise<Measured> {
  const deadline = performance.now() + SECONDS * 1000;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const t0 = performance.now();
        await op(w, i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { rate: latencies.length / ((performance.now() - started) / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

type Row = { backend: string; writers: number; streams: string; grouped: Measured; single: Measured; raw: Measured; indexed: Measured; load: string };

async function benchBackend(kind: DatabaseKind): Promise<Row[]> {
  const database = await openScratchDatabase(kind, { prefix: 'quire_bench', poolMax: 40 });
  try {
    await createRawTables(database.db);
    // Group commit (the default) and without it (each append its own statement/transaction).
    const grouped = new EventStore({ db: database.db, notifier: database.notifier, region: 'iad', log });
    const single = new EventStore({ db: database.db, notifier: database.notifier, region: 'iad', log, groupCommit: false });
    // What requestReport writes: the encrypted request, its data key's row and the report projection in one transaction.
    const personalData = new PersonalData(keyEncryptionKey('bench-data-encryption-key-0123456789abcdef'));
    const serviceOptions = { db: database.db, notifier: database.notifier, region: 'iad', log, personalData, projections: [reportProjection(personalData)] };
    const servicePath = { grouped: new EventStore(serviceOptions), single: new EventStore({ ...serviceOptions, groupCommit: false }) };
    const rows: Row[] = [];
    for (const mode of modes) {
      for (const writers of WRITERS) {
        const appendWith = (store: EventStore) => {
          const hotStream = `report-${randomUUID()}`;
          return measure(writers, async () => {
            const reportId = randomUUID();
            const streamId = mode === 'hot' ? hotStream : `report-${reportId}`;
            if (mode === 'service') {
              // As requestReport writes it: the data key alongside the encrypted request, one transaction.
              const { data, dataKey } = store.personalData.encrypt(payload(reportId));
              await store.append(streamId, 'no_stream', [{ type: 'ReportRequested', data }], {}, { alongside: [dataKey] });
            } else {
              await store.append(streamId, mode === 'hot' ? 'any' : 'no_stream', [{ type: 'ReportRequested', data: payload(reportId) }]);
            }
          });
        };
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
        // Raw first and last: the baseline brackets the two append figures in time.
        const rawBefore = await measure(writers, rawInsert('bench_raw'));
        const g = await appendWith(mode === 'service' ? servicePath.grouped : grouped);
        const one = await appendWith(mode === 'service' ? servicePath.single : single);
        const rawAfter = await measure(writers, rawInsert('bench_raw'));
        const indexed = await measure(writers, rawInsert('bench_raw_indexed'));
        const raw = { rate: (rawBefore.rate + rawAfter.rate) / 2, p50: (rawBefore.p50 + rawAfter.p50) / 2, p99: Math.max(rawBefore.p99, rawAfter.p99) };
        const row: Row = { backend: kind, writers, streams: mode, grouped: g, single: one, raw, indexed, load: loadavg() };
        console.log(
          `${kind.padEnd(8)} ${String(writers).padStart(2)} writers ${mode.padEnd(8)} group commit ${g.rate.toFixed(0)}/s (p50 ${g.p50.toFixed(1)} p99 ${g.p99.toFixed(1)} ms)  ` +
            `single ${one.rate.toFixed(0)}/s (p50 ${one.p50.toFixed(1)} p99 ${one.p99.toFixed(1)})  raw ${raw.rate.toFixed(0)}/s (p50 ${raw.p50.toFixed(1)} p99 ${raw.p99.toFixed(1)})  load ${row.load}`,
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
const ms = (m: Measured) => `${m.p50.toFixed(1)} / ${m.p99.toFixed(1)}`;
console.log('\n| backend | writers | streams | group commit /s | p50 / p99 ms | single /s | p50 / p99 ms | raw INSERT /s | p50 / p99 ms | group / raw | single / raw | group / raw with events\' indexes | load |');
console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of all) {
  console.log(
    `| ${r.backend} | ${r.writers} | ${r.streams} | ${r.grouped.rate.toFixed(0)} | ${ms(r.grouped)} | ${r.single.rate.toFixed(0)} | ${ms(r.single)} | ${r.raw.rate.toFixed(0)} | ${ms(r.raw)} | ` +
      `${(r.grouped.rate / r.raw.rate).toFixed(2)} | ${(r.single.rate / r.raw.rate).toFixed(2)} | ${(r.grouped.rate / r.indexed.rate).toFixed(2)} | ${r.load} |`,
  );
}
const target = all.find((r) => r.backend === 'postgres' && r.writers === 32 && r.streams === 'distinct');
if (target) {
  const ratio = target.grouped.rate / target.raw.rate;
  console.log(`\ntarget (postgres, 32 writers, distinct streams, group commit >= 0.8x raw INSERT; >= 1.0x stretch): ${ratio.toFixed(2)} ${ratio >= 1 ? 'MET (both)' : ratio >= 0.8 ? 'MET (0.8), not 1.0' : 'NOT MET'}`);
}
