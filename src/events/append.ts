import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { violatedUniqueConstraint } from '../database/errors.js';
import type { Database } from '../database/schema.js';
import {
  IdempotencyConflictError,
  InvalidEventError,
  InvalidStreamIdError,
  WrongExpectedVersionError,
  type EventIssue,
} from './errors.js';
import { satisfies, type ExpectedVersion } from './expected-version.js';
import { chainHash, GENESIS_HASH } from './hash-chain.js';
import type { InlineProjection } from './inline-projection.js';
import { readStream } from './read.js';
import type { RecordedEvent } from './recorded-event.js';
import { EventMetadata, QuireEventSchema, SCHEMA_VERSIONS, type QuireEvent } from './types.js';

/** An event to append. Give `eventId` to make a retried append idempotent. */
export type NewEvent = QuireEvent & { eventId?: string };

/** Who asked, for the metadata of every event in the append. The region comes from the instance. */
export interface AppendMetadata {
  actor?: string | null;
  correlationId?: string;
  causationId?: string;
  requestId?: string;
}

export interface AppendResult {
  streamId: string;
  /** The stream's version after the append: pass it as the expected version of the next one. */
  nextExpectedVersion: number;
  events: RecordedEvent[];
  /** True when these event ids were already appended and nothing was written this time. */
  idempotent: boolean;
}

export interface AppendContext {
  db: Kysely<Database>;
  region: string;
  projections: readonly InlineProjection[];
}

const STREAM_ID = /^[A-Za-z0-9_.:-]{1,200}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** `any` appends retry a lost race on the next version this many times. */
const ANY_RETRIES = 10;

export const EVENTS_CHANNEL = 'quire_events';

export async function append(
  ctx: AppendContext,
  streamId: string,
  expected: ExpectedVersion,
  events: readonly NewEvent[],
  meta: AppendMetadata = {},
): Promise<AppendResult> {
  if (!STREAM_ID.test(streamId)) throw new InvalidStreamIdError(streamId);
  if (typeof expected === 'number' && (!Number.isInteger(expected) || expected < 0)) {
    throw new RangeError(`expected version must be a non-negative integer, got ${expected}`);
  }
  const valid = validate(events, { ...meta, region: ctx.region });
  const callerIds = events.some((e) => e.eventId !== undefined);

  for (let attempt = 0; ; attempt++) {
    try {
      return await ctx.db.transaction().execute((trx) => write(trx, ctx, streamId, expected, valid, callerIds));
    } catch (err) {
      const constraint = violatedUniqueConstraint(err);
      if (constraint === 'events_event_id_key' && callerIds) {
        // A concurrent copy of this same append won: answer as the retry it is.
        const previous = await findAppended(ctx.db, streamId, valid);
        if (previous) return previous;
        throw new IdempotencyConflictError(streamId, valid.map((e) => e.eventId));
      }
      if (constraint === 'events_stream_version_key') {
        if (expected === 'any' && attempt < ANY_RETRIES) continue;
        throw new WrongExpectedVersionError(streamId, expected, await streamVersion(ctx.db, streamId));
      }
      throw err;
    }
  }
}

interface ValidEvent {
  eventId: string;
  event: QuireEvent;
  metadata: EventMetadata;
}

function validate(events: readonly NewEvent[], metadata: AppendMetadata & { region: string }): ValidEvent[] {
  if (events.length === 0) throw new InvalidEventError([{ index: 0, path: '', message: 'nothing to append' }]);
  const issues: EventIssue[] = [];
  const valid: ValidEvent[] = [];
  const meta = EventMetadata.safeParse({ actor: null, ...metadata });
  if (!meta.success) {
    for (const i of meta.error.issues) issues.push({ index: 0, path: `metadata.${i.path.join('.')}`, message: i.message });
  }
  events.forEach((raw, index) => {
    const { eventId = randomUUID(), ...candidate } = raw;
    if (!UUID.test(eventId)) issues.push({ index, path: 'eventId', message: 'must be a UUID' });
    const parsed = QuireEventSchema.safeParse(candidate);
    if (!parsed.success) {
      for (const i of parsed.error.issues) issues.push({ index, path: i.path.join('.'), message: i.message });
      return;
    }
    if (meta.success) valid.push({ eventId: eventId.toLowerCase(), event: parsed.data, metadata: meta.data });
  });
  if (new Set(valid.map((v) => v.eventId)).size !== valid.length) {
    issues.push({ index: 0, path: 'eventId', message: 'the same event id twice in one append' });
  }
  if (issues.length > 0) throw new InvalidEventError(issues);
  return valid;
}

