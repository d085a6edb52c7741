import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdempotencyConflictError, InvalidEventError, WrongExpectedVersionError } from '../../src/events/errors.js';
import type { EventStore } from '../../src/events/event-store.js';
import type { NewEvent } from '../../src/events/append.js';
import { backends, openTestDatabase, type TestDatabase, testStore } from '../support/databases.js';
import { failed, newReportStream, requested } from '../support/fixtures.js';

describe.each(backends)('append on %s', (kind) => {
  let database: TestDatabase;
  let store: EventStore;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    store = testStore(database);
  });
  afterAll(() => database?.close());

  const countEvents = async (streamId?: string) => {
    let q = database.db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n'));
    if (streamId) q = q.where('stream_id', '=', streamId);
    return Number((await q.executeTakeFirstOrThrow()).n);
  };

  it('stamps versions, region, actor and a hash chain', async () => {
    const { reportId, streamId } = newReportStream();
    const first = await store.append(streamId, 'no_stream', [requested(reportId)], { actor: 'user-1', requestId: 'req-1' });
    expect(first.nextExpectedVersion).toBe(1);
    const second = await store.append(streamId, 1, [failed(1), failed(2)]);
    expect(second.nextExpectedVersion).toBe(3);
    const events = await store.readStream(streamId);
    expect(events.map((e) => e.streamVersion)).toEqual([1, 2, 3]);
    expect(events[0]!.metadata).toEqual({ region: 'iad', actor: 'user-1', requestId: 'req-1' });
    expect(events[1]!.prevHash).toBe(events[0]!.hash);
    expect(events[2]!.prevHash).toBe(events[1]!.hash);
    expect(new Set(events.map((e) => e.hash)).size).toBe(3);
  });

  it('checks every kind of expected version', async () => {
    const { reportId, streamId } = newReportStream();
    await expect(store.append(streamId, 'stream_exists', [requested(reportId)])).rejects.toBeInstanceOf(WrongExpectedVersionError);
    await expect(store.append(streamId, 3, [requested(reportId)])).rejects.toMatchObject({ expected: 3, actual: 0 });
    await store.append(streamId, 'any', [requested(reportId)]);
    await expect(store.append(streamId, 'no_stream', [failed(1)])).rejects.toMatchObject({
      code: 'WRONG_EXPECTED_VERSION',
      actual: 1,
    });
    await store.append(streamId, 'stream_exists', [failed(1)]);
    await store.append(streamId, 2, [failed(2)]);
    expect(await countEvents(streamId)).toBe(3);
  });

  it('32 concurrent appenders to one stream write every version exactly once', async () => {
    const { reportId, streamId } = newReportStream();
    const writers = 32;
    const perWriter = 5;

    // Round one: everybody tries to create the stream; exactly one may.
    const created = await Promise.allSettled(
      Array.from({ length: writers }, () => store.append(streamId, 'no_stream', [requested(reportId)])),
    );
    const winners = created.filter((r) => r.status === 'fulfilled');
    const losers = created.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(writers - 1);
    for (const l of losers) expect(l.reason).toBeInstanceOf(WrongExpectedVersionError);

    // Round two: each writer appends its events with optimistic concurrency, retrying on conflict.
    let conflicts = 0;
    const written: string[] = [];
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        let expected = 1;
        for (let i = 0; i < perWriter; i++) {
          const eventId = randomUUID();
          const event: NewEvent = { ...failed(w * perWriter + i + 1), eventId };
          for (;;) {
            try {
              const result = await store.append(streamId, expected, [event]);
              expected = result.nextExpectedVersion;
              written.push(eventId);
              break;
            } catch (err) {
              if (!(err instanceof WrongExpectedVersionError)) throw err;
              conflicts++;
              expected = err.actual;
            }
          }
        }
      }),
    );

    const events = await store.readStream(streamId);
    expect(events.map((e) => e.streamVersion)).toEqual(Array.from({ length: 1 + writers * perWriter }, (_, i) => i + 1));
    expect(events.slice(1).map((e) => e.eventId).sort()).toEqual([...written].sort());
    expect(new Set(written).size).toBe(writers * perWriter);
    expect(conflicts).toBeGreaterThan(0);
    // The chain stays intact under contention.
    for (let i = 1; i < events.length; i++) expect(events[i]!.prevHash).toBe(events[i - 1]!.hash);
  });

  it('a retried append with the same event ids is written once', async () => {
    const { reportId, streamId } = newReportStream();
    const batch: NewEvent[] = [{ ...requested(reportId), eventId: randomUUID() }];
    const first = await store.append(streamId, 'no_stream', batch);
    const retry = await store.append(streamId, 'no_stream', batch);
    expect(first.idempotent).toBe(false);
    expect(retry.idempotent).toBe(true);
    expect(retry.events.map((e) => e.globalPosition)).toEqual(first.events.map((e) => e.globalPosition));
    expect(await countEvents(streamId)).toBe(1);

    // Concurrent copies of one append: one write, every caller gets the same answer.
    const twice: NewEvent[] = [{ ...failed(1), eventId: randomUUID() }, { ...failed(2), eventId: randomUUID() }];
    const results = await Promise.all(Array.from({ length: 8 }, () => store.append(streamId, 1, twice)));
    expect(results.filter((r) => !r.idempotent)).toHaveLength(1);
    expect(new Set(results.map((r) => r.nextExpectedVersion))).toEqual(new Set([3]));
    expect(await countEvents(streamId)).toBe(3);

    // Reusing an id for something else is refused.
    await expect(store.append(streamId, 3, [{ ...failed(9), eventId: batch[0]!.eventId! }])).rejects.toBeInstanceOf(
      IdempotencyConflictError,
    );
    expect(await countEvents(streamId)).toBe(3);
  });

  it('rejects unknown types and invalid payloads with a clear error and writes nothing', async () => {
    const { reportId, streamId } = newReportStream();
    const before = await countEvents();
    const bad: Array<[unknown, RegExp]> = [
      [{ type: 'ReportTeleported', data: {} }, /#1 type: Invalid discriminator value/],
      [{ type: 'ReportRequested', data: { reportId, template: 'table', title: '', params: {}, owner: 'u' } }, /#1 data\.title/],
      [{ type: 'ReportRendered', data: { sha256: 'nope', bytes: -1, pages: 1, renderMs: 1, rendererVersion: 'x' } }, /data\.sha256.*data\.bytes/],
      [{ type: 'ReportStoredLocal', data: { region: 'iad', key: '../../etc/passwd', sha256: 'a'.repeat(64), bytes: 1 } }, /data\.key/],
      [{ type: 'ReportFailed', data: { stage: 'render', error: 'x', attempt: 1, retryAt: null, extra: true } }, /data: Unrecognized key/],
    ];
    for (const [event, message] of bad) {
      const attempt = store.append(streamId, 'any', [requested(reportId), event as NewEvent]);
      await expect(attempt).rejects.toBeInstanceOf(InvalidEventError);
      await expect(attempt).rejects.toThrow(message);
    }
    await expect(store.append(streamId, 'any', [])).rejects.toBeInstanceOf(InvalidEventError);
    await expect(store.append('bad stream/../id', 'any', [requested(reportId)])).rejects.toMatchObject({ code: 'INVALID_STREAM_ID' });
    await expect(store.append(streamId, 'any', [{ ...requested(reportId), eventId: 'not-a-uuid' }])).rejects.toThrow(/eventId/);
    expect(await countEvents()).toBe(before);
  });
});
