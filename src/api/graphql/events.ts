import { decodeCheckpoint, encodeCheckpoint, START } from '../../events/checkpoint.js';
import type { RecordedEvent } from '../../events/recorded-event.js';
import { EVENT_TYPES } from '../../events/types.js';
import { builder } from './builder.js';
import { forwardConnection, pageSize } from './connection.js';
import { textArg } from './errors.js';
import { liveSubscription } from './live-subscription.js';

const EventMetadataRef = builder.objectRef<RecordedEvent['metadata']>('EventMetadata').implement({
  fields: (t) => ({
    region: t.exposeString('region'),
    machine: t.string({ nullable: true, description: 'The machine that appended it; null for events written before machines were recorded.', resolve: (m) => m.machine ?? null }),
    actor: t.exposeString('actor', { nullable: true }),
    correlationId: t.exposeString('correlationId', { nullable: true }),
    causationId: t.exposeString('causationId', { nullable: true }),
    requestId: t.exposeString('requestId', { nullable: true }),
  }),
});

export const EventRef = builder.objectRef<RecordedEvent>('Event').implement({
  description: 'One entry of the append-only log, with its place in the hash chain.',
  fields: (t) => ({
    eventId: t.exposeString('eventId'),
    globalPosition: t.exposeFloat('globalPosition'),
    streamId: t.exposeString('streamId'),
    streamVersion: t.exposeInt('streamVersion'),
    type: t.exposeString('type'),
    schemaVersion: t.exposeInt('schemaVersion'),
    data: t.field({ type: 'JSON', resolve: (e) => e.data }),
    metadata: t.field({ type: EventMetadataRef, resolve: (e) => e.metadata }),
    recordedAt: t.field({ type: 'DateTime', resolve: (e) => e.recordedAt }),
    transactionId: t.string({ resolve: (e) => e.checkpoint.transactionId }),
    checkpoint: t.string({ description: 'Cursor in the global commit order', resolve: (e) => encodeCheckpoint(e.checkpoint) }),
    prevHash: t.exposeString('prevHash'),
    hash: t.exposeString('hash'),
  }),
});

const EventTypeEnum = builder.enumType('EventType', { values: EVENT_TYPES });

builder.queryField('events', (t) =>
  t.connection({
    type: EventRef,
    description: 'The global log in commit order (auditors). The cursor is the checkpoint: pass it to the events subscription to follow on.',
    authScopes: { auditor: true },
    args: {
      streamId: t.arg.string({ required: false }),
      types: t.arg({ type: [EventTypeEnum], required: false }),
      since: t.arg({ type: 'DateTime', required: false }),
      until: t.arg({ type: 'DateTime', required: false }),
    },
    resolve: async (_, args, ctx) => {
      const first = pageSize(args, 500, 50);
      if (args.streamId != null) textArg(args.streamId, 'streamId');
      const found = await ctx.runtime.store.queryEvents({
        after: args.after ? decodeCheckpoint(args.after) : START,
        limit: first + 1,
        ...(args.streamId ? { streamId: args.streamId } : {}),
        ...(args.types ? { types: args.types } : {}),
        ...(args.since ? { since: args.since } : {}),
        ...(args.until ? { until: args.until } : {}),
      });
      // Personal data decrypted for the auditor (ERASED where its key is gone); the hash covers the ciphertext.
      const events = await ctx.runtime.store.reveal(found);
      return forwardConnection(events, first, (e) => encodeCheckpoint(e.checkpoint), args.after);
    },
  }),
);

builder.subscriptionField('events', (t) =>
  t.field({
    type: EventRef,
    description: 'Live tail of the global log (auditors): every event after `after` (a checkpoint; default: from now), in commit order, once.',
    authScopes: { auditor: true },
    args: { after: t.arg.string({ required: false }) },
    subscribe: (_, args, ctx) =>
      liveSubscription(ctx, async function* (live) {
        const after = args.after ? decodeCheckpoint(args.after) : await ctx.runtime.store.headCheckpoint();
        for await (const event of ctx.runtime.store.subscribe({ after, signal: live.signal })) yield* await ctx.runtime.store.reveal([event]);
      }),
    resolve: (event) => event,
  }),
);
