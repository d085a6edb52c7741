import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Actor } from '../../src/actor.js';
import { ConflictError } from '../../src/errors.js';
import type { EventStore } from '../../src/events/event-store.js';
import type { InlineProjection } from '../../src/events/inline-projection.js';
import { reportProjection } from '../../src/projections/report-projection.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { configuredPersonalData } from '../../src/reports/personal-data.js';
import { requestReport } from '../../src/reports/request-report.js';
import { backends, openTestDatabase, testStore, type TestDatabase } from '../support/databases.js';
import { newReportStream, requested } from '../support/fixtures.js';
import { TEST_DATA_ENCRYPTION_KEY } from '../support/runtime.js';

const personalData = configuredPersonalData({ dataEncryptionKey: TEST_DATA_ENCRYPTION_KEY, dataDir: '' });
const alice: Actor = { id: 'alice', role: 'user' };
const mallory: Actor = { id: 'mallory', role: 'user' };
const input = (title: string, idempotencyKey?: string) => ({
  template: 'table',
  title,
  params: { columns: [{ label: 'Name', key: 'name' }], rows: [{ name: title }] },
  ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
});

/** Refuses (throws inside the append's transaction) every request of `mallory`: an append that fails after its events were written. */
const refuseMallory: InlineProjection = {
  name: 'refuse-mallory',
  async apply(_trx, events) {
    if (events.some((e) => e.type === 'ReportRequested' && (e.data as { owner: string }).owner === mallory.id)) throw new Error('refused');
  },
};

/**
 * requestReport writes its data key in the transaction of its ReportRequested append (through group
 * commit): one commit per request, shared by concurrent ones, and a key exists iff its request does.
 */
