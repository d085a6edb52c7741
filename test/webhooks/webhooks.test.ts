import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/actor.js';
import { startHttpServer } from '../../src/api/http-server.js';
import { gqlHttp } from '../graphql/client.js';
import { RequestReportDocument } from '../graphql/gql/graphql.js';
import { rebuildAndVerifyProjections } from '../../src/projections/rebuild-verify.js';
import { InvalidParamsError } from '../../src/errors.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { requestReport } from '../../src/reports/request-report.js';
import { retryReport } from '../../src/reports/retry-report.js';
import { deleteReport } from '../../src/reports/delete-report.js';
import { eraseReport } from '../../src/reports/erase-report.js';
import { verifyLog } from '../../src/audit/verify.js';
import { Volume } from '../../src/storage/volume.js';
import { renderStage } from '../../src/workers/render-stage.js';
import { WorkLoop } from '../../src/workers/work-loop.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CallbackUrlRefusedError, checkCallbackUrlShape, isPublicAddress } from '../../src/webhooks/callback-url.js';
import { deliverWebhook, guardedLookup, MAX_RESPONSE_BYTES } from '../../src/webhooks/deliver.js';
import { verifyWebhook, webhookSignature } from '../../src/webhooks/signature.js';
import type { WebhookPayload } from '../../src/workers/webhook-stage.js';
import { Metrics } from '../../src/metrics.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { waitFor } from '../support/collect.js';
import { backends } from '../support/databases.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';

