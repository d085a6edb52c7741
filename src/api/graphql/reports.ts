import { decodeGlobalID } from '@pothos/plugin-relay';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { z } from 'zod';
import { readStream, readStreams } from '../../events/read.js';
import type { RecordedEvent } from '../../events/recorded-event.js';
import { InvalidParamsError, QuireError } from '../../errors.js';
import { loadLocations, loadReportState, loadReportStates } from '../../reports/load-report.js';
import { listReports } from '../../reports/list-reports.js';
import { evolve, isGone, reportStreamId, type ReportLocation, type ReportState } from '../../reports/report-state.js';
import { ForbiddenError } from '../../actor.js';
import { eraseReport } from '../../reports/erase-report.js';
import { ErasureUnsupportedError, GoneError, NotHeldError, NotRetryableError, ReportHeldError, ReportNotFoundError } from '../../reports/errors.js';
import { deleteReport } from '../../reports/delete-report.js';
import { holdReport, releaseReport } from '../../reports/legal-hold.js';
import { mayReadReport, readableReport, readsEveryReport } from '../../reports/report-access.js';
import { requestReport } from '../../reports/request-report.js';
import { retryReport } from '../../reports/retry-report.js';
import { canonicalUuid, isUuid } from '../../reports/uuid.js';
import { NotReadyError, ReportFailedError, UnavailableError } from '../../storage/download-errors.js';
import { ObjectStoreUnavailableError } from '../../storage/object-store.js';
import { chooseRoute, type DownloadUrl } from '../../storage/resolve-download.js';
import { createDownloadUrl, downloadContext } from '../downloads.js';
import { builder } from './builder.js';
import { liveSubscription } from './live-subscription.js';
import { reportChangesOf, type ReportChange } from './report-changes.js';
import { forwardConnection, pageSize } from './connection.js';
import { DOWNLOAD_SOURCE, LOCATION_KIND, REPORT_STATUS } from './enums.js';
import { asResult, ConflictError, ErrorInterface, textArg } from './errors.js';
import { EventRef } from './events.js';
import { parseProgress } from '../../render/progress-signal.js';

/** Accepts a report's UUID (in any case) or its relay global ID. */
export function reportIdFrom(id: string): string {
  const uuid = canonicalUuid(id);
  if (isUuid(uuid)) return uuid;
  try {
    const decoded = decodeGlobalID(id);
    return decoded.typename === 'Report' ? canonicalUuid(decoded.id) : id;
  } catch {
    return id;
  }
}

const LocationRef = builder.objectRef<ReportLocation>('ReportLocation').implement({
  description: 'One copy of the report’s file: on a machine’s volume, or in the object store.',
  fields: (t) => ({
    kind: t.field({ type: LOCATION_KIND, resolve: (l) => l.kind }),
    region: t.string({ nullable: true, description: 'The region of the volume; null for the object store.', resolve: (l) => l.region }),
    machine: t.string({
      nullable: true,
      description: 'The machine whose volume holds the copy; null for the object store and for copies recorded before machines were (region-level).',
      resolve: (l) => l.machine,
    }),
    bucket: t.string({ nullable: true, resolve: (l) => (l.kind === 'object' ? l.place : null) }),
    key: t.exposeString('key'),
    sha256: t.exposeString('sha256'),
    bytes: t.exposeFloat('bytes'),
    storedAt: t.field({ type: 'DateTime', resolve: (l) => l.storedAt }),
    verifiedAt: t.field({ type: 'DateTime', resolve: (l) => l.verifiedAt }),
  }),
});

interface Downloadable {
  available: boolean;
  source: 'OBJECT_STORE' | 'LOCAL_VOLUME' | 'REMOTE_VOLUME' | null;
  region: string | null;
  machine: string | null;
  reason: string | null;
}

const DownloadableRef = builder.objectRef<Downloadable>('Downloadable').implement({
  description: 'Whether createDownloadUrl would succeed right now from this instance, and through which path.',
  fields: (t) => ({
    available: t.exposeBoolean('available'),
    source: t.field({ type: DOWNLOAD_SOURCE, nullable: true, resolve: (d) => d.source }),
    region: t.exposeString('region', { nullable: true }),
    machine: t.exposeString('machine', { nullable: true }),
    reason: t.exposeString('reason', { nullable: true }),
  }),
});