async function write(
  trx: Transaction<Database>,
  ctx: AppendContext,
  streamId: string,
  expected: ExpectedVersion,
  events: ValidEvent[],
  callerIds: boolean,
): Promise<AppendResult> {
  if (callerIds) {
    const previous = await findAppended(trx, streamId, events);
    if (previous) return previous;
  }

  // The stream head and the clock in one round trip; recorded_at is hashed, so it is fixed here.
  const { rows } = await sql<{ now: Date; version: number | null; hash: string | null }>`
    SELECT date_trunc('milliseconds', statement_timestamp()) AS now, last.stream_version AS version, last.hash
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
      SELECT stream_version, hash FROM events WHERE stream_id = ${streamId}
      ORDER BY stream_version DESC LIMIT 1
    ) AS last ON true`.execute(trx);
  const head = rows[0]!;
  const actual = head.version ?? 0;
  if (!satisfies(expected, actual)) throw new WrongExpectedVersionError(streamId, expected, actual);

  let prevHash = head.hash ?? GENESIS_HASH;
  const recordedAt = new Date(head.now);
  const rowsToInsert = events.map(({ eventId, event, metadata }, i) => {
    const fields = {
      eventId,
      streamId,
      streamVersion: actual + i + 1,
      type: event.type,
      schemaVersion: SCHEMA_VERSIONS[event.type],
      data: event.data,
      metadata,
      recordedAt,
    };
    const hash = chainHash(prevHash, fields);
    const row = { ...fields, prevHash, hash };
    prevHash = hash;
    return row;
  });

  const inserted = await trx
    .with('inserted', (db) =>
      db
        .insertInto('events')
        .values(
          rowsToInsert.map((r) => ({
            event_id: r.eventId,
            stream_id: r.streamId,
            stream_version: r.streamVersion,
            type: r.type,
            schema_version: r.schemaVersion,
            data: JSON.stringify(r.data),
            metadata: JSON.stringify(r.metadata),
            recorded_at: r.recordedAt,
            prev_hash: r.prevHash,
            hash: r.hash,
          })),
        )
        .returning(['event_id', 'global_position', sql<string>`transaction_id::text`.as('transaction_id')]),
    )
    .selectFrom('inserted')
    .select(['event_id', 'global_position', 'transaction_id', sql`pg_notify(${EVENTS_CHANNEL}, ${streamId})`.as('notified')])
    .execute();
  const positions = new Map(inserted.map((r) => [r.event_id, r]));

  const recorded = rowsToInsert.map((r, i): RecordedEvent => {
    const pos = positions.get(r.eventId)!;
    return {
      ...events[i]!.event,
      eventId: r.eventId,
      streamId,
      streamVersion: r.streamVersion,
      globalPosition: pos.global_position,
      schemaVersion: r.schemaVersion,
      metadata: r.metadata,
      recordedAt: r.recordedAt,
      checkpoint: { transactionId: pos.transaction_id, globalPosition: pos.global_position },
      prevHash: r.prevHash,
      hash: r.hash,
    };
  });

  for (const projection of ctx.projections) await projection.apply(trx, recorded);

  return { streamId, nextExpectedVersion: actual + events.length, events: recorded, idempotent: false };
}

/**
 * If these event ids were already appended to this stream, in this order and with the same
 * types, the earlier result; if none were, null; anything in between is a conflict.
 */
async function findAppended(
  db: Kysely<Database>,
  streamId: string,
  events: ValidEvent[],
): Promise<AppendResult | null> {
  const ids = events.map((e) => e.eventId);
  const found = await db
    .selectFrom('events')
    .select(['event_id', 'stream_id', 'stream_version', 'type'])
    .where('event_id', 'in', ids)
    .orderBy('stream_version')
    .execute();
  if (found.length === 0) return null;
  const matches =
    found.length === events.length &&
    found.every(
      (row, i) =>
        row.stream_id === streamId &&
        row.event_id === ids[i] &&
        row.type === events[i]!.event.type &&
        row.stream_version === found[0]!.stream_version + i,
    );
  if (!matches) throw new IdempotencyConflictError(streamId, found.map((r) => r.event_id));
  const recorded = await readStream(db, streamId, { fromVersion: found[0]!.stream_version, limit: found.length });
  return {
    streamId,
    nextExpectedVersion: found[found.length - 1]!.stream_version,
    events: recorded,
    idempotent: true,
  };
}

async function streamVersion(db: Kysely<Database>, streamId: string): Promise<number> {
  const row = await db
    .selectFrom('events')
    .select((eb) => eb.fn.max('stream_version').as('version'))
    .where('stream_id', '=', streamId)
    .executeTakeFirst();
  return Number(row?.version ?? 0);
}