const alice: Actor = { id: 'alice', role: 'user' };
const admin: Actor = { id: 'root', role: 'admin' };
const SECRET = `whsec_${Buffer.from('quire-test-webhook-secret-0123456789').toString('base64')}`;
const params = { columns: [{ label: 'Name', key: 'name' }], rows: [{ name: 'a' }] };

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A real HTTP receiver on loopback that answers each request with the next status of its script (then 200). */
class Receiver {
  readonly received: Received[] = [];
  script: number[] = [];
  private server!: Server;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        res.statusCode = this.script.shift() ?? 200;
        res.end(res.statusCode >= 300 ? 'not now' : 'ok');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The signature as a receiver following Standard Webhooks computes it, independently of quire's code. */
function expectedSignature(r: Received): string {
  const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
  const signed = `${r.headers['webhook-id']}.${r.headers['webhook-timestamp']}.${r.body}`;
  return `v1,${createHmac('sha256', key).update(signed).digest('base64')}`;
}

describe.each(backends)('completion webhooks on %s', (kind) => {
  let runtime: TestRuntime;
  let pool: RenderPool;
  let workers: Workers;
  let receiver: Receiver;

  beforeAll(async () => {
    runtime = await startTestRuntime(kind, {
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_MAX_ATTEMPTS: '3',
      WEBHOOK_RETRY_BASE_MS: '100',
      WEBHOOK_TIMEOUT_MS: '2000',
    }, { metrics: new Metrics({ defaultMetrics: false }) });
    pool = new RenderPool({ size: 1 });
    await pool.warmUp();
    workers = createWorkers(runtime, { pool, owner: 'worker-a' });
    receiver = await new Receiver().start();
  });
  afterAll(async () => {
    await workers?.stop();
    await pool?.close();
    await receiver?.close();
    await runtime?.close();
  });

  const ask = (title: string, callbackUrl: string) =>
    requestReport(runtime.store, { template: 'table', title, params, callbackUrl }, alice, {
      callbacks: { allowedHosts: runtime.config.webhooks.allowedHosts, production: runtime.config.production },
    });

  /** Runs the webhook stage until `n` more requests arrived (retries come due after their backoff). */
  async function deliveries(n: number): Promise<Received[]> {
    const from = receiver.received.length;
    await waitFor(async () => (await workers.webhooks!.drain(), receiver.received.length >= from + n), 20_000, `${n} webhook requests`);
    return receiver.received.slice(from);
  }

  it('STORED is POSTed signed; two 500s are retried with backoff, each attempt recorded; then REPLICATED', async () => {
    const { reportId, streamId } = await ask('Hooked', receiver.url());
    expect(await workers.render.drain()).toBe(1);
    const stored = (await loadReportState(runtime.store.db, reportId))!;
    expect(stored.status).toBe('STORED');

    receiver.script = [500, 500];
    const three = await deliveries(3);
    expect(three).toHaveLength(3);
    for (const r of three) {
      expect(r.headers['webhook-id']).toBe(`msg_${reportId}_3`);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['webhook-signature']).toBe(expectedSignature(r));
      expect(verifyWebhook(SECRET, r.headers, r.body)).toBe(true);
      expect(verifyWebhook(SECRET, r.headers, r.body.replace('STORED', 'FAILED'))).toBe(false);
      expect(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    }
    // Backoff: at least 0.8 × 100 ms, then 0.8 × 200 ms between attempts.
    expect(three[1]!.at - three[0]!.at).toBeGreaterThanOrEqual(75);
    expect(three[2]!.at - three[1]!.at).toBeGreaterThanOrEqual(155);
    const payload = JSON.parse(three[2]!.body) as WebhookPayload;
    expect(payload).toMatchObject({ type: 'report.stored', data: { reportId, status: 'STORED', sha256: stored.sha256, bytes: stored.bytes, error: null } });
    expect(payload.data.download!.url.startsWith(`${runtime.config.publicUrl}/files/`)).toBe(true);
    expect(Date.parse(payload.data.download!.expiresAt)).toBeGreaterThan(Date.now());

    const events = await runtime.store.readStream(streamId);
    const hooks = events.filter((e) => e.type.startsWith('Webhook')).map((e) => [e.type, e.data]);
    expect(hooks).toMatchObject([
      ['WebhookAttemptFailed', { attempt: 1, httpStatus: 500, status: 'STORED', error: 'answered 500: not now' }],
      ['WebhookAttemptFailed', { attempt: 2, httpStatus: 500 }],
      ['WebhookDelivered', { attempt: 3, httpStatus: 200, deliveryId: `msg_${reportId}_3` }],
    ]);
    expect(await workers.webhooks!.drain()).toBe(0);

    // Replicated: its own delivery, once.
    expect(await workers.replicate!.drain()).toBe(1);
    const [replicated] = await deliveries(1);
    expect(JSON.parse(replicated!.body)).toMatchObject({ type: 'report.replicated', data: { reportId, status: 'REPLICATED', error: null } });
    expect(replicated!.headers['webhook-id']).not.toBe(`msg_${reportId}_3`);
    expect(await workers.webhooks!.drain()).toBe(0);

    // Every event accounted for; nothing pending; the projection rebuilds to the same rows.
    expect(await countEventsByType(runtime, streamId)).toEqual({
      ReportRequested: 1,
      ReportRendered: 1,
      ReportStoredLocal: 1,
      ReportReplicated: 1,
      WebhookAttemptFailed: 2,
      WebhookDelivered: 2,
    });
    const row = await runtime.store.db.selectFrom('report_status').select(['webhook_due_at', 'webhook']).where('report_id', '=', reportId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ webhook_due_at: null, webhook: { url: receiver.url(), pending: [] } });
    expect((await rebuildAndVerifyProjections(runtime.store.db, runtime.store.personalData)).differenceCount).toBe(0);
    expect(await deliveryCounts()).toEqual({ delivered: 2, failed_attempt: 2 });
  });

  /** quire_webhook_deliveries_total by outcome, as the scrape shows it. */
  async function deliveryCounts(): Promise<Record<string, number>> {
    const metric = await runtime.metrics.registry.getSingleMetric('quire_webhook_deliveries_total')!.get();
    return Object.fromEntries(metric.values.map((v) => [String(v.labels['outcome']), v.value]));
  }

  it('gives up after WEBHOOK_MAX_ATTEMPTS with WebhookFailed, and sends nothing more', async () => {
    const { reportId, streamId } = await ask('Never answered', receiver.url('/down'));
    await workers.render.drain();
    receiver.script = [503, 503, 503, 503, 503];
    const sent = await deliveries(3);
    expect(sent.every((r) => r.headers['webhook-id'] === `msg_${reportId}_3`)).toBe(true);
    await waitFor(async () => (await countEventsByType(runtime, streamId))['WebhookFailed'] === 1, 5000, 'WebhookFailed');
    await new Promise((r) => setTimeout(r, 500));
    expect(await workers.webhooks!.drain()).toBe(0);
    expect(receiver.received.filter((r) => r.headers['webhook-id'] === `msg_${reportId}_3`)).toHaveLength(3);
    const events = await runtime.store.readStream(streamId);
    expect(events.filter((e) => e.type.startsWith('Webhook')).map((e) => [e.type, e.data])).toMatchObject([
      ['WebhookAttemptFailed', { attempt: 1, httpStatus: 503 }],
      ['WebhookAttemptFailed', { attempt: 2, httpStatus: 503 }],
      ['WebhookAttemptFailed', { attempt: 3, httpStatus: 503, retryAt: null }],
      ['WebhookFailed', { attempts: 3, status: 'STORED', error: 'answered 503: not now' }],
    ]);
    expect((await loadReportState(runtime.store.db, reportId))!).toMatchObject({ status: 'STORED', webhook: { pending: [] } });
    // The last failed attempt counts as given_up only: attempts in all = delivered + failed_attempt + given_up.
    expect(await deliveryCounts()).toEqual({ delivered: 2, failed_attempt: 4, given_up: 1 });
    receiver.script = [];
  });

  it('FAILED is announced with the typed error, no link; after a retry the report is announced again when STORED', async () => {
    // A volume that cannot be written (REPORTS_DIR is a file), and one attempt: FAILED at once.
    const blocked = join(runtime.dataDir, 'not-a-directory');
    await writeFile(blocked, 'x');
    const broken = renderStage({
      store: runtime.store,
      pool,
      volume: new Volume(blocked),
      mode: 'mirror',
      region: 'iad',
      machine: 'iad-1',
      owner: 'worker-broken',
      leaseMs: 5_000,
      backoff: { maxAttempts: 1, baseMs: 1_000 },
      log: runtime.log,
    });
    const brokenLoop = new WorkLoop({ name: 'broken', concurrency: 1, pollMs: 50, notifier: runtime.database.notifier, log: runtime.log, ...broken });
    const { reportId, streamId } = await ask('Doomed', receiver.url('/failed'));
    expect(await brokenLoop.drain()).toBe(1);
    expect((await loadReportState(runtime.store.db, reportId))!.status).toBe('FAILED');

    const [failed] = await deliveries(1);
    const payload = JSON.parse(failed!.body) as WebhookPayload;
    expect(payload).toMatchObject({ type: 'report.failed', data: { reportId, status: 'FAILED', sha256: null, download: null, error: { code: 'FAILED' } } });
    expect(payload.data.error!.message).toMatch(/^store: .*(ENOTDIR|EEXIST|not a directory)/i);
    expect(failed!.headers['webhook-id']).toBe(`msg_${reportId}_2`);

    await retryReport(runtime.store, reportId, alice);
    expect(await workers.render.drain()).toBe(1);
    const [stored] = await deliveries(1);
    expect(JSON.parse(stored!.body)).toMatchObject({ type: 'report.stored', data: { reportId, error: null } });
    expect(await workers.webhooks!.drain()).toBe(0);
    expect(await countEventsByType(runtime, streamId)).toEqual({
      ReportRequested: 1,
      ReportFailed: 1,
      ReportRetryRequested: 1,
      ReportRendered: 1,
      ReportStoredLocal: 1,
      WebhookDelivered: 2,
    });
  });

  it('a keyed request retried after its report was stored and announced: the same report, no new event, no second render or webhook', async () => {
    const keyed = () =>
      requestReport(runtime.store, { template: 'table', title: 'Keyed', params, callbackUrl: receiver.url('/keyed'), idempotencyKey: 'keyed-1' }, alice, {
        callbacks: { allowedHosts: runtime.config.webhooks.allowedHosts, production: runtime.config.production },
        idempotencyWindowMs: runtime.config.idempotencyWindowMs,
      });
    const first = await keyed();
    expect(await workers.render.drain()).toBe(1);
    await deliveries(1);
    const before = await countEventsByType(runtime, first.streamId);
    expect(await Promise.all(Array.from({ length: 5 }, keyed))).toEqual(Array.from({ length: 5 }, () => first));
    expect(await workers.render.drain()).toBe(0);
    expect(await workers.webhooks!.drain()).toBe(0);
    expect(await countEventsByType(runtime, first.streamId)).toEqual(before);
    expect(before).toEqual({ ReportRequested: 1, ReportRendered: 1, ReportStoredLocal: 1, WebhookDelivered: 1 });
  });

  it('a refused callbackUrl is INVALID_PARAMS on callbackUrl and appends nothing', async () => {
    const before = await countEventsByType(runtime);
    const refused = async (callbackUrl: string, production = false, allowedHosts = ['127.0.0.1', 'localhost', '10.0.0.7']) => {
      const err = await requestReport(runtime.store, { template: 'table', title: 'Refused', params, callbackUrl }, alice, { callbacks: { allowedHosts, production } }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, callbackUrl).toBeInstanceOf(InvalidParamsError);
      expect((err as InvalidParamsError).issues.map((i) => i.path)).toEqual(['callbackUrl']);
      return (err as InvalidParamsError).issues[0]!.message;
    };
    expect(await refused('not a url')).toMatch(/absolute URL/);
    expect(await refused('ftp://127.0.0.1/x')).toMatch(/https/);
    expect(await refused('http://evil.example.com/x')).toMatch(/allow-list/);
    expect(await refused('http://user:pw@127.0.0.1/x')).toMatch(/credentials/);
    expect(await refused('http://127.0.0.1/x', false, [])).toMatch(/not enabled/);
    // Production: https only, and no loopback, private or link-local address.
    expect(await refused('http://127.0.0.1/x', true)).toMatch(/must be https/);
    expect(await refused('https://127.0.0.1/x', true)).toMatch(/not a public address/);
    expect(await refused('https://localhost/x', true)).toMatch(/not a public address/);
    expect(await refused('https://10.0.0.7/x', true)).toMatch(/not a public address/);
    // Over GraphQL, with the configured allow-list: the same typed error; an allowed URL is stored.
    const http = await startHttpServer(runtime, 0, '127.0.0.1');
    try {
      const token = await runtime.userTokens.sign({ id: 'dave', role: 'user' }, 600);
      const over = (callbackUrl: string) => gqlHttp(http.url, RequestReportDocument, { input: { template: 'table', title: 'Over GraphQL', params, callbackUrl } }, token);
      expect((await over('http://evil.example.com/x')).data!.requestReport).toMatchObject({ __typename: 'InvalidParamsError', issues: [{ path: 'callbackUrl' }] });
      expect(await countEventsByType(runtime)).toEqual(before);
      const accepted = (await over(receiver.url('/graphql-hook'))).data!.requestReport;
      expect(accepted).toMatchObject({ __typename: 'MutationRequestReportSuccess', data: { callbackUrl: receiver.url('/graphql-hook') } });
      expect(await countEventsByType(runtime)).toEqual({ ...before, ReportRequested: (before['ReportRequested'] ?? 0) + 1 });
    } finally {
      await http.close();
    }
    const afterGraphql = await countEventsByType(runtime);
    // Without a policy (a caller that did not pass one), no callback is accepted.
    await expect(requestReport(runtime.store, { template: 'table', title: 'Refused', params, callbackUrl: receiver.url() }, alice)).rejects.toBeInstanceOf(InvalidParamsError);
    expect(await countEventsByType(runtime)).toEqual(afterGraphql);
  });

  /** The requests the receiver got for one report (its webhook-ids name it). */
  const receivedFor = (reportId: string) => receiver.received.filter((r) => String(r.headers['webhook-id']).startsWith(`msg_${reportId}_`));

  /** Waits until the retry the log scheduled for the delivery would be due, then drains the stage. */
  async function drainAfterRetryDue(streamId: string): Promise<number> {
    const retryAts = (await runtime.store.readStream(streamId)).flatMap((e) => (e.type === 'WebhookAttemptFailed' && e.data.retryAt ? [Date.parse(e.data.retryAt)] : []));
    const wait = Math.max(0, ...retryAts) - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait + 50));
    return workers.webhooks!.drain();
  }

  /** Renders, replicates and announces what earlier tests left, so that the stages' counts are this test's alone. */
  async function quiet(): Promise<void> {
    await workers.render.drain();
    await workers.replicate!.drain();
    await waitFor(async () => (await workers.webhooks!.drain()) === 0, 20_000, 'no webhook due');
  }

  async function checkLogAndProjections(): Promise<void> {
    expect((await rebuildAndVerifyProjections(runtime.store.db, runtime.store.personalData)).differenceCount).toBe(0);
    const verified = await verifyLog(runtime.store.db, { publicKeys: runtime.sealKeys.trusted });
    expect(verified.problems).toEqual([]);
    expect(verified.ok).toBe(true);
  }

  it('erased while a delivery is retrying and another is queued: both cancelled with the erasure; the receiver gets nothing more', async () => {
    await quiet();
    const { reportId, streamId } = await ask('To erase', receiver.url('/erased'));
    expect(await workers.render.drain()).toBe(1);
    receiver.script = [500];
    await deliveries(1);
    expect(await workers.replicate!.drain()).toBe(1);
    expect((await loadReportState(runtime.store.db, reportId))!.webhook!.pending.map((p) => [p.status, p.attempts])).toEqual([
      ['STORED', 1],
      ['REPLICATED', 0],
    ]);

    await eraseReport(runtime.store, reportId, 'erasure request #7', admin);
    expect(await drainAfterRetryDue(streamId)).toBe(0);
    expect(await workers.webhooks!.drain()).toBe(0);
    expect(receivedFor(reportId)).toHaveLength(1);

    const events = await runtime.store.readStream(streamId);
    const erasedAt = events.findIndex((e) => e.type === 'ReportErased');
    // One append: the erasure and the cancellations, in queue order.
    expect(events.slice(erasedAt).map((e) => [e.type, e.data])).toEqual([
      ['ReportErased', { by: 'root', reason: 'erasure request #7' }],
      ['WebhookCancelled', { deliveryId: `msg_${reportId}_3`, status: 'STORED', reason: 'erased' }],
      ['WebhookCancelled', { deliveryId: `msg_${reportId}_5`, status: 'REPLICATED', reason: 'erased' }],
    ]);
    expect(new Set(events.slice(erasedAt).map((e) => e.checkpoint.transactionId)).size).toBe(1);
    expect(await countEventsByType(runtime, streamId)).toEqual({
      ReportRequested: 1,
      ReportRendered: 1,
      ReportStoredLocal: 1,
      WebhookAttemptFailed: 1,
      ReportReplicated: 1,
      ReportErased: 1,
      WebhookCancelled: 2,
    });
    const row = await runtime.store.db.selectFrom('report_status').select(['status', 'webhook_due_at', 'webhook']).where('report_id', '=', reportId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'ERASED', webhook_due_at: null, webhook: { pending: [] } });
    await checkLogAndProjections();
  });

  it('erased before erasures cancelled deliveries (ReportErased alone, a delivery still queued): the stage cancels it instead of attempting it', async () => {
    await quiet();
    const { reportId, streamId } = await ask('Erased the old way', receiver.url('/erased-old'));
    expect(await workers.render.drain()).toBe(1);
    const state = (await loadReportState(runtime.store.db, reportId))!;
    // As an erasure recorded before this change left the log: no WebhookCancelled.
    await runtime.store.append(streamId, state.version, [{ type: 'ReportErased', data: { by: 'root', reason: 'old erasure' } }], { actor: 'root' });
    expect((await loadReportState(runtime.store.db, reportId))!.webhook!.pending).toHaveLength(1);

    expect(await workers.webhooks!.drain()).toBe(1);
    expect(await workers.webhooks!.drain()).toBe(0);
    expect(receivedFor(reportId)).toHaveLength(0);
    const events = await runtime.store.readStream(streamId);
    expect(events.at(-1)).toMatchObject({ type: 'WebhookCancelled', data: { deliveryId: `msg_${reportId}_3`, status: 'STORED', reason: 'erased' } });
    expect((await loadReportState(runtime.store.db, reportId))!.webhook!.pending).toEqual([]);
    await checkLogAndProjections();
  });

  it('deleted while a delivery is retrying: the next attempt is made and recorded once (no link: GONE), then nothing more', async () => {
    await quiet();
    const { reportId, streamId } = await ask('To delete', receiver.url('/deleted'));
    expect(await workers.render.drain()).toBe(1);
    receiver.script = [500];
    await deliveries(1);
    await deleteReport(runtime.store, reportId, alice);
    const [after] = await deliveries(1);
    expect(JSON.parse(after!.body)).toMatchObject({ type: 'report.stored', data: { reportId, download: null, error: { code: 'GONE' } } });
    expect(await drainAfterRetryDue(streamId)).toBe(0);
    expect(receivedFor(reportId)).toHaveLength(2);
    expect(await countEventsByType(runtime, streamId)).toMatchObject({ ReportDeleted: 1, WebhookAttemptFailed: 1, WebhookDelivered: 1 });
    expect((await loadReportState(runtime.store.db, reportId))!.webhook!.pending).toEqual([]);
    await checkLogAndProjections();
  });
});