export const ReportRef = builder.loadableNode('Report', {
  description: 'A PDF report and where its file lives.',
  id: { resolve: (r: ReportState) => r.reportId },
  load: async (ids: string[], ctx): Promise<Array<ReportState | Error>> => {
    const states = await loadReportStates(await ctx.reads.db(), ids.map(canonicalUuid).filter(isUuid));
    return ids.map((id) => {
      const state = states.get(canonicalUuid(id));
      // Someone else's report is indistinguishable from a missing one.
      return state && mayReadReport(ctx.actor, state) ? state : new ReportNotFoundError(id);
    });
  },
  fields: (t) => ({
    reportId: t.exposeString('reportId', { description: 'The report’s UUID (what REST routes and `report(id)` take).' }),
    title: t.exposeString('title'),
    template: t.exposeString('template'),
    status: t.field({ type: REPORT_STATUS, resolve: (r) => r.status }),
    owner: t.exposeString('owner'),
    requestedRegion: t.exposeString('requestedRegion'),
    requestedAt: t.field({ type: 'DateTime', resolve: (r) => r.requestedAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (r) => r.updatedAt }),
    sha256: t.exposeString('sha256', { nullable: true }),
    bytes: t.exposeFloat('bytes', { nullable: true }),
    pages: t.exposeInt('pages', { nullable: true }),
    attempts: t.exposeInt('attempts'),
    lastError: t.exposeString('lastError', { nullable: true }),
    failedStage: t.exposeString('failedStage', { nullable: true }),
    nextAttemptAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.nextAttemptAt }),
    expiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the report expires (then it is EXPIRED and its copies are purged); null: kept until deleted.',
      resolve: (r) => r.expiresAt,
    }),
    held: t.exposeBoolean('held', { description: 'Under legal hold (holdReport): it neither expires nor can be deleted until released.' }),
    goneAt: t.field({ type: 'DateTime', nullable: true, description: 'When it expired or was deleted; null while it is not gone.', resolve: (r) => r.goneAt }),
    version: t.exposeInt('version', { description: 'Stream version of the last event folded in.' }),
    callbackUrl: t.string({ nullable: true, description: 'Where completion webhooks go; null when requested without one.', resolve: (r) => r.webhook?.url ?? null }),
    webhooksPending: t.int({
      description: 'Webhook deliveries not yet delivered nor given up on (each retried with backoff; see the history’s Webhook* events).',
      resolve: (r) => r.webhook?.pending.length ?? 0,
    }),
    // Every ReportState handed to this type carries its locations (pages load them in one batch).
    locations: t.field({ type: [LocationRef], resolve: (r) => r.locations }),
    history: t.loadableList({
      type: EventRef,
      description: 'The report’s own events, oldest first.',
      // Keyed by version too: a subscription's loader lives as long as the subscription, and a
      // new state must not be answered from the cache of an older one.
      load: async (keys: string[], ctx) => {
        const wanted = new Map<string, number>();
        for (const key of keys) {
          const [streamId, version] = key.split('@') as [string, string];
          wanted.set(streamId, Math.max(wanted.get(streamId) ?? 0, Number(version)));
        }
        const db = await ctx.reads.db();
        const byStream = await readStreams(db, [...wanted.keys()]);
        // A state from the primary (a subscription's) can be ahead of a lagging read replica: the
        // streams the replica has not replayed that far are read from the primary.
        const behind = [...wanted].filter(([id, version]) => (byStream.get(id)?.at(-1)?.streamVersion ?? 0) < version).map(([id]) => id);
        if (behind.length > 0 && db !== ctx.runtime.store.db) {
          for (const [id, events] of await readStreams(ctx.runtime.store.db, behind)) byStream.set(id, events);
        }
        // Personal data decrypted for whoever may read the report (ERASED once erased): one query for the batch.
        // Keys are read on the primary: an erasure is seen at once there.
        const revealed = await ctx.runtime.store.reveal([...byStream.values()].flat());
        return keys.map((key) => {
          const [streamId, version] = key.split('@') as [string, string];
          return revealed.filter((e) => e.streamId === streamId && e.streamVersion <= Number(version));
        });
      },
      resolve: (r) => `${r.streamId}@${r.version}`,
    }),
    downloadable: t.field({
      type: DownloadableRef,
      resolve: (r, _, ctx): Downloadable => {
        try {
          const route = chooseRoute(r, downloadContext(ctx.runtime));
          return { available: true, source: route.source, region: route.location.region, machine: route.location.machine, reason: null };
        } catch (err) {
          return { available: false, source: null, region: null, machine: null, reason: err instanceof Error ? err.message : String(err) };
        }
      },
    }),
  }),
});

