/**
 * A synthetic log for benchmarks, written fast: hashes computed in JS with the real chainHash, GROUP
 * report streams at a time each taken through PER_STREAM events (ReportRequested, ReportRendered,
 * then ReportFailed at stage replicate), so a stream's previous event is ~GROUP events back in
 * commit order. The rows go into the real `events` table (all its indexes and triggers) one
 * transaction per group of streams: with `url`, by COPY FROM STDIN on a connection of its own,
 * written while the next rows are hashed (2–3× faster than INSERT … unnest for the server, which
 * parses no arrays); without it, by INSERT … unnest, 10,000 rows a statement.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database } from '../../src/database/schema.js';
import { chainHash, GENESIS_HASH } from '../../src/events/hash-chain.js';
import type { RecordedEvent } from '../../src/events/recorded-event.js';
import { statusRow } from '../../src/projections/report-rows.js';
import { foldReport, type ReportState } from '../../src/reports/report-state.js';
import type { PersonalData } from '../../src/reports/personal-data.js';
import type { ReportDataKeysTable } from '../../src/database/schema.js';
import type { Insertable } from 'kysely';

export const PER_STREAM = 10;
const GROUP = 20_000;
const INSERT_ROWS = 10_000;
const COLUMNS = ['event_id', 'stream_id', 'stream_version', 'type', 'schema_version', 'data', 'metadata', 'recorded_at', 'prev_hash', 'hash'] as const;

export interface GenerateOptions {
  /** The database's connection string: write by COPY (fast). Without it, INSERT … unnest. */
  url?: string;
  /**
   * Also write each report's report_status row, folded by the projection's own fold (what a
   * rebuild would write), so the projection grows with the log without a rebuild at every size.
   */
  projection?: boolean;
  /**
   * One stream in `renderBacklogEvery` fails at stage render instead (its events after the request
   * are ReportFailed, render, with a retry due): a backlog of due render work that grows with the
   * log (0: none).
   */
  renderBacklogEvery?: number;
  /**
   * Encrypt each request's title and params under a data key of its own, written to
   * report_data_keys, as the service does (personal-data.ts); default: in clear.
   */
  personalData?: PersonalData;
}

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

/** A field in COPY's text format: backslash, tab, newline and carriage return escaped. */
const copyText = (s: string) => (/[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!) : s);

/** Where a group's rows go: one COPY (one transaction) per group, or unnest statements. */
interface Sink {
  row(r: GenRow): Promise<void>;
  endGroup(): Promise<void>;
  close(): Promise<void>;
}

async function copySink(url: string): Promise<Sink> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let stream: ReturnType<typeof copyFrom> | undefined;
  let done: Promise<unknown> | undefined;
  let pending: string[] = [];
  const write = async () => {
    if (!stream) {
      stream = client.query(copyFrom(`COPY events (${COLUMNS.join(', ')}) FROM STDIN`));
      done = once(stream, 'finish');
      done.catch(() => {});
    }
    // Waits for the socket when the server is behind; otherwise yields, so the socket is written
    // while the next rows are hashed.
    if (!stream.write(pending.join(''))) await Promise.race([once(stream, 'drain'), done]);
    else await new Promise(setImmediate);
    pending = [];
  };
  return {
    async row(r) {
      pending.push(`${r.event_id}\t${r.stream_id}\t${r.stream_version}\t${r.type}\t1\t${copyText(r.data)}\t${copyText(r.metadata)}\t${r.recorded_at}\t${r.prev_hash}\t${r.hash}\n`);
      if (pending.length >= 1000) await write();
    },
    async endGroup() {
      if (pending.length > 0) await write();
      if (!stream) return;
      stream.end();
      await done;
      stream = undefined;
    },
    close: () => client.end(),
  };
}

function unnestSink(db: Kysely<Database>): Sink {
  let buffer: GenRow[] = [];
  const flush = async () => {
    if (buffer.length > 0) await insert(db, buffer);
    buffer = [];
  };
  return {
    async row(r) {
      buffer.push(r);
      if (buffer.length >= INSERT_ROWS) await flush();
    },
    endGroup: flush,
    close: async () => {},
  };
}

export async function generate(db: Kysely<Database>, total: number, options: GenerateOptions = {}): Promise<void> {
  const sink = options.url ? await copySink(options.url) : unnestSink(db);
  const backlogEvery = options.renderBacklogEvery ?? 0;
  let t = Date.UTC(2026, 0, 1);
  let made = 0;
  try {
    while (made < total) {
      const streams = Math.min(GROUP, Math.ceil((total - made) / PER_STREAM));
      const ids = Array.from({ length: streams }, () => randomUUID());
      const prev = new Array<string>(streams).fill(GENESIS_HASH);
      const states = new Array<ReportState | null>(streams).fill(null);
      const dataKeys: Insertable<ReportDataKeysTable>[] = [];
      for (let v = 1; v <= PER_STREAM && made < total; v++) {
        for (let s = 0; s < streams && made < total; s++) {
          const reportId = ids[s]!;
          const streamId = `report-${reportId}`;
          const recordedAt = new Date(t++);
          const renderFails = backlogEvery > 0 && s % backlogEvery === 0;
          const request = { reportId, template: 'table', title: 'Quarterly revenue by region', params: { columns: ['region', 'revenue'], rows: 120 }, owner: `user-${s % 500}` };
          const encrypted = v === 1 && options.personalData ? options.personalData.encrypt(request) : null;
          if (encrypted) dataKeys.push(encrypted.dataKey.row);
          const [type, data] =
            v === 1
              ? ['ReportRequested', encrypted ? encrypted.data : request]
              : v === 2 && !renderFails
                ? ['ReportRendered', { sha256: 'ab'.repeat(32), bytes: 48_213, pages: 3, renderMs: 412, rendererVersion: 'bench' }]
                : renderFails
                  ? ['ReportFailed', { stage: 'render', error: 'renderer timed out', attempt: v - 1, retryAt: new Date(t + 60_000).toISOString() }]
                  : ['ReportFailed', { stage: 'replicate', error: 'object store unavailable', attempt: v - 2, retryAt: new Date(t + 60_000).toISOString() }];
          const metadata = { region: 'iad', actor: `user-${s % 500}`, correlationId: reportId, requestId: `req-${made}` };
          const eventId = randomUUID();
          const hash = chainHash(prev[s]!, { eventId, streamId, streamVersion: v, type, schemaVersion: 1, data, metadata, recordedAt });
          await sink.row({ event_id: eventId, stream_id: streamId, stream_version: v, type, data: JSON.stringify(data), metadata: JSON.stringify(metadata), recorded_at: recordedAt.toISOString(), prev_hash: prev[s]!, hash });
          if (options.projection) {
            const event = { eventId, streamId, streamVersion: v, type, schemaVersion: 1, data, metadata, recordedAt, prevHash: prev[s]!, hash } as unknown as RecordedEvent;
            states[s] = foldReport([event], states[s] ?? null);
          }
          prev[s] = hash;
          made++;
        }
      }
      await sink.endGroup();
      for (let i = 0; i < dataKeys.length; i += 1000) await db.insertInto('report_data_keys').values(dataKeys.slice(i, i + 1000)).execute();
      if (options.projection) {
        const rows = states.flatMap((s) => (s ? [statusRow(s)] : []));
        for (let i = 0; i < rows.length; i += 1000) await db.insertInto('report_status').values(rows.slice(i, i + 1000)).execute();
      }
      process.stderr.write(`\rgenerated ${made} events`);
    }
  } finally {
    await sink.close();
  }
  process.stderr.write('\n');
}
