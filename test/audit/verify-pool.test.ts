import { sql } from 'kysely';
import type { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sealPending } from '../../src/audit/seal.js';
import { checkRows, packRows, unpackRows } from '../../src/audit/row-checks.js';
import { EVENT_COPY_COLUMNS, toEventRow, type TextRow } from '../../src/events/copy-rows.js';
import { verifyLog, verifyReadAhead } from '../../src/audit/verify.js';
import { EVENT_COLUMNS, safeEvents } from '../../src/events/safe-read.js';
import { recomputedHash } from '../../src/audit/log-checks.js';
import { unreadableReason } from '../../src/events/read.js';
import { positionedLeafHash } from '../../src/audit/merkle.js';
import { ReadAhead } from '../../src/shared/read-ahead.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { testSigner, testTrust } from '../support/seal-key.js';
import { untilAllSafe } from '../support/safe-log.js';
import { seedLog, tamper } from './support.js';

const dying = new URL('../support/dying-hash-worker.js', import.meta.url);
const throwing = new URL('../support/throwing-hash-worker.js', import.meta.url);

describe.each(backends)('verify on a worker pool, on %s', (kind) => {
  let database: TestDatabase;
  beforeEach(async () => {
    database = await openTestDatabase(kind);
    await seedLog(database);
    await untilAllSafe(database.db);
    await sealPending(database.db, { signer: testSigner, maxEvents: 6 });
  });
  afterEach(() => database?.close());
  const verify = (options: Parameters<typeof verifyLog>[1]) => verifyLog(database.db, { cursor: kind === 'postgres', ...testTrust, ...options });

  it('reads the text columns into exactly the rows the driver returns, and judges them as the row checks do', async () => {
    // A timestamp with microseconds (tampered: quire writes milliseconds) must turn into the same Date too.
    await tamper(database.db, () => sql`UPDATE events SET recorded_at = recorded_at + interval '1.234567 seconds' WHERE stream_version = 2`.execute(database.db));
    const parsed = await safeEvents(database.db).select(EVENT_COLUMNS).execute();
    const text = await safeEvents(database.db).select(EVENT_COPY_COLUMNS).execute();
    expect(text.map(toEventRow)).toEqual(parsed);
    expect(unpackRows(structuredClone(packRows(text)))).toEqual(text);
    const verdicts = checkRows(text);
    const changed = parsed.flatMap((r, i) => (recomputedHash(r) === r.hash ? [] : [[i, recomputedHash(r)]]));
    expect(changed.length).toBe(5);
    expect(verdicts.changed).toEqual(changed);
    expect(verdicts.unreadable).toEqual(parsed.flatMap((r, i) => (unreadableReason(r) === null ? [] : [[i, unreadableReason(r)]])));
    expect(Buffer.from(verdicts.leaves)).toEqual(Buffer.concat(parsed.map((r) => positionedLeafHash(r.global_position, r.hash))));
  });

  it('judges rows as the driver\'s Date of their text did, whatever the recorded_at text and the session time zone', async () => {
    // recorded_at goes from text to ISO without a Date on the fast path (recorded-at.ts): years
    // before 1000 and BC, microseconds, and a session not in UTC take the parser; all must agree.
    await tamper(database.db, async () => {
      await sql`UPDATE events SET recorded_at = timestamptz '0500-03-01 01:02:03.456+00' WHERE stream_version = 2`.execute(database.db);
      await sql`UPDATE events SET recorded_at = timestamptz '0044-03-15 12:00:00+00 BC' WHERE stream_version = 3 AND global_position % 2 = 0`.execute(database.db);
      await sql`UPDATE events SET recorded_at = recorded_at + interval '1.000999 seconds' WHERE stream_version = 4`.execute(database.db);
    });
    // The path before: the driver's Date of the text (toEventRow), then the row checks of read.ts and log-checks.ts.
    const before = (text: TextRow[]) => {
      const rows = text.map(toEventRow);
      return {
        changed: rows.flatMap((r, i) => (recomputedHash(r) === r.hash ? [] : [[i, recomputedHash(r)]])),
        unreadable: rows.flatMap((r, i) => (unreadableReason(r) === null ? [] : [[i, unreadableReason(r)]])),
        leaves: Buffer.concat(rows.map((r) => positionedLeafHash(r.global_position, r.hash))),
      };
    };
    for (const zone of [sql`'UTC'`, sql`INTERVAL '+05:30' HOUR TO MINUTE`, sql`INTERVAL '-08:00' HOUR TO MINUTE`]) {
      const text = await database.db.transaction().execute(async (trx) => {
        await sql`SET LOCAL TIME ZONE ${zone}`.execute(trx);
        return safeEvents(trx).select(EVENT_COPY_COLUMNS).execute();
      });
      const reference = before(text);
      const tampered = text.flatMap((r, i) => (r.stream_version === 2 || r.stream_version === 4 || (r.stream_version === 3 && r.global_position % 2 === 0) ? [i] : []));
      expect(reference.changed.map(([i]) => i)).toEqual(tampered);
      expect(checkRows(text)).toEqual(reference);
    }
  });

  it('a worker that dies fails the verify loudly, whether it exits or throws', async () => {
    await expect(verify({ workers: 2, batchSize: 2, workerUrl: dying })).rejects.toThrow(/hash worker died \(exit code 3\)/);
    await expect(verify({ workers: 1, batchSize: 2, workerUrl: throwing })).rejects.toThrow(/hash worker died \(Error: boom in the hash worker\)/);
  });

  it('ends its threads: none is left running after a verify, clean or failed', async () => {
    const started: Worker[] = [];
    const exited = new Set<Worker>();
    const onWorker = (w: Worker) => {
      started.push(w);
      w.once('exit', () => exited.add(w));
    };
    process.on('worker', onWorker);
    try {
      expect(await verify({ workers: 2, batchSize: 4 })).toMatchObject({ ok: true, events: 20 });
      await expect(verify({ workers: 2, batchSize: 2, workerUrl: dying })).rejects.toThrow();
    } finally {
      process.off('worker', onWorker);
    }
    expect(started.length).toBe(4);
    // verifyLog returned after terminate() resolved: every thread has already exited.
    expect(started.filter((w) => !exited.has(w))).toEqual([]);
  });
});