builder.queryField('report', (t) =>
  t.field({
    type: ReportRef,
    nullable: true,
    description: 'One report by UUID or global ID; null when it does not exist or is not yours.',
    args: { id: t.arg.id() },
    resolve: async (_, args, ctx) => {
      const id = reportIdFrom(String(args.id));
      if (!isUuid(id)) return null;
      const db = await ctx.reads.db();
      // A report the read replica does not have yet may be on the primary: a "no" is confirmed there.
      const state = (await loadReportState(db, id)) ?? (db === ctx.runtime.store.db ? null : await loadReportState(ctx.runtime.store.db, id));
      return state && mayReadReport(ctx.actor, state) ? state : null;
    },
  }),
);

const CURSOR = z.object({ t: z.iso.datetime(), id: z.uuid() });

/** JSON text, or undefined when it is not JSON (a cursor a client made up). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

builder.queryField('reports', (t) =>
  t.connection({
    type: ReportRef,
    description: 'Reports, newest first: your own, or everyone’s for auditors and admins.',
    args: {
      status: t.arg({ type: REPORT_STATUS, required: false }),
      template: t.arg.string({ required: false }),
    },
    resolve: async (_, args, ctx) => {
      const first = pageSize(args, 100, 20);
      let after;
      if (args.after) {
        const parsed = CURSOR.safeParse(parseJson(Buffer.from(args.after, 'base64url').toString('utf8')));
        if (!parsed.success) throw new InvalidParamsError([{ path: 'after', message: 'not a cursor from this connection' }], 'invalid cursor');
        after = { requestedAt: new Date(parsed.data.t), reportId: parsed.data.id };
      }
      if (args.template != null) textArg(args.template, 'template');
      const seesAll = readsEveryReport(ctx.actor);
      const db = await ctx.reads.db();
      const rows = await listReports(
        db,
        {
          ...(seesAll ? {} : { owner: ctx.actor.id }),
          ...(args.status ? { status: args.status } : {}),
          ...(args.template ? { template: args.template } : {}),
        },
        { first: first + 1, ...(after ? { after } : {}) },
      );
      // The page's locations in one statement, whatever its size.
      const locations = await loadLocations(db, rows.map((r) => r.reportId));
      for (const row of rows) row.locations = locations.get(row.reportId) ?? [];
      const toCursor = (r: ReportState) => Buffer.from(JSON.stringify({ t: r.requestedAt.toISOString(), id: r.reportId })).toString('base64url');
      return forwardConnection(rows, first, toCursor, args.after);
    },
  }),
);

const PDF_STANDARD = builder.enumType('PdfStandard', {
  values: { PDF_A_2B: { value: 'PDF/A-2b', description: 'PDF/A-2b (ISO 19005-2, level B): fonts embedded, XMP metadata, an sRGB output intent.' } } as const,
});

const RequestReportInput = builder.inputType('RequestReportInput', {
  fields: (t) => ({
    template: t.string({ description: 'table, summary or history' }),
    title: t.string(),
    params: t.field({ type: 'JSON', description: 'The template’s parameters (validated against its schema; at most 1 MiB).' }),
    idempotencyKey: t.string({
      required: false,
      description:
        'Your key for this request (1–100 of A–Z a–z 0–9 _.:-, e.g. a UUID). Sending the same request again with the same key within IDEMPOTENCY_WINDOW (a day by default) returns the same report (no new events, no second render) instead of a second one; the same key with a different request is a ConflictError.',
    }),
    callbackUrl: t.string({
      required: false,
      description:
        'Where quire POSTs a signed JSON body (Standard Webhooks) when the report becomes STORED, REPLICATED or FAILED. https only in production; the host must be on WEBHOOK_ALLOWED_HOSTS and, in production, resolve to public addresses only.',
    }),
    pdfStandard: t.field({
      type: PDF_STANDARD,
      required: false,
      description: 'Render to this archival standard; null: the template’s default (history: PDF/A-2b, the others: none).',
    }),
    retainFor: t.string({
      required: false,
      description:
        'How long to keep the report, as an ISO-8601 duration of weeks, days, hours, minutes, seconds (P30D, PT12H). At most RETENTION_MAX; not with expiresAt. Neither: the template’s default (RETENTION_DEFAULT), or kept until deleted.',
    }),
    expiresAt: t.field({ type: 'DateTime', required: false, description: 'When the report expires (in the future, at most RETENTION_MAX from now); not with retainFor.' }),
  }),
});

export class RateLimitedError extends QuireError {
  readonly code = 'RATE_LIMITED';
  constructor(readonly retryAfterSeconds: number) {
    super(`too many report requests; try again in ${retryAfterSeconds} s`);
    this.name = 'RateLimitedError';
  }
}

builder.objectType(RateLimitedError, {
  name: 'RateLimitedError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof RateLimitedError,
  fields: (t) => ({ retryAfterSeconds: t.exposeInt('retryAfterSeconds') }),
});

builder.mutationField('requestReport', (t) =>
  t.field({
    type: ReportRef,
    authScopes: { mutator: true },
    errors: { types: [InvalidParamsError, ForbiddenError, RateLimitedError, ReportNotFoundError, ConflictError, GoneError] },
    args: { input: t.arg({ type: RequestReportInput }) },
    resolve: async (_, { input }, ctx) => {
      try {
        await ctx.requestLimiter.consume(ctx.actor.id);
      } catch (res) {
        if (res instanceof RateLimiterRes) throw new RateLimitedError(Math.ceil(res.msBeforeNext / 1000));
        throw res;
      }
      const { reportId } = await asResult(() =>
        requestReport(
          ctx.runtime.store,
          {
            template: input.template,
            title: input.title,
            params: input.params,
            idempotencyKey: input.idempotencyKey ?? null,
            pdfStandard: input.pdfStandard ?? null,
            callbackUrl: input.callbackUrl ?? null,
            retainFor: input.retainFor ?? null,
            expiresAt: input.expiresAt ?? null,
          },
          ctx.actor,
          {
            requestId: ctx.requestId,
            callbacks: { allowedHosts: ctx.runtime.config.webhooks.allowedHosts, production: ctx.runtime.config.production },
            idempotencyWindowMs: ctx.runtime.config.idempotencyWindowMs,
            retention: ctx.runtime.config.retention,
          },
        ),
      );
      return (await loadReportState(ctx.runtime.store.db, reportId))!;
    },
  }),
);

const DownloadUrlRef = builder.objectRef<DownloadUrl>('DownloadUrl').implement({
  fields: (t) => ({
    url: t.exposeString('url'),
    expiresAt: t.field({ type: 'DateTime', resolve: (d) => d.expiresAt }),
    source: t.field({ type: DOWNLOAD_SOURCE, resolve: (d) => d.source }),
    region: t.exposeString('region', { nullable: true }),
    machine: t.exposeString('machine', { nullable: true, description: 'The machine whose volume serves the file; null for the object store.' }),
  }),
});

builder.mutationField('createDownloadUrl', (t) =>
  t.field({
    type: DownloadUrlRef,
    description: 'A short-lived URL to the report’s bytes, from whichever store or region holds them.',
    errors: { types: [ReportNotFoundError, GoneError, NotReadyError, ReportFailedError, UnavailableError, ObjectStoreUnavailableError, InvalidParamsError] },
    args: {
      reportId: t.arg.id(),
      ttlSeconds: t.arg.int({ required: false, description: 'Default 300, at most 3600.' }),
    },
    resolve: (_, args, ctx) =>
      asResult(() => createDownloadUrl(ctx.runtime, reportIdFrom(String(args.reportId)), ctx.actor, args.ttlSeconds ?? undefined, ctx.reads)),
  }),
);

builder.mutationField('retryReport', (t) =>
  t.field({
    type: ReportRef,
    authScopes: { mutator: true },
    errors: { types: [ReportNotFoundError, NotRetryableError, GoneError, ForbiddenError, ConflictError] },
    args: { id: t.arg.id() },
    resolve: (_, args, ctx) => asResult(() => retryReport(ctx.runtime.store, reportIdFrom(String(args.id)), ctx.actor, { requestId: ctx.requestId })),
  }),
);

builder.mutationField('eraseReport', (t) =>
  t.field({
    type: ReportRef,
    description:
      'Erases the report’s personal data (admins): its data key is deleted, ReportErased records who and why, ' +
      'and its title reads [erased]; its files are purged. The log and its seals still verify.',
    authScopes: { mutator: true },
    errors: { types: [ReportNotFoundError, ErasureUnsupportedError, ReportHeldError, InvalidParamsError, ForbiddenError, ConflictError] },
    args: { id: t.arg.id(), reason: t.arg.string({ description: 'Why (e.g. the request it answers): recorded in the log, so no personal data.' }) },
    resolve: (_, args, ctx) => asResult(() => eraseReport(ctx.runtime.store, reportIdFrom(String(args.id)), args.reason, ctx.actor, { requestId: ctx.requestId })),
  }),
);

builder.mutationField('deleteReport', (t) =>
  t.field({
    type: ReportRef,
    authScopes: { mutator: true },
    description: 'Deletes a report (its owner or an admin): it is DELETED at once — GONE to downloads — and every copy is purged. Refused while held.',
    errors: { types: [ReportNotFoundError, GoneError, ReportHeldError, ForbiddenError, InvalidParamsError, ConflictError] },
    args: { id: t.arg.id(), reason: t.arg.string({ required: false, description: 'Why (kept in the log; at most 500 characters).' }) },
    resolve: (_, args, ctx) =>
      asResult(() => deleteReport(ctx.runtime.store, reportIdFrom(String(args.id)), ctx.actor, { ...(args.reason == null ? {} : { reason: args.reason }), requestId: ctx.requestId })),
  }),
);

builder.mutationField('holdReport', (t) =>
  t.field({
    type: ReportRef,
    authScopes: { mutator: true },
    description: 'Legal hold (admins): the report can neither expire nor be deleted until releaseReport.',
    errors: { types: [ReportNotFoundError, GoneError, ReportHeldError, ForbiddenError, InvalidParamsError, ConflictError] },
    args: { id: t.arg.id(), reason: t.arg.string({ required: false, description: 'Why (kept in the log; at most 500 characters).' }) },
    resolve: (_, args, ctx) =>
      asResult(() => holdReport(ctx.runtime.store, reportIdFrom(String(args.id)), ctx.actor, { ...(args.reason == null ? {} : { reason: args.reason }), requestId: ctx.requestId })),
  }),
);

builder.mutationField('releaseReport', (t) =>
  t.field({
    type: ReportRef,
    authScopes: { mutator: true },
    description: 'Ends a legal hold (admins). A report whose expiry passed meanwhile expires at the next sweep.',
    errors: { types: [ReportNotFoundError, GoneError, NotHeldError, ForbiddenError, ConflictError] },
    args: { id: t.arg.id() },
    resolve: (_, args, ctx) => asResult(() => releaseReport(ctx.runtime.store, reportIdFrom(String(args.id)), ctx.actor, { requestId: ctx.requestId })),
  }),
);

builder.subscriptionField('reportStatus', (t) =>
  t.field({
    type: ReportRef,
    description: 'The report’s current state at once, then again after every change, from any instance; completes once the report is gone (EXPIRED, DELETED, ERASED), after sending that state.',
    args: { id: t.arg.id() },
    subscribe: (_, args, ctx) =>
      liveSubscription(ctx, async function* (live) {
        const reportId = reportIdFrom(String(args.id));
        // Listening starts before the read: nothing between the two is missed; older states are skipped by version.
        // The report's states are folded once for all its subscribers in this process (ReportChanges).
        const shared = reportChangesOf(ctx);
        const changes = live.listen<ReportChange>((push) => shared.watchReport(reportId, push), { untilNextMacrotask: false });
        const db = await ctx.reads.db();
        const primary = ctx.runtime.store.db;
        let state = readableReport(
          ctx.actor,
          reportId,
          isUuid(reportId) ? ((await loadReportState(db, reportId)) ?? (db === primary ? null : await loadReportState(primary, reportId))) : null,
        );
        let lastSent = state.version;
        yield state;
        if (isGone(state) && db === primary) return;
        if (db !== primary) {
          // The first state came from a read replica that may lag: what it had not replayed yet is
          // on the primary (anything later arrives through the hub, which listened first).
          for (const event of await readStream(primary, reportStreamId(reportId), { fromVersion: state.version + 1 })) state = evolve(state, event) ?? state;
          if (state.version !== lastSent) {
            lastSent = state.version;
            yield state;
          }
          if (isGone(state)) return;
        }
        // What this subscription read is where the report's next events are folded from, if this process knows no state of it yet.
        shared.seed(state);
        for await (const batch of changes) {
          // One state per transaction (the events of one append are one change), shared by every
          // subscriber of the report: only what is newer than what this one was sent goes out.
          for (const change of batch) {
            if (change.kind === 'failed') throw change.error;
            if (change.kind !== 'state' || change.state.version <= lastSent) continue;
            // The owner never changes, nor does the viewer: checked again all the same, as a feed does.
            state = readableReport(ctx.actor, reportId, change.state);
            lastSent = state.version;
            yield state;
            // The final state: nothing but purges follows.
            if (isGone(state)) return;
          }
        }
      }),
    resolve: (state) => state,
  }),
);

const ProgressRef = builder.objectRef<{ reportId: string; fraction: number }>('RenderProgress').implement({
  fields: (t) => ({ reportId: t.exposeString('reportId'), fraction: t.exposeFloat('fraction') }),
});

builder.subscriptionField('reportProgress', (t) =>
  t.field({
    type: ProgressRef,
    description:
      'Transient render progress (0..1) while a worker renders the report; not part of its history. ' +
      'Completes once the report is gone (EXPIRED, DELETED, ERASED): at once for one already gone, else when it goes.',
    args: { id: t.arg.id() },
    subscribe: (_, args, ctx) =>
      liveSubscription(ctx, async function* (live) {
        const reportId = reportIdFrom(String(args.id));
        // The report's events too (not only progress): the one that makes it gone ends the stream.
        // Listening starts before the read, so that event cannot fall between the two.
        const updates = live.listen<{ event: RecordedEvent } | { fraction: number }>((push) => {
          const offEvents = ctx.hub.onStream(reportStreamId(reportId), (event) => push({ event }));
          const offProgress = ctx.runtime.database.notifier.on('quire_progress', (payload) => {
            for (const step of parseProgress(payload)) if (step.reportId === reportId) push({ fraction: step.fraction });
          });
          return () => {
            offEvents();
            offProgress();
          };
        });
        let state = readableReport(ctx.actor, reportId, isUuid(reportId) ? await loadReportState(ctx.runtime.store.db, reportId) : null);
        // A gone report is never rendered again: its progress ends (as reportStatus does after the final state).
        if (isGone(state)) return;
        // The furthest step sent of this render: this process hears its own progress twice on
        // PostgreSQL (at once, and again from NOTIFY), and an older echo must not move the bar
        // backwards. A state change (a retry renders again) starts over.
        let furthest = -1;
        for await (const batch of updates) {
          let fraction = -1;
          for (const update of batch) {
            if ('fraction' in update) fraction = Math.max(fraction, update.fraction);
            else {
              const next = evolve(state, update.event) ?? state; // older than the read: skipped by version
              if (next.version !== state.version) furthest = -1;
              state = next;
            }
          }
          if (isGone(state)) return;
          // Only the furthest step of a burst matters.
          if (fraction > furthest) {
            furthest = fraction;
            yield { reportId, fraction };
          }
        }
      }),
    resolve: (p) => p,
  }),
);
