import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyTextValue, parseCopyText } from '../../src/events/copy-text.js';
import { EVENT_COPY_COLUMNS, FOLD_COPY_COLUMNS, parseFoldRows, parseTextRows } from '../../src/events/copy-rows.js';
import { checkCopy, checkRows, unpackOrderRows, ORDER_FIELDS } from '../../src/audit/row-checks.js';
import { sealPending } from '../../src/audit/seal.js';
import { verifyLog } from '../../src/audit/verify.js';
import { postgresPoolOf } from '../../src/database/pool-of.js';
import { copyOutBatches } from '../../src/database/copy-out.js';
import { EVENT_COLUMNS, safeEvents } from '../../src/events/safe-read.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { untilAllSafe } from '../support/safe-log.js';
import { testSigner, testTrust } from '../support/seal-key.js';
import { rechain, seedLog, tamper, type StoredRow } from './support.js';

// Values COPY's text format must escape: a tab and a newline would otherwise end a field or a row.
const AWKWARD = 'tab\there, newline\nthere, cr\r, backslash \\ and \\N and \\t, quote " , nul-ish \\u0000, bell \u0007, del \u007f, ü é 中文 😀 \u2028';

describe('COPY text format', () => {
  it('undoes the escapes PostgreSQL writes, reads \\N as NULL, and refuses any other escape', () => {
    expect(copyTextValue('plain')).toBe('plain');
    expect(copyTextValue('\\N')).toBeNull();
    expect(copyTextValue('a\\tb\\nc\\rd\\\\e\\bf\\fg\\vh')).toBe('a\tb\nc\rd\\e\bf\fg\vh');
    expect(copyTextValue('\\\\N')).toBe('\\N');
    // Octal and hex escapes stand for bytes; PostgreSQL never writes them in COPY TO output.
    expect(() => copyTextValue('\\101')).toThrow(/unexpected escape/);
    expect(() => copyTextValue('\\x41')).toThrow(/unexpected escape/);
    expect(() => copyTextValue('trailing\\')).toThrow(/unexpected escape/);
  });

  it('splits rows and fields only at real newlines and tabs, and refuses a row cut short or of another width', () => {
    const text = new TextEncoder().encode('1\ta\\tb\t\\N\n2\tü😀\tc\\nd\n');
    expect(parseCopyText(text, 3)).toEqual([
      ['1', 'a\tb', null],
      ['2', 'ü😀', 'c\nd'],
    ]);
    expect(() => parseCopyText(new TextEncoder().encode('1\ta\t'), 3)).toThrow(/whole row/);
    expect(() => parseCopyText(new TextEncoder().encode('1\ta\n'), 3)).toThrow(/2 fields, expected 3/);
    expect(() => parseCopyText(new TextEncoder().encode('1\ta\tb\tc\n'), 3)).toThrow(/more than 3 fields/);
    // Not UTF-8: refused, never replaced by U+FFFD and hashed.
    expect(() => parseCopyText(new Uint8Array([0x31, 0x09, 0xff, 0x09, 0x32, 0x0a]), 3)).toThrow();
  });

  it('reads a row of events only whole and without NULLs, in column order', () => {
    const line = (fields: string[]) => new TextEncoder().encode(`${fields.join('\t')}\n`);
    const row = ['7', 'e-1', 'report-1', '2', 'ReportFailed', '1', '{"a": "t\\\\tb"}', '{}', '2026-12-03 16:00:00.123456+00', '42', 'p', 'h'];
    expect(parseTextRows(line(row))).toEqual([
      { global_position: 7, event_id: 'e-1', stream_id: 'report-1', stream_version: 2, type: 'ReportFailed', schema_version: 1, data: '{"a": "t\\tb"}', metadata: '{}', recorded_at: '2026-12-03 16:00:00.123456+00', transaction_id: '42', prev_hash: 'p', hash: 'h' },
    ]);
    expect(() => parseTextRows(line(row.map((f, i) => (i === 7 ? '\\N' : f))))).toThrow(/metadata is NULL/);
    expect(() => parseTextRows(line(row.slice(0, 11)))).toThrow(/11 fields, expected 12/);
    expect(() => parseTextRows(line([...row, 'x']))).toThrow(/more than 12 fields/);
    // The columns a replay folds, decoded as the driver would: JSON parsed, recorded_at a Date.
    const fold = ['7', 'report-1', '2', 'ReportFailed', '1', '{"a": "t\\\\tb"}', '{}', '2026-12-03 16:00:00.123456+00'];
    expect(parseFoldRows(line(fold))).toEqual([
      { global_position: 7, stream_id: 'report-1', stream_version: 2, type: 'ReportFailed', schema_version: 1, data: { a: 't\tb' }, metadata: {}, recorded_at: new Date('2026-12-03T16:00:00.123Z') },
    ]);
    expect(() => parseFoldRows(line(fold.map((f, i) => (i === 5 ? '\\N' : f))))).toThrow(/data is NULL/);
    expect(() => parseFoldRows(line(row))).toThrow(/more than 8 fields/);
  });

  it('reads a batch of many pieces (decoded 64 KB at a time) exactly as decoding it whole would', () => {
    // The reference: the whole batch through the fatal decoder, split where the real newlines and tabs are.
    const whole = (bytes: Uint8Array) =>
      new TextDecoder('utf-8', { fatal: true })
        .decode(bytes)
        .split('\n')
        .slice(0, -1)
        .map((line) => line.split('\t').map(copyTextValue));
    const escaped = AWKWARD.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
    // Rows of varied lengths, so that multi-byte characters fall on every side of the 64 KB marks,
    // and a row longer than a piece.
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) lines.push(`${i}\t${'😀é中'.repeat(i % 37)}${escaped}\t${i % 500 === 7 ? 'x'.repeat(70_000) : '\\N'}\n`);
    const bytes = new TextEncoder().encode(lines.join(''));
    expect(bytes.length).toBeGreaterThan(4 * 64 * 1024);
    const rows = parseCopyText(bytes, 3);
    expect(rows.length).toBe(3000);
    expect(rows).toEqual(whole(bytes));
    expect(rows[1]![1]).toBe(`😀é中${AWKWARD}`);
    // Bad bytes anywhere, not only in the first piece, are refused; so is a last row cut short.
    const bad = bytes.slice();
    bad[bad.length - 10] = 0xff;
    expect(() => parseCopyText(bad, 3)).toThrow(/not valid for encoding utf-8/);
    expect(() => parseCopyText(bytes.subarray(0, bytes.length - 1), 3)).toThrow(/whole row/);
    // A leading byte order mark is dropped, as the decoder drops it.
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('1\ta\tb\n')]);
    expect(parseCopyText(bom, 3)).toEqual([['1', 'a', 'b']]);
  });
});

