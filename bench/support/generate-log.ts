/**
 * A synthetic log for benchmarks, written fast: hashes computed in JS with the real chainHash, rows
 * inserted 10,000 per statement (unnest), GROUP report streams at a time each taken through
 * PER_STREAM events (ReportRequested, ReportRendered, then ReportFailed at stage replicate), so a
 * stream's previous event is ~GROUP events back in commit order.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/database/schema.js';
import { chainHash, GENESIS_HASH } from '../../src/events/hash-chain.js';

export const PER_STREAM = 10;
const GROUP = 20_000;
const INSERT_ROWS = 10_000;

interface GenRow {
  event_id: string;
  stream_id: string;
  stream_version: number;
  type: string;
  data: string;
  metadata: string;
  recorded_at: string;
  prev_hash: string;
  hash: string;
}

async function insert(db: Kysely<Database>, rows: GenRow[]): Promise<void> {
  const col = <K extends keyof GenRow>(k: K) => rows.map((r) => r[k]);
  await sql`
    INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, data, metadata, recorded_at, prev_hash, hash)
    SELECT * FROM unnest(${col('event_id')}::uuid[], ${col('stream_id')}::text[], ${col('stream_version')}::bigint[], ${col('type')}::text[],
      array_fill(1, ARRAY[${rows.length}::int]), ${col('data')}::jsonb[], ${col('metadata')}::jsonb[], ${col('recorded_at')}::timestamptz[],
      ${col('prev_hash')}::text[], ${col('hash')}::text[])`.execute(db);
}

export async function generate(db: Kysely<Database>, total: number): Promise<void> {
  let t = Date.UTC(2026, 0, 1);
  let made = 0;
  let buffer: GenRow[] = [];
  const flush = async () => {
    if (buffer.length > 0) await insert(db, buffer);
    buffer = [];
  };
  while (made < total) {
    const streams = Math.min(GROUP, Math.ceil((total - made) / PER_STREAM));
    const ids = Array.from({ length: streams }, () => randomUUID());
    const prev = new Array<string>(streams).fill(GENESIS_HASH);
    for (let v = 1; v <= PER_STREAM && made < total; v++) {
      for (let s = 0; s < streams && made < total; s++) {
        const reportId = ids[s]!;
        const streamId = `report-${reportId}`;
        const recordedAt = new Date(t++);
        const [type, data] =
          v === 1
            ? ['ReportRequested', { reportId, template: 'table', title: 'Quarterly revenue by region', params: { columns: ['region', 'revenue'], rows: 120 }, owner: `user-${s % 500}` }]
            : v === 2
              ? ['ReportRendered', { sha256: 'ab'.repeat(32), bytes: 48_213, pages: 3, renderMs: 412, rendererVersion: 'bench' }]
              : ['ReportFailed', { stage: 'replicate', error: 'object store unavailable', attempt: v - 2, retryAt: new Date(t + 60_000).toISOString() }];
        const metadata = { region: 'iad', actor: `user-${s % 500}`, correlationId: reportId, requestId: `req-${made}` };
        const eventId = randomUUID();
        const hash = chainHash(prev[s]!, { eventId, streamId, streamVersion: v, type, schemaVersion: 1, data, metadata, recordedAt });
        buffer.push({ event_id: eventId, stream_id: streamId, stream_version: v, type, data: JSON.stringify(data), metadata: JSON.stringify(metadata), recorded_at: recordedAt.toISOString(), prev_hash: prev[s]!, hash });
        prev[s] = hash;
        made++;
        if (buffer.length >= INSERT_ROWS) await flush();
      }
    }
    process.stderr.write(`\rgenerated ${made} events`);
  }
  await flush();
  process.stderr.write('\n');
}

