import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventStore } from '../../src/events/event-store.js';
import { backends, openTestDatabase, silentLog, type TestDatabase } from '../support/databases.js';
import { collect, waitFor } from '../support/collect.js';
import { newReportStream, requested } from '../support/fixtures.js';
import { holdingProjection, readEverything } from '../support/log-reading.js';
import { untilAllSafe } from '../support/safe-log.js';

describe.each(backends)('reading the global log on %s', (kind) => {
  let database: TestDatabase;
  let store: EventStore;
  const holder = holdingProjection();

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    store = new EventStore({
      db: database.db,
      notifier: database.notifier,
      region: 'iad',
      log: silentLog,
      projections: [holder.projection],
      pollMs: 200,
    });
  });
  afterAll(() => database?.close());

  it('pages through the log in order with checkpoints', async () => {
    const start = await store.headCheckpoint();
    const streams = Array.from({ length: 4 }, newReportStream);
    for (const s of streams) await store.append(s.streamId, 'no_stream', [requested(s.reportId)]);
    // Other databases' transactions on a shared PostgreSQL hold fresh events back from a safe read a while.
    await untilAllSafe(database.db);
    const events = await readEverything((after) => store.readAll(after, 3), start);
    expect(events.map((e) => e.streamId)).toEqual(streams.map((s) => s.streamId));
    expect(await store.headCheckpoint()).toEqual(events.at(-1)!.checkpoint);
  });

  it('keeps commit order when transaction ids grow a digit (999 → 1000): xids compare as numbers', async () => {
    const start = await store.headCheckpoint();
    const appended = [];
    for (let i = 0; i < 320; i++) {
      const s = newReportStream();
      appended.push((await store.append(s.streamId, 'no_stream', [requested(s.reportId)])).events[0]!);
    }
    await untilAllSafe(database.db);
    const read = await readEverything((after) => store.readAll(after, 3), start);
    expect(read.map((e) => e.eventId)).toEqual(appended.map((e) => e.eventId));
    const xids = read.map((e) => BigInt(e.checkpoint.transactionId));
    for (let i = 1; i < xids.length; i++) expect(xids[i]! > xids[i - 1]!).toBe(true);
    expect(await store.headCheckpoint()).toEqual(read.at(-1)!.checkpoint);
    if (kind === 'pglite') {
      // A fresh PGlite starts near xid 750: this run must cross into four digits to prove anything.
      expect(new Set(read.map((e) => e.checkpoint.transactionId.length)).size).toBeGreaterThan(1);
    }
  });

  it('never skips a transaction that took a lower position but committed later', async () => {
    const start = await store.headCheckpoint();
    const controller = new AbortController();
    const live = collect(store.subscribe({ after: start, signal: controller.signal }), controller);

    const slow = newReportStream();
    const hold = holder.hold(slow.streamId);
    const slowAppend = store.append(slow.streamId, 'no_stream', [requested(slow.reportId)]);
    await hold.inside;

    const fast = Array.from({ length: 3 }, newReportStream);
    const fastAppends = fast.map((s) => store.append(s.streamId, 'no_stream', [requested(s.reportId)]));
    const fastIds = fast.map((s) => s.streamId).sort();

    try {
      if (kind === 'postgres') {
        // The later transactions commit while the first is still open...
        await Promise.all(fastAppends);
        const committed = await sql<{ stream_id: string }>`
          SELECT stream_id FROM events WHERE global_position > ${start.globalPosition}`.execute(database.db);
        // ...so a reader trusting global_position alone would see them now and step past the held one.
        expect(committed.rows.map((r) => r.stream_id).sort()).toEqual(fastIds);
        // The safe read waits instead.
        expect((await store.readAll(start)).events).toEqual([]);
        await new Promise((r) => setTimeout(r, 400));
        expect(live.events).toEqual([]);
      }
    } finally {
      hold.release();
    }
    const slowResult = await slowAppend;
    await Promise.all(fastAppends);

    await untilAllSafe(database.db);
    const all = await readEverything((after) => store.readAll(after, 3), start);
    expect(all[0]!.streamId).toBe(slow.streamId);
    expect(all.slice(1).map((e) => e.streamId).sort()).toEqual(fastIds);
    expect(slowResult.events[0]!.globalPosition).toBeLessThan(all[1]!.globalPosition);

    await waitFor(() => live.events.length >= 4, 10_000, 'the subscriber to receive 4 events');
    await new Promise((r) => setTimeout(r, 500));
    await live.stop();
    expect(live.events.map((e) => e.eventId)).toEqual(all.map((e) => e.eventId));
  });
});