describe.each(backends.filter((k) => k === 'postgres'))('verify by COPY on %s', (kind) => {
  let database: TestDatabase;
  beforeEach(async () => {
    database = await openTestDatabase(kind);
  });
  afterEach(() => database?.close());
  const pool = () => postgresPoolOf(database.db)!;

  /** The whole safe log as COPY text, in one buffer. */
  async function copyText(columns: typeof EVENT_COPY_COLUMNS | typeof FOLD_COPY_COLUMNS = EVENT_COPY_COLUMNS): Promise<Uint8Array> {
    const client = await pool().connect();
    try {
      const parts: Uint8Array[] = [];
      for await (const batch of copyOutBatches(client, safeEvents(database.db).select(columns).compile().sql, 1 << 20)) parts.push(batch);
      return new Uint8Array(Buffer.concat(parts));
    } finally {
      client.release();
    }
  }

  it('reads awkward text and JSON through COPY into exactly the rows the driver returns; a log holding them verifies clean', async () => {
    const { streamIds } = await seedLog(database, 2, 3);
    await untilAllSafe(database.db);
    // Legitimately awkward content: rewritten, then re-chained, before anything is sealed.
    const streamId = streamIds[0]!;
    const stream = (await sql<StoredRow>`SELECT * , transaction_id::text AS transaction_id FROM events WHERE stream_id = ${streamId} ORDER BY stream_version`.execute(database.db)).rows;
    const awkward = stream.map((r, i) =>
      i === 0 ? { ...r, data: { ...r.data, title: AWKWARD }, metadata: { ...r.metadata, requestId: AWKWARD } } : r,
    );
    await tamper(database.db, async () => {
      for (const r of rechain(awkward)) {
        await sql`UPDATE events SET data = ${JSON.stringify(r.data)}::jsonb, metadata = ${JSON.stringify(r.metadata)}::jsonb, prev_hash = ${r.prev_hash}, hash = ${r.hash} WHERE global_position = ${r.global_position}`.execute(database.db);
      }
    });
    const driver = await safeEvents(database.db).select(EVENT_COPY_COLUMNS).execute();
    expect(driver.some((r) => r.data.includes('\\t') && r.metadata.includes('😀'))).toBe(true);
    const copied = parseTextRows(await copyText());
    expect(copied).toEqual(driver);
    // In one pass, the rows the driver returns for the columns a replay folds, as stored.
    const folded = ['global_position', 'stream_id', 'stream_version', 'type', 'schema_version', 'data', 'metadata', 'recorded_at'] as const;
    expect(parseFoldRows(await copyText(FOLD_COPY_COLUMNS))).toEqual(await safeEvents(database.db).select(folded).execute());
    const { verdicts, order } = checkCopy(await copyText());
    expect(verdicts).toEqual(checkRows(driver));
    expect(unpackOrderRows(order)).toEqual(driver.map((r) => Object.fromEntries(ORDER_FIELDS.map((f) => [f, r[f]]))));

    await sealPending(database.db, { signer: testSigner, maxEvents: 4 });
    for (const workers of [0, 2]) {
      const report = await verifyLog(database.db, { cursor: true, ...testTrust, batchSize: 2, workers });
      expect(report.problems).toEqual([]);
      expect(report).toMatchObject({ ok: true, events: 6, seals: 2, sealedEvents: 6 });
    }
  });

  it('finds a tampered awkward row as FETCH does, in batches cut at row ends', async () => {
    await seedLog(database);
    await untilAllSafe(database.db);
    await sealPending(database.db, { signer: testSigner, maxEvents: 6 });
    const victim = (await sql<{ global_position: number }>`SELECT global_position FROM events ORDER BY global_position OFFSET 7 LIMIT 1`.execute(database.db)).rows[0]!;
    await tamper(database.db, () => sql`UPDATE events SET data = jsonb_set(data, '{attempt}', ${JSON.stringify(AWKWARD)}::jsonb) WHERE global_position = ${victim.global_position}`.execute(database.db));
    const options = { cursor: true, ...testTrust, batchSize: 2, workers: 2 };
    const copied = await verifyLog(database.db, options);
    const fetched = await verifyLog(database.db, { ...options, copy: false });
    expect(copied.problems).toContainEqual(expect.objectContaining({ kind: 'CONTENT', position: Number(victim.global_position) }));
    expect({ ...copied, durationMs: 0 }).toEqual({ ...fetched, durationMs: 0 });
  });

  it('with a pool of one connection it verifies by FETCH: COPY would wait for a second connection', async () => {
    const single = await openTestDatabase(kind, { poolMax: 1 });
    try {
      await seedLog(single, 2, 2);
      await untilAllSafe(single.db);
      const report = await Promise.race([
        verifyLog(single.db, { cursor: true, ...testTrust }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('verify waited for a second connection')), 10_000)),
      ]);
      expect(report).toMatchObject({ ok: true, events: 4 });
    } finally {
      await single.close();
    }
  });

  it('a COPY that fails mid-way throws from the next batch, after whole rows only', async () => {
    const client = await pool().connect();
    let batches = 0;
    try {
      // ~8 MB of rows, then a division by zero: the server has streamed most of it by then.
      const failing = `SELECT g, repeat('x', 200) || CASE WHEN g = 40000 THEN (1 / (g - g))::text ELSE '' END FROM generate_series(1, 40000) AS g`;
      await expect(
        (async () => {
          for await (const batch of copyOutBatches(client, failing, 64 * 1024)) {
            expect(batch.at(-1)).toBe(0x0a);
            expect(parseCopyText(batch, 2).every(([g, x]) => Number(g) > 0 && x!.length === 200)).toBe(true);
            batches++;
          }
        })(),
      ).rejects.toThrow(/division by zero/);
    } finally {
      client.release(true);
    }
    expect(batches).toBeGreaterThan(10);
  });

  it('a COPY connection lost mid-way fails the verify, and no connection is left behind', async () => {
    // A log far larger than the socket buffers (~40 MB of COPY text), so the COPY is still running
    // when its backend is terminated. The rows need not verify: the verify must throw, not report.
    await tamper(database.db, () =>
      sql`INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, data, metadata, recorded_at, prev_hash, hash)
          SELECT gen_random_uuid(), 'bulk-' || g, 1, 'ReportRequested', 1, jsonb_build_object('pad', repeat('x', 1000)), '{}', now(), repeat('0', 64), repeat('f', 64)
          FROM generate_series(1, 40000) AS g`.execute(database.db),
    );
    await untilAllSafe(database.db);
    let killed = false;
    const verifying = verifyLog(database.db, {
      cursor: true,
      ...testTrust,
      workers: 1,
      batchSize: 50,
      maxProblems: 1,
      onProgress: () => {
        if (killed) return;
        killed = true;
        void sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY (select%'`.execute(database.db);
      },
    });
    await expect(verifying).rejects.toThrow();
    expect(killed).toBe(true);
    // The broken connection was destroyed, not returned to the pool: every connection is idle again.
    const p = pool();
    expect(p.totalCount - p.idleCount).toBe(0);
    expect((await verifyLog(database.db, { cursor: true, ...testTrust, maxProblems: 1 })).events).toBe(40000);
  }, 60_000);
});