describe('webhook delivery, one attempt', () => {
  const policy = { allowedHosts: ['127.0.0.1'], production: false };

  it('signs as the Standard Webhooks specification’s example does', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    expect(webhookSignature(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('refuses addresses that are not public (mapped IPv4 too) and accepts public ones', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:7f00:1', '255.255.255.255',
      // IPv4 inside IPv6 other than mapped (compatible, SIIT, 6to4, Teredo, local NAT64) and deprecated site-local: the embedded address is not checked, so none is public.
      '::7f00:1', '::ffff:0:7f00:1', '2002:7f00:1::', '2001:0:4136:e378:8000:63bf:80ff:fffe', '64:ff9b:1::a00:1', 'fec0::1']) {
      expect(isPublicAddress(a), a).toBe(false);
    }
    for (const a of ['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(isPublicAddress(a), a).toBe(true);
  });

  it('in production, refuses loopback however it is spelled, without asking DNS, even when an operator allow-listed it', () => {
    const policy = { allowedHosts: ['127.0.0.1', '::1', 'localhost', 'localhost.', 'a.localhost.', '::ffff:7f00:1', '::7f00:1', 'hooks.example.com'], production: true };
    const refusal = (url: string) => {
      try {
        checkCallbackUrlShape(url, policy);
        return 'accepted';
      } catch (err) {
        expect(err, url).toBeInstanceOf(CallbackUrlRefusedError);
        return (err as Error).message;
      }
    };
    for (const url of ['https://0x7f000001/', 'https://2130706433/', 'https://127.1/', 'https://[::1]/', 'https://[::ffff:127.0.0.1]/', 'https://[::7f00:1]/', 'https://localhost/', 'https://localhost./', 'https://a.localhost./']) {
      expect(refusal(url), url).toMatch(/not a public address/);
    }
    expect(refusal('http://hooks.example.com/')).toMatch(/must be https/);
    for (const url of ['file:///etc/passwd', 'gopher://hooks.example.com/', 'javascript:alert(1)', 'ws://hooks.example.com/']) expect(refusal(url), url).toMatch(/https|absolute/);
    expect(refusal('https://me@hooks.example.com/')).toMatch(/credentials/);
    expect(refusal(`https://hooks.example.com/${'a'.repeat(3000)}`)).toMatch(/2048/);
    expect(refusal('https://hooks.example.com./')).toMatch(/allow-list/);
    expect(refusal('https://hooks.example.com/ok')).toBe('accepted');
  });

  it('checks the address it connects to, not only the name: in production a name resolving to loopback is refused (DNS rebinding)', async () => {
    const resolveWith = (production: boolean) =>
      new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
        guardedLookup(production)('localhost', { family: 4 }, (err, address) => resolve({ err, address })),
      );
    expect((await resolveWith(false)).address).toBe('127.0.0.1');
    const refused = await resolveWith(true);
    expect(refused.err?.code).toBe('EREFUSEDADDRESS');
    expect(refused.err?.message).toMatch(/127\.0\.0\.1, not a public address/);
  });

  it('ends an attempt the receiver does not answer within the timeout, and reads at most MAX_RESPONSE_BYTES of an endless answer', async () => {
    let endlessWritten = 0;
    const server = createServer((req, res) => {
      if (req.url === '/silent') return; // never answers
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        while (!res.destroyed && endlessWritten < 64 * 1024 * 1024 && res.write(chunk)) endlessWritten += chunk.length;
        if (!res.destroyed && endlessWritten < 64 * 1024 * 1024) res.once('drain', pump);
      };
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const started = Date.now();
      const silent = await deliverWebhook(`${base}/silent`, '{}', {}, { policy, timeoutMs: 300 });
      expect(silent).toEqual({ delivered: false, httpStatus: null, error: 'no answer within 300 ms', permanent: false });
      expect(Date.now() - started).toBeLessThan(2000);
      const endless = await deliverWebhook(`${base}/endless`, '{}', {}, { policy, timeoutMs: 5000 });
      expect(endless).toEqual({ delivered: true, httpStatus: 200 });
      // The answer stopped being read soon after the cap, far from its 64 MiB.
      expect(endlessWritten).toBeLessThan(64 * 1024 * 1024);
      expect(MAX_RESPONSE_BYTES).toBe(64 * 1024);
      // The allow-list is checked again at delivery: a host no longer on it is given up on at once.
      expect(await deliverWebhook(`${base}/x`, '{}', {}, { policy: { ...policy, allowedHosts: [] }, timeoutMs: 300 })).toMatchObject({ delivered: false, permanent: true });
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