describe('read-ahead between the reader and the checks', () => {
  it('keeps at most `bound` items waiting, hands them over in order, and ends', async () => {
    let read = 0;
    let taken = 0;
    let mostAhead = 0;
    const ahead = new ReadAhead(async () => {
      mostAhead = Math.max(mostAhead, read - taken);
      return read < 50 ? read++ : null;
    }, 3);
    const seen: number[] = [];
    for (let item = await ahead.take(); item !== null; item = await ahead.take()) {
      taken++;
      seen.push(item);
      await new Promise((r) => setImmediate(r)); // a slow consumer: the reader runs ahead as far as it may
    }
    await ahead.close();
    expect(seen).toEqual([...Array(50).keys()]);
    // Waiting items plus the one being read.
    expect(mostAhead).toBeLessThanOrEqual(3 + 1);
    expect(mostAhead).toBeGreaterThanOrEqual(3);
    expect(verifyReadAhead(0)).toBe(1);
    expect(verifyReadAhead(3)).toBe(6);
  });

  it('fails the take after the items read before a failed read; close waits for a read in flight', async () => {
    let n = 0;
    const failing = new ReadAhead(async () => {
      if (n === 2) throw new Error('connection lost');
      return n++;
    }, 5);
    expect(await failing.take()).toBe(0);
    expect(await failing.take()).toBe(1);
    await expect(failing.take()).rejects.toThrow('connection lost');

    let finished = false;
    const slow = new ReadAhead(async () => {
      await new Promise((r) => setTimeout(r, 20));
      finished = true;
      return 1;
    }, 1);
    await slow.close();
    expect(finished).toBe(true);
  });
});
