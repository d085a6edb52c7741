import { sql } from 'kysely';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { describe, expect, it } from 'vitest';
import { SharedRateLimiter } from '../../src/api/shared-rate-limiter.js';
import { gqlHttp } from '../graphql/client.js';
import { RequestReportDocument } from '../graphql/gql/graphql.js';
import { backends } from '../support/databases.js';
import { useTwoApiMachines } from '../support/instances.js';
import { countEventsByType } from '../support/runtime.js';

const input = (title: string) => ({ template: 'table', title, params: { columns: [{ label: 'Name', key: 'name' }], rows: [{ name: 'a' }] } });

describe.each(backends)('requestReport rate limit shared by the fleet on %s', (kind) => {
  const fleet = useTwoApiMachines(kind, { REQUESTS_PER_MINUTE: '3' });

  it('one viewer’s budget is spent across both machines; another viewer keeps theirs; refused requests append nothing', async () => {
    const { iad, lax } = fleet;
    const alice = await iad.runtime.userTokens.sign({ id: 'alice', role: 'user' }, 600);
    const bob = await lax.runtime.userTokens.sign({ id: 'bob', role: 'user' }, 600);
    const typename = async (url: string, token: string, title: string) => {
      const res = await gqlHttp(url, RequestReportDocument, { input: input(title) }, token);
      expect(res.errors).toBeUndefined();
      return res.data!.requestReport;
    };

    // Per process, alice could make 3 here and 3 there; the fleet grants 3 in all.
    expect((await typename(iad.http.url, alice, 'a1')).__typename).toBe('MutationRequestReportSuccess');
    expect((await typename(lax.http.url, alice, 'a2')).__typename).toBe('MutationRequestReportSuccess');
    expect((await typename(iad.http.url, alice, 'a3')).__typename).toBe('MutationRequestReportSuccess');
    for (const url of [lax.http.url, iad.http.url]) {
      const refused = await typename(url, alice, 'a4');
      expect(refused.__typename).toBe('RateLimitedError');
      if (refused.__typename !== 'RateLimitedError') throw new Error('unreachable');
      expect(refused.code).toBe('RATE_LIMITED');
      expect(refused.retryAfterSeconds).toBeGreaterThan(0);
      expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
    }
    expect((await typename(lax.http.url, bob, 'b1')).__typename).toBe('MutationRequestReportSuccess');

    // Every report accounted for: four granted, four requested in the log, nothing else.
    expect(await countEventsByType(iad.runtime)).toEqual({ ReportRequested: 4 });
    const owners = await fleet.database.db.selectFrom('report_status').select(['owner', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('owner').orderBy('owner').execute();
    expect(owners.map((o) => [o.owner, Number(o.n)])).toEqual([
      ['alice', 3],
      ['bob', 1],
    ]);
  });

  it('concurrent consumes from two instances never grant more than the limit (one atomic upsert)', async () => {
    const a = new SharedRateLimiter(fleet.database.db, { keyPrefix: 'race', points: 5, durationSeconds: 60 });
    const b = new SharedRateLimiter(fleet.database.db, { keyPrefix: 'race', points: 5, durationSeconds: 60 });
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).consume('carol')));
    const granted = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(granted).toHaveLength(5);
    expect(refused).toHaveLength(7);
    for (const r of refused) expect(r.reason).toBeInstanceOf(RateLimiterRes);
  });

  it('a window that has ended starts afresh, and the sweep deletes only ended windows', async () => {
    const limiter = new SharedRateLimiter(fleet.database.db, { keyPrefix: 'window', points: 1, durationSeconds: 60 });
    const first = await limiter.consume('dave');
    expect(first.isFirstInDuration).toBe(true);
    expect(first.remainingPoints).toBe(0);
    expect(first.msBeforeNext).toBeGreaterThan(50_000);
    await expect(limiter.consume('dave')).rejects.toBeInstanceOf(RateLimiterRes);
    await limiter.consume('erin');
    // End dave's window as the clock would (the database's clock decides, not this process's).
    await sql`UPDATE rate_limits SET window_ends_at = now() - interval '1 second' WHERE key = 'window:dave'`.execute(fleet.database.db);
    await limiter.sweep();
    const keys = (await fleet.database.db.selectFrom('rate_limits').select('key').where('key', 'like', 'window:%').orderBy('key').execute()).map((r) => r.key);
    expect(keys).toEqual(['window:erin']);
    const again = await limiter.consume('dave');
    expect(again.isFirstInDuration).toBe(true);
    expect(again.consumedPoints).toBe(1);
  });
});
