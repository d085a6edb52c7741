import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { openLiveSubscriptions } from '../../src/api/graphql/live-subscription.js';
import { closedWith, gqlHttp, gqlWs, subscribe } from '../graphql/client.js';
import { EventsTailDocument, MeDocument, MigrationProgressLiveDocument, ReportStatusDocument, RevokeTokensDocument } from '../graphql/gql/graphql.js';
import { sseSubscribe } from '../graphql/sse.js';
import { waitFor } from '../support/collect.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';

/** The GraphQL errors a graphql-ws subscription ended with. */
function wsErrors(error: unknown): Array<{ message: string; extensions?: { code?: string } }> {
  return Array.isArray(error) ? error : [];
}

describe.each(backends)('tokens end, roles are checked at subscribe time, revocation (%s)', (kind) => {
  let database: TestDatabase;
  let a: TestRuntime;
  let b: TestRuntime;
  let httpA: HttpServer;
  let httpB: HttpServer;
  let admin: string;
  let auditor: string;
  const finished = randomUUID();

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    // Two instances on one database: a revocation made through one reaches the other by its refresh.
    a = await startTestRuntime(kind, { WORKERS_ENABLED: 'false', TOKEN_REVOCATION_REFRESH_MS: '500' }, { database });
    b = await startTestRuntime(kind, { WORKERS_ENABLED: 'false', TOKEN_REVOCATION_REFRESH_MS: '500', MACHINE_ID: 'iad-2' }, { database });
    httpA = await startHttpServer(a, 0, '127.0.0.1');
    httpB = await startHttpServer(b, 0, '127.0.0.1');
    admin = await a.userTokens.sign({ id: 'ada', role: 'admin' }, 600);
    auditor = await a.userTokens.sign({ id: 'audrey', role: 'auditor' }, 600);
    // A report whose render failed for good: its stream will never change again.
    await a.store.append(`report-${finished}`, 'no_stream', [
      { type: 'ReportRequested', data: { reportId: finished, template: 'table', title: 'Done', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 'x' }] }, owner: 'alice' } },
      { type: 'ReportFailed', data: { stage: 'render', error: 'out of paper', attempt: 1, retryAt: null } },
    ]);
  }, 60_000);

  afterAll(async () => {
    await httpA?.close();
    await httpB?.close();
    await a?.close();
    await b?.close();
    await database?.close();
  });

  it('an open subscription ends with UNAUTHENTICATED at its token’s expiry, on graphql-ws and SSE', async () => {
    const shortLived = await a.userTokens.sign({ id: 'alice', role: 'user' }, 3);
    const expiresAtMs = decodeJwt(shortLived).exp! * 1000;
    const ws = gqlWs(httpA.url, shortLived);
    try {
      const wsSub = subscribe(ws, ReportStatusDocument, { id: finished });
      const sse = await sseSubscribe(httpA.url, ReportStatusDocument, { id: finished }, shortLived);
      await wsSub.waitFor((r) => r.reportStatus.status === 'FAILED');
      expect((await sse.received(1))[0]!.data?.reportStatus.status).toBe('FAILED');

      const wsEnd = await wsSub.done(20_000);
      await sse.done(20_000);
      expect(Date.now()).toBeGreaterThanOrEqual(expiresAtMs);
      expect(wsErrors(wsEnd.error)[0]).toMatchObject({ message: 'the bearer token has expired', extensions: { code: 'UNAUTHENTICATED' } });
      expect(sse.results.at(-1)!.errors?.[0]).toMatchObject({ message: 'the bearer token has expired', extensions: { code: 'UNAUTHENTICATED' } });
      expect(wsSub.data).toHaveLength(1);
      expect(sse.results).toHaveLength(2);
    } finally {
      await ws.dispose();
    }
    await waitFor(() => openLiveSubscriptions() === 0, 10_000, 'no live subscription left');
  });

  it('a user opening the auditors’ subscriptions is refused once, before anything streams', async () => {
    const alice = await a.userTokens.sign({ id: 'alice', role: 'user' }, 600);
    const hubBefore = httpA.hub.listenerCount;
    const notifierBefore = a.database.notifier.listenerCount('quire_events');
    const ws = gqlWs(httpA.url, alice);
    try {
      for (const document of [EventsTailDocument, MigrationProgressLiveDocument] as const) {
        const wsSub = subscribe(ws, document as typeof EventsTailDocument, { after: '0:0' });
        // One result carrying the refusal, then complete: no data, no stream.
        const ended = await wsSub.done();
        expect(ended.error).toBeUndefined();
        expect(wsSub.results).toHaveLength(1);
        expect(wsSub.results[0]!.data ?? null).toBeNull();
        expect(wsSub.results[0]!.errors).toEqual([expect.objectContaining({ message: 'your role does not allow this', extensions: { code: 'FORBIDDEN' } })]);

        const sse = await sseSubscribe(httpA.url, document as typeof EventsTailDocument, { after: '0:0' }, alice);
        await sse.done();
        expect(sse.results).toHaveLength(1);
        expect(sse.results[0]!.data ?? null).toBeNull();
        expect(sse.results[0]!.errors).toEqual([expect.objectContaining({ message: 'your role does not allow this', extensions: { code: 'FORBIDDEN' } })]);
      }
      // Nothing was registered to follow the log for them.
      expect(openLiveSubscriptions()).toBe(0);
      expect(httpA.hub.listenerCount).toBe(hubBefore);
      expect(a.database.notifier.listenerCount('quire_events')).toBe(notifierBefore);
      // An auditor is let in.
      const audit = subscribe(ws, MigrationProgressLiveDocument, {});
      expect(audit.results).toEqual([]);
      const auditWs = gqlWs(httpA.url, auditor);
      const allowed = subscribe(auditWs, MigrationProgressLiveDocument, {});
      await allowed.waitFor((p) => p.migrationProgress.total === 0);
      allowed.close();
      audit.close();
      await auditWs.dispose();
    } finally {
      await ws.dispose();
    }
    await waitFor(() => openLiveSubscriptions() === 0, 10_000, 'no live subscription left');
  });

  it('revokeTokens: admins only, exactly one of jti and subject', async () => {
    const user = await a.userTokens.sign({ id: 'mallory', role: 'user' }, 600);
    const refused = await gqlHttp(httpA.url, RevokeTokensDocument, { subject: 'alice' }, user);
    expect(refused.data?.revokeTokens).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    const refusedAuditor = await gqlHttp(httpA.url, RevokeTokensDocument, { subject: 'alice' }, auditor);
    expect(refusedAuditor.data?.revokeTokens).toMatchObject({ __typename: 'ForbiddenError' });
    for (const args of [{}, { jti: 'x', subject: 'y' }, { jti: 'has space' }, { subject: 'x'.repeat(201) }]) {
      const bad = await gqlHttp(httpA.url, RevokeTokensDocument, args, admin);
      expect(bad.data?.revokeTokens).toMatchObject({ __typename: 'InvalidParamsError', code: 'INVALID_PARAMS' });
    }
    expect(await database.db.selectFrom('token_revocations').selectAll().execute()).toEqual([]);
    // Mallory's own token still works: nothing was revoked.
    expect((await gqlHttp(httpA.url, MeDocument, {}, user)).status).toBe(200);
  });

  it('a revoked token is UNAUTHENTICATED on HTTP, WS and SSE, on this instance at once and on another within the refresh interval; open subscriptions end', async () => {
    const victim = await a.userTokens.sign({ id: 'alice', role: 'user' }, 600);
    const other = await a.userTokens.sign({ id: 'alice', role: 'user' }, 600);
    // Both instances have the token verified and cached.
    for (const http of [httpA, httpB]) expect((await gqlHttp(http.url, MeDocument, {}, victim)).status).toBe(200);
    const wsA = gqlWs(httpA.url, victim);
    const wsB = gqlWs(httpB.url, victim);
    try {
      const subA = subscribe(wsA, ReportStatusDocument, { id: finished });
      const subB = subscribe(wsB, ReportStatusDocument, { id: finished });
      const sseA = await sseSubscribe(httpA.url, ReportStatusDocument, { id: finished }, victim);
      const sseB = await sseSubscribe(httpB.url, ReportStatusDocument, { id: finished }, victim);
      await subA.waitFor();
      await subB.waitFor();
      await sseA.received(1);
      await sseB.received(1);

      const jti = decodeJwt(victim).jti!;
      const revoked = await gqlHttp(httpA.url, RevokeTokensDocument, { jti }, admin);
      expect(revoked.data?.revokeTokens).toMatchObject({ __typename: 'MutationRevokeTokensSuccess', data: { jti, subject: null, revokedBy: 'ada' } });

      // This instance: at once.
      const me = await gqlHttp(httpA.url, MeDocument, {}, victim);
      expect(me).toMatchObject({ status: 401, errors: [{ message: 'the bearer token has been revoked', extensions: { code: 'UNAUTHENTICATED' } }] });
      // Every open subscription ends (B's within its refresh interval).
      for (const sub of [subA, subB]) {
        const ended = await sub.done(10_000);
        expect(wsErrors(ended.error)[0]).toMatchObject({ message: 'the bearer token has been revoked', extensions: { code: 'UNAUTHENTICATED' } });
      }
      for (const sse of [sseA, sseB]) {
        await sse.done(10_000);
        expect(sse.results.at(-1)!.errors?.[0]).toMatchObject({ message: 'the bearer token has been revoked', extensions: { code: 'UNAUTHENTICATED' } });
      }
      for (const http of [httpA, httpB]) {
        expect((await gqlHttp(http.url, MeDocument, {}, victim)).status).toBe(401);
        const refusedSse = await sseSubscribe(http.url, ReportStatusDocument, { id: finished }, victim);
        await refusedSse.done();
        expect(refusedSse.status).toBe(401);
        expect(refusedSse.results[0]!.errors?.[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
        const ws = gqlWs(http.url, victim);
        expect((await closedWith(ws)).code).toBe(4403);
        await ws.dispose();
        const download = await fetch(`${http.url}/reports/${finished}/download`, { headers: { authorization: `Bearer ${victim}` } });
        expect(download.status).toBe(401);
      }
      // Another token of the same subject is untouched by a jti revocation.
      expect((await gqlHttp(httpB.url, MeDocument, {}, other)).status).toBe(200);
    } finally {
      await wsA.dispose();
      await wsB.dispose();
    }
  });

  it('a token verified before is still checked for expiry and revocation on every HTTP request (the fast path without a promise)', async () => {
    const token = await a.userTokens.sign({ id: 'erin', role: 'user' }, 2);
    const header = `Bearer ${token}`;
    // Not verified yet: the fast path does not answer, the full check does.
    expect(a.userTokens.knownFromHeader(header)).toBeUndefined();
    expect(await gqlHttp(httpA.url, MeDocument, {}, token)).toMatchObject({ status: 200, data: { me: { id: 'erin' } } });
    expect(a.userTokens.knownFromHeader(header)?.actor).toEqual({ id: 'erin', role: 'user' });
    expect(a.userTokens.knownFromHeader('Bearer not-a-token')).toBeUndefined();
    await waitFor(() => a.userTokens.knownFromHeader(header) === undefined, 5_000, 'the cached token to expire');
    expect(await gqlHttp(httpA.url, MeDocument, {}, token)).toMatchObject({ status: 401, errors: [{ message: 'the bearer token has expired', extensions: { code: 'UNAUTHENTICATED' } }] });

    const revokedLater = await a.userTokens.sign({ id: 'erin', role: 'user' }, 600);
    expect((await gqlHttp(httpA.url, MeDocument, {}, revokedLater)).status).toBe(200);
    expect(a.userTokens.knownFromHeader(`Bearer ${revokedLater}`)).toBeDefined();
    await gqlHttp(httpA.url, RevokeTokensDocument, { jti: decodeJwt(revokedLater).jti! }, admin);
    expect(a.userTokens.knownFromHeader(`Bearer ${revokedLater}`)).toBeUndefined();
    expect(await gqlHttp(httpA.url, MeDocument, {}, revokedLater)).toMatchObject({ status: 401, errors: [{ message: 'the bearer token has been revoked' }] });
  });

  it('the Bearer scheme in any case and spacing (RFC 9110), the first time and from the cache; a revocation refuses every spelling', async () => {
    const token = await a.userTokens.sign({ id: 'fran', role: 'user' }, 600);
    const me = (authorization: string) =>
      fetch(`${httpA.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify({ query: '{ me { id } }' }) }).then(async (r) => [r.status, await r.text()]);
    const spellings = [`bearer ${token}`, `Bearer ${token}`, `BEARER  ${token}`, `bEaReR\t${token}`];
    // The first (lower-case) goes through the full check, the others hit the cache.
    for (const spelling of spellings) expect(await me(spelling)).toEqual([200, '{"data":{"me":{"id":"fran"}}}']);
    for (const refused of [`Basic ${token}`, `Bearer ${token}, Bearer ${token}`, `Bearer${token}`]) expect((await me(refused))[0]).toBe(401);
    await gqlHttp(httpA.url, RevokeTokensDocument, { jti: decodeJwt(token).jti! }, admin);
    for (const spelling of spellings) expect((await me(spelling))[0]).toBe(401);
  });

  it('revoking a subject ends every token issued to it until now, not the ones signed afterwards', async () => {
    const before = [await a.userTokens.sign({ id: 'bob', role: 'user' }, 600), await b.userTokens.sign({ id: 'bob', role: 'auditor' }, 600)];
    const carol = await a.userTokens.sign({ id: 'carol', role: 'user' }, 600);
    const ws = gqlWs(httpB.url, before[1]!);
    try {
      const tail = subscribe(ws, EventsTailDocument, {});
      await waitFor(() => openLiveSubscriptions() === 1, 10_000, 'the tail to be open');
      const revoked = await gqlHttp(httpA.url, RevokeTokensDocument, { subject: 'bob' }, admin);
      expect(revoked.data?.revokeTokens).toMatchObject({ __typename: 'MutationRevokeTokensSuccess', data: { jti: null, subject: 'bob' } });
      const ended = await tail.done(10_000);
      expect(wsErrors(ended.error)[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
      for (const token of before) {
        await waitFor(async () => (await gqlHttp(httpB.url, MeDocument, {}, token)).status === 401, 10_000, 'instance B to refuse');
        expect((await gqlHttp(httpA.url, MeDocument, {}, token)).status).toBe(401);
      }
      expect((await gqlHttp(httpA.url, MeDocument, {}, carol)).status).toBe(200);
      // A token signed after the revocation's second is valid.
      const cutOff = new Date(revoked.data!.revokeTokens.__typename === 'MutationRevokeTokensSuccess' ? revoked.data!.revokeTokens.data.issuedBefore! : 0).getTime();
      await waitFor(() => Date.now() >= Math.floor(cutOff / 1000) * 1000 + 1000, 5_000, 'the next second');
      const after = await a.userTokens.sign({ id: 'bob', role: 'user' }, 600);
      expect((await gqlHttp(httpB.url, MeDocument, {}, after)).status).toBe(200);
    } finally {
      await ws.dispose();
    }
    await waitFor(() => openLiveSubscriptions() === 0 && a.revocations.listenerCount === 0 && b.revocations.listenerCount === 0, 10_000, 'no watcher left');
    // Revocations are not history: nothing went to the event log.
    expect(await countEventsByType(a)).toEqual({ ReportRequested: 1, ReportFailed: 1 });
  });
});
