import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RenderPool } from '../../src/render/render-pool.js';
import { reportStreamId } from '../../src/reports/report-state.js';
import { tracingEnabled } from '../../src/telemetry/spans.js';
import { startTracing, type Tracing } from '../../src/telemetry/tracing.js';
import { gqlHttp } from '../graphql/client.js';
import { CreateDownloadUrlDocument, RequestReportDocument } from '../graphql/gql/graphql.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { freePort, startInstance, type Instance } from '../support/instances.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';

const input = { template: 'table', title: 'Traced', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] } };

describe.each(backends)('one report, one trace across two instances on %s', (kind) => {
  let database: TestDatabase;
  let pool: RenderPool;
  let receiver: OtlpReceiver;
  let tracing: Tracing | undefined;
  let iad: Instance;
  let lax: Instance;
  let objectsDir: string;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    pool = new RenderPool({ size: 1 });
    receiver = await startOtlpReceiver();
    objectsDir = mkdtempSync(join(tmpdir(), 'quire-objects-'));
    const [pIad, pLax] = [await freePort(), await freePort()];
    // Not on Fly: a link to the other machine's volume is a 307 to it.
    const env = { OBJECTS_DIR: objectsDir, REGION_URLS: `iad=http://127.0.0.1:${pIad},lax=http://127.0.0.1:${pLax}`, FLY_REPLAY: 'false' };
    iad = await startInstance(kind, database, 'iad', pIad, env, pool);
    lax = await startInstance(kind, database, 'lax', pLax, env, pool);
  });

  afterAll(async () => {
    await tracing?.shutdown();
    for (const instance of [iad, lax]) await instance?.close();
    await pool?.close();
    await receiver?.close();
    await database?.close();
    rmSync(objectsDir, { recursive: true, force: true });
  });

  it('off by default: no span, no traceparent in the event metadata', async () => {
    expect(tracingEnabled()).toBe(false);
    const token = await iad.runtime.userTokens.sign({ id: 'alice', role: 'user' }, 600);
    const res = await gqlHttp(iad.http.url, RequestReportDocument, { input: { ...input, title: 'Untraced' } }, token);
    const { reportId } = (res.data!.requestReport as { data: { reportId: string } }).data;
    const [event] = await iad.runtime.store.readStream(reportStreamId(reportId));
    expect(event!.metadata.traceparent).toBeUndefined();
    expect(await lax.workers.render.drain()).toBe(1);
    expect(await lax.workers.replicate!.drain()).toBe(1);
    expect((await lax.runtime.store.readStream(reportStreamId(reportId))).every((e) => e.metadata.traceparent === undefined)).toBe(true);
  });

  it('request on iad, render on lax, download resolved on iad and served by lax after a 307: one trace', async () => {
    tracing = await startTracing({ endpoint: receiver.url, instance: 'test', region: 'test' });
    const token = await iad.runtime.userTokens.sign({ id: 'alice', role: 'user' }, 600);

    const asked = await gqlHttp(iad.http.url, RequestReportDocument, { input }, token);
    const { reportId } = (asked.data!.requestReport as { data: { reportId: string } }).data;
    const [requested] = await iad.runtime.store.readStream(reportStreamId(reportId));
    const traceparent = requested!.metadata.traceparent!;
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const traceId = traceparent.split('-')[1]!;

    // Another instance renders and stores it on its volume.
    expect(await lax.workers.render.drain()).toBe(1);
    // The client's download request carries a trace of its own: the resolution joins the report's, linked to it.
    const clientTrace = `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`;
    const download = await gqlHttp(iad.http.url, CreateDownloadUrlDocument, { reportId }, token, { headers: { traceparent: clientTrace } });
    const { url, source } = (download.data!.createDownloadUrl as { data: { url: string; source: string } }).data;
    expect(source).toBe('REMOTE_VOLUME');
    const hop = await fetch(url, { redirect: 'manual' });
    expect(hop.status).toBe(307);
    const location = hop.headers.get('location')!;
    expect(location.startsWith(lax.http.url)).toBe(true);
    const served = await fetch(location);
    expect(served.status).toBe(200);
    await served.arrayBuffer();
    // Then the copy to the object store, on the machine holding the file.
    expect(await lax.workers.replicate!.drain()).toBe(1);

    await tracing.flush();
    const trace = receiver.spans.filter((s) => s.traceId === traceId);
    const named = (name: string, machine?: string) => trace.filter((s) => s.name === name && (machine === undefined || s.attributes['quire.machine'] === machine));
    const one = (name: string, machine?: string): ReceivedSpan => {
      const found = named(name, machine);
      expect(found, `${name} on ${machine ?? 'any machine'}`).toHaveLength(1);
      return found[0]!;
    };
    expect(receiver.rejected).toEqual([]);

    // The request: HTTP server span → GraphQL operation → requestReport → append, on iad.
    const root = one('POST /graphql');
    expect(root.parentSpanId).toBe('');
    const operation = one('graphql.mutation RequestReport');
    expect(operation.parentSpanId).toBe(root.spanId);
    const request = one('requestReport');
    expect(request.parentSpanId).toBe(operation.spanId);
    expect(request.attributes['quire.report_id']).toBe(reportId);
    const appended = named('append', 'iad-1');
    expect(appended).toHaveLength(1);
    expect(appended[0]!.parentSpanId).toBe(request.spanId);
    expect(traceparent.split('-')[2]).toBe(appended[0]!.spanId);

    // The render and store on lax continue it, and their append is the replicate's parent.
    const render = one('render', 'lax-1');
    expect(render.parentSpanId).toBe(appended[0]!.spanId);
    expect(one('store', 'lax-1').parentSpanId).toBe(render.spanId);
    const renderAppend = named('append', 'lax-1').find((s) => s.parentSpanId === render.spanId);
    expect(renderAppend).toBeDefined();
    const replicate = one('replicate', 'lax-1');
    expect(replicate.parentSpanId).toBe(renderAppend!.spanId);
    expect(named('append', 'lax-1').some((s) => s.parentSpanId === replicate.spanId)).toBe(true);

    // The download: resolved on iad (linked to the client's trace), then /files on iad (the 307) and on lax (the bytes).
    const resolution = one('downloadUrl', 'iad-1');
    expect(resolution.parentSpanId).toBe(appended[0]!.spanId);
    expect(resolution.links.map((l) => l.traceId)).toContain('ab'.repeat(16));
    expect(one('serveFile', 'iad-1').parentSpanId).toBe(appended[0]!.spanId);
    expect(one('serveFile', 'lax-1').parentSpanId).toBe(appended[0]!.spanId);

    // One trace, both machines; every parent is in it.
    const machines = new Set(trace.map((s) => s.attributes['quire.machine']).filter(Boolean));
    expect([...machines].sort()).toEqual(['iad-1', 'lax-1']);
    const ids = new Set(trace.map((s) => s.spanId));
    for (const span of trace) if (span.parentSpanId) expect(ids.has(span.parentSpanId), span.name).toBe(true);
    // The token of the /files link is in no span.
    const token64 = new URL(url).pathname.split('/').pop()!;
    expect(JSON.stringify(receiver.spans)).not.toContain(token64);
    // The events carry the trace beside their other metadata.
    const events = await lax.runtime.store.readStream(reportStreamId(reportId));
    expect(events.map((e) => e.metadata.traceparent?.split('-')[1])).toEqual(events.map(() => traceId));
  });
});
