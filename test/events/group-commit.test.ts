import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdempotencyConflictError, InvalidEventError, WrongExpectedVersionError } from '../../src/events/errors.js';
import { EventStore } from '../../src/events/event-store.js';
import { chainHash, GENESIS_HASH } from '../../src/events/hash-chain.js';
import type { RecordedEvent } from '../../src/events/recorded-event.js';
import { reportProjection } from '../../src/projections/report-projection.js';
import { configuredPersonalData } from '../../src/reports/personal-data.js';
import { TEST_DATA_ENCRYPTION_KEY } from '../support/runtime.js';

import { loadReportState } from '../../src/reports/load-report.js';
import { backends, openTestDatabase, silentLog, type TestDatabase } from '../support/databases.js';
import { failed, newReportStream, requested } from '../support/fixtures.js';

/** The report projection decrypts requests: it needs the cipher the service is given. */
const personalData = configuredPersonalData({ dataEncryptionKey: TEST_DATA_ENCRYPTION_KEY, dataDir: '' });

/**
 * Group commit: appends with a known expected version to different streams share one transaction.
 * One batch in flight (maxInFlight 1): while a first append holds it, the next ones queue and are
 * written together, which the shared transaction id shows.
 */
describe.each(backends)('group commit on %s', (kind) => {
  let database: TestDatabase;
  let store: EventStore;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    store = new EventStore({ db: database.db, notifier: database.notifier, region: 'iad', log: silentLog, projections: [reportProjection(personalData)], groupCommit: { maxInFlight: 1 } });
  });
  afterAll(() => database?.close());

  /** Starts `first`, then the others while it is in flight: they form the next batch. */
  const inOneBatch = async <T>(appends: Array<() => Promise<T>>) => {
    const { reportId, streamId } = newReportStream();
    const blocker = store.append(streamId, 'no_stream', [requested(reportId)]);
    const settled = Promise.allSettled(appends.map((a) => a()));
    await blocker;
    return settled;
  };

  /** Every event of the stream chains from the previous one (from the genesis hash), as verify checks. */
  const expectChained = async (streamId: string) => {
    const events = await store.readStream(streamId);
    let prev = GENESIS_HASH;
    for (const e of events) {
      expect(e.prevHash).toBe(prev);
      const { data, metadata } = (await database.db.selectFrom('events').select(['data', 'metadata']).where('event_id', '=', e.eventId).executeTakeFirstOrThrow()) as { data: unknown; metadata: unknown };
      expect(e.hash).toBe(chainHash(prev, { eventId: e.eventId, streamId, streamVersion: e.streamVersion, type: e.type, schemaVersion: e.schemaVersion, data, metadata, recordedAt: e.recordedAt }));
      prev = e.hash;
    }
    return events;
  };
  const transactionOf = (r: PromiseSettledResult<{ events: RecordedEvent[] }>) => (r.status === 'fulfilled' ? r.value.events[0]!.checkpoint.transactionId : null);

  it('writes new and existing streams of one batch in one transaction, each chained from its own head, projections included', async () => {
    const existing = newReportStream();
    await store.append(existing.streamId, 'no_stream', [requested(existing.reportId)]);
    const fresh = [newReportStream(), newReportStream(), newReportStream()];
    const results = await inOneBatch<{ events: RecordedEvent[]; nextExpectedVersion: number }>([
      ...fresh.map((s) => () => store.append(s.streamId, 'no_stream', [requested(s.reportId)], { actor: 'user-1' })),
      () => store.append(existing.streamId, 1, [failed(1), failed(2)]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(new Set(results.map(transactionOf)).size).toBe(1);
    expect(results.map((r) => (r as PromiseFulfilledResult<{ nextExpectedVersion: number }>).value.nextExpectedVersion)).toEqual([1, 1, 1, 3]);

    for (const s of fresh) {
      const events = await expectChained(s.streamId);
      expect(events.map((e) => [e.streamVersion, e.metadata.actor])).toEqual([[1, 'user-1']]);
      expect((await loadReportState(database.db, s.reportId))?.status).toBe('REQUESTED');
    }
    expect((await expectChained(existing.streamId)).map((e) => e.streamVersion)).toEqual([1, 2, 3]);
    expect((await loadReportState(database.db, existing.reportId))?.attempts).toBe(2);
  });

  it('encrypted requests of one batch: their data keys written alongside, the projection decrypts every title and inserts every report', async () => {
    const fresh = [newReportStream(), newReportStream(), newReportStream()];
    const encrypted = fresh.map((s, i) => personalData.encrypt({ reportId: s.reportId, template: 'table', owner: 'user-1', title: `batch title ${i}`, params: { rows: 3 } }));
    const results = await inOneBatch(
      fresh.map((s, i) => () => store.append(s.streamId, 'no_stream', [{ type: 'ReportRequested', data: encrypted[i]!.data }], {}, { alongside: [encrypted[i]!.dataKey] })),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(new Set(results.map(transactionOf)).size).toBe(1);
    for (const [i, s] of fresh.entries()) {
      const state = await loadReportState(database.db, s.reportId);
      expect([state?.status, state?.title]).toEqual(['REQUESTED', `batch title ${i}`]);
    }
  });

  it('rows alongside commit with their append: one that fails writes neither its event nor its row, the others of the batch write both', async () => {
    const taken = newReportStream();
    await store.append(taken.streamId, 'no_stream', [requested(taken.reportId)]);
    const good = [newReportStream(), newReportStream()];
    const request = (s: { reportId: string }, title: string) => personalData.encrypt({ reportId: s.reportId, template: 'table', owner: 'user-1', title, params: { rows: 3 } });
    const [a, late, b] = [request(good[0]!, 'kept 0'), request(taken, 'too late'), request(good[1]!, 'kept 1')];
    const results = await inOneBatch<unknown>([
      () => store.append(good[0]!.streamId, 'no_stream', [{ type: 'ReportRequested', data: a.data }], {}, { alongside: [a.dataKey] }),
      () => store.append(taken.streamId, 'no_stream', [{ type: 'ReportRequested', data: late.data }], {}, { alongside: [late.dataKey] }), // the stream exists
      () => store.append(good[1]!.streamId, 'no_stream', [{ type: 'ReportRequested', data: b.data }], {}, { alongside: [b.dataKey] }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);

    const keys = await database.db.selectFrom('report_data_keys').select('report_id').where('report_id', 'in', [good[0]!.reportId, taken.reportId, good[1]!.reportId]).execute();
    expect(keys.map((k) => k.report_id).sort()).toEqual([good[0]!.reportId, good[1]!.reportId].sort());
    for (const [i, s] of good.entries()) expect((await loadReportState(database.db, s.reportId))?.title).toBe(`kept ${i}`);
    expect((await loadReportState(database.db, taken.reportId))?.title).toBe('Quarterly revenue');
  });

  it('a failing append fails alone: a conflict, an idempotency mismatch and bad input; the rest of the batch commits', async () => {
    const taken = newReportStream();
    await store.append(taken.streamId, 'no_stream', [requested(taken.reportId)]);
    const reused = newReportStream();
    const eventId = randomUUID();
    await store.append(reused.streamId, 'no_stream', [{ ...requested(reused.reportId), eventId }]);
    const good = [newReportStream(), newReportStream()];
    const other = newReportStream();

    const results = await inOneBatch<unknown>([
      () => store.append(good[0]!.streamId, 'no_stream', [requested(good[0]!.reportId)]),
      () => store.append(taken.streamId, 'no_stream', [requested(taken.reportId)]), // the stream exists
      () => store.append(taken.streamId, 5, [failed(1)]), // the same stream twice: waits for the next batch, then conflicts too
      () => store.append(other.streamId, 'no_stream', [{ ...requested(other.reportId), eventId }]), // an event id already used elsewhere
      () => store.append(good[1]!.streamId, 'no_stream', [{ type: 'ReportRequested', data: { nope: true } } as never]), // invalid: refused before any batch
      () => store.append(good[1]!.streamId, 'no_stream', [requested(good[1]!.reportId)]),
    ]);
    expect(results[0]!.status).toBe('fulfilled');
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'WRONG_EXPECTED_VERSION', expected: 5, actual: 1 });
    expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(IdempotencyConflictError);
    expect((results[4] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidEventError);
    expect(results[5]!.status).toBe('fulfilled');

    // Everything accounted for: the good ones once each, nothing of the failed ones.
    for (const s of good) expect((await expectChained(s.streamId)).length).toBe(1);
    expect((await expectChained(taken.streamId)).length).toBe(1);
    expect(await store.readStream(other.streamId)).toEqual([]);
    expect((await expectChained(reused.streamId)).map((e) => e.eventId)).toEqual([eventId]);
  });

  it('the same stream twice in one window: one batch after the other, so the second sees the first', async () => {
    const s = newReportStream();
    const [a, b, c] = await inOneBatch<{ nextExpectedVersion: number }>([
      () => store.append(s.streamId, 'no_stream', [requested(s.reportId)]),
      () => store.append(s.streamId, 1, [failed(1)]),
      () => store.append(s.streamId, 1, [failed(2)]), // the same expected version again: exactly one of the two wins
    ]);
    expect(a!.status).toBe('fulfilled');
    expect([b!.status, c!.status].sort()).toEqual(['fulfilled', 'rejected']);
    const lost = [b, c].find((r) => r!.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toMatchObject({ code: 'WRONG_EXPECTED_VERSION', expected: 1, actual: 2 });
    expect((await expectChained(s.streamId)).map((e) => e.streamVersion)).toEqual([1, 2]);
  });

  it('a retried append in a batch answers with its first result; the others of the batch commit', async () => {
    const s = newReportStream();
    const events = [{ ...requested(s.reportId), eventId: randomUUID() }];
    const first = await store.append(s.streamId, 'no_stream', events);
    const fresh = newReportStream();
    const [again, other] = await inOneBatch<{ idempotent: boolean; events: RecordedEvent[] }>([
      () => store.append(s.streamId, 'no_stream', events),
      () => store.append(fresh.streamId, 'no_stream', [requested(fresh.reportId)]),
    ]);
    expect(again).toMatchObject({ status: 'fulfilled', value: { idempotent: true } });
    expect((again as PromiseFulfilledResult<{ events: RecordedEvent[] }>).value.events.map((e) => e.hash)).toEqual(first.events.map((e) => e.hash));
    expect(other!.status).toBe('fulfilled');
    expect((await expectChained(s.streamId)).length).toBe(1);
    expect((await expectChained(fresh.streamId)).length).toBe(1);
  });

  it('many writers on distinct streams and one hot stream: every append lands once, chains intact', async () => {
    const wide = new EventStore({ db: database.db, notifier: database.notifier, region: 'iad', log: silentLog, projections: [reportProjection(personalData)] });
    const streams = Array.from({ length: 40 }, () => newReportStream());
    const hot = newReportStream();
    await wide.append(hot.streamId, 'no_stream', [requested(hot.reportId)]);
    await Promise.all([
      ...streams.map(async (s) => {
        await wide.append(s.streamId, 'no_stream', [requested(s.reportId)]);
        await wide.append(s.streamId, 1, [failed(1)]);
        await wide.append(s.streamId, 2, [failed(2)]);
      }),
      ...Array.from({ length: 10 }, (_, i) => wide.append(hot.streamId, 'any', [failed(i + 1)])),
    ]);
    for (const s of streams) expect((await expectChained(s.streamId)).map((e) => e.streamVersion)).toEqual([1, 2, 3]);
    expect((await expectChained(hot.streamId)).map((e) => e.streamVersion)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
  });
});