describe.each(backends)('a report request commits once, with its data key, on %s', (kind) => {
  let database: TestDatabase;
  let store: EventStore;
  let single: EventStore;
  /** Held by the blocker's batch while the appends to test queue behind it (one batch in flight). */
  let gate: Promise<void> = Promise.resolve();
  const holdBlocker: InlineProjection = {
    name: 'hold-blocker',
    async apply(_trx, events) {
      if (events.some((e) => (e.data as { owner?: string }).owner === 'blocker')) await gate;
    },
  };

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    const projections = [holdBlocker, refuseMallory, reportProjection(personalData)];
    store = testStore(database, { personalData, projections, groupCommit: { maxInFlight: 1 } });
    single = testStore(database, { personalData, projections, groupCommit: false });
  });
  afterAll(() => database?.close());

  /**
   * Every data key belongs to a ReportRequested in the log and every encrypted ReportRequested has
   * its key: nothing orphaned, nothing unreadable.
   */
  afterEach(async () => {
    const orphanKeys = await sql<{ report_id: string }>`
      SELECT k.report_id FROM report_data_keys AS k
      WHERE NOT EXISTS (SELECT 1 FROM events AS e WHERE e.stream_id = 'report-' || k.report_id::text AND e.type = 'ReportRequested')`.execute(database.db);
    expect(orphanKeys.rows).toEqual([]);
    const keyless = await sql<{ stream_id: string }>`
      SELECT e.stream_id FROM events AS e
      WHERE e.type = 'ReportRequested' AND e.data ? 'personal'
        AND NOT EXISTS (SELECT 1 FROM report_data_keys AS k WHERE 'report-' || k.report_id::text = e.stream_id)`.execute(database.db);
    expect(keyless.rows).toEqual([]);
  });

  /** The transaction that wrote a report's data key (its xmin) and the one that wrote its ReportRequested. */
  const writers = async (reportId: string) => {
    const { rows } = await sql<{ key: string; event: string }>`
      SELECT k.xmin::text AS key, (e.transaction_id::text::bigint % 4294967296)::text AS event
      FROM report_data_keys AS k JOIN events AS e ON e.stream_id = 'report-' || k.report_id::text AND e.stream_version = 1
      WHERE k.report_id = ${reportId}`.execute(database.db);
    return rows;
  };
  const keyCount = async (reportId: string) =>
    Number((await database.db.selectFrom('report_data_keys').select((eb) => eb.fn.countAll<string>().as('n')).where('report_id', '=', reportId).executeTakeFirstOrThrow()).n);

  /** Runs `requests` while a blocker's batch holds the one slot: they queue and form the next batch. */
  const inOneBatch = async <T>(requests: Array<() => Promise<T>>) => {
    let release!: () => void;
    gate = new Promise((resolve) => (release = resolve));
    const { reportId, streamId } = newReportStream();
    const blocker = store.append(streamId, 'no_stream', [requested(reportId, 'blocker')]);
    const settled = Promise.allSettled(requests.map((r) => r()));
    // Long enough for each request's reads (a keyed one looks its key up first) to reach the queue.
    await new Promise((resolve) => setTimeout(resolve, 300));
    release();
    await blocker;
    return settled;
  };

  it('one transaction writes the request, its data key and its report; with or without group commit', async () => {
    for (const via of [store, single]) {
      const { reportId } = await requestReport(via, input('Alone'), alice);
      const [written] = await writers(reportId);
      expect(written!.key).toBe(written!.event);
      expect((await loadReportState(database.db, reportId))?.title).toBe('Alone');
    }
  });

  it('concurrent requests in one group commit: one transaction, each with its own data key', async () => {
    const results = await inOneBatch(Array.from({ length: 5 }, (_, i) => () => requestReport(store, input(`Batched ${i}`), alice)));
    const ids = results.map((r) => (r as PromiseFulfilledResult<{ reportId: string }>).value.reportId);
    expect(results.map((r) => r.status)).toEqual(Array(5).fill('fulfilled'));
    const written = await Promise.all(ids.map(async (id) => (await writers(id))[0]!));
    expect(new Set(written.flatMap((w) => [w.key, w.event])).size).toBe(1);
    const keys = await database.db.selectFrom('report_data_keys').select('wrapped_key').where('report_id', 'in', ids).execute();
    expect(new Set(keys.map((k) => k.wrapped_key)).size).toBe(5);
    for (const [i, id] of ids.entries()) expect((await loadReportState(database.db, id))?.title).toBe(`Batched ${i}`);
  });

  it('an append that fails inside a group commit fails alone, and writes no key; the others keep theirs', async () => {
    const results = await inOneBatch([
      () => requestReport(store, input('Kept A'), alice),
      () => requestReport(store, input('Refused'), mallory),
      () => requestReport(store, input('Kept B'), alice),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'refused' });
    for (const [i, title] of [[0, 'Kept A'], [2, 'Kept B']] as const) {
      const { reportId } = (results[i] as PromiseFulfilledResult<{ reportId: string }>).value;
      // Written again on its own after the batch rolled back: still one transaction for both.
      const [written] = await writers(reportId);
      expect(written!.key).toBe(written!.event);
      expect((await loadReportState(database.db, reportId))?.title).toBe(title);
    }
    const mallorys = await database.db.selectFrom('events').select('stream_id').where(sql<boolean>`data->>'owner' = ${mallory.id}`).execute();
    expect(mallorys).toEqual([]);
  });

  it('a failed append leaves no key, without group commit too', async () => {
    const before = await database.db.selectFrom('report_data_keys').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    await expect(requestReport(single, input('Refused alone'), mallory)).rejects.toThrow('refused');
    await expect(requestReport(store, input('Refused alone'), mallory)).rejects.toThrow('refused');
    const after = await database.db.selectFrom('report_data_keys').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it('the same key at once: one report, one data key (the first request’s), the same answer; a different request with it is a conflict and writes no key', async () => {
    const twins = await inOneBatch(Array.from({ length: 4 }, () => () => requestReport(store, input('Twin', 'twin-1'), alice)));
    expect(twins.map((r) => r.status)).toEqual(Array(4).fill('fulfilled'));
    const answers = twins.map((r) => (r as PromiseFulfilledResult<{ reportId: string; streamId: string }>).value);
    expect(new Set(answers.map((a) => a.reportId)).size).toBe(1);
    const { reportId, streamId } = answers[0]!;
    expect(await keyCount(reportId)).toBe(1);
    expect((await store.readStream(streamId)).map((e) => e.type)).toEqual(['ReportRequested']);
    const [first] = await store.reveal(await store.readStream(streamId));
    expect(first!.data).toMatchObject({ title: 'Twin' });

    // Retried later, and raced by a different request with the same key: the same report, still one key.
    const racing = await inOneBatch([() => requestReport(store, input('Twin', 'twin-1'), alice), () => requestReport(store, input('Not the twin', 'twin-1'), alice)]);
    expect(racing[0]).toMatchObject({ status: 'fulfilled', value: { reportId } });
    expect((racing[1] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    expect(await keyCount(reportId)).toBe(1);
    expect((await store.reveal(await store.readStream(streamId)))[0]!.data).toMatchObject({ title: 'Twin' });

    // A new key raced by different requests: one wins with its own data key, the others conflict.
    const race = await inOneBatch(['Racer 0', 'Racer 1', 'Racer 2'].map((title) => () => requestReport(store, input(title, 'race-1'), alice)));
    const won = race.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ reportId: string; streamId: string }>[];
    expect(won).toHaveLength(1);
    expect(race.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof ConflictError)).toBe(true);
    expect(await keyCount(won[0]!.value.reportId)).toBe(1);
    const [winner] = await store.reveal(await store.readStream(won[0]!.value.streamId));
    expect((winner!.data as { title: string }).title).toMatch(/^Racer \d$/);
  });
});
