import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { violatedUniqueConstraint } from '../database/errors.js';
import type { Channel, Notifier } from '../database/notifier.js';
import type { Database } from '../database/schema.js';
import {
  IdempotencyConflictError,
  InvalidEventError,
  InvalidStreamIdError,
  WrongExpectedVersionError,
  type EventIssue,
} from './errors.js';
import { satisfies, type ExpectedVersion } from './expected-version.js';
import { storableJsonIssues } from './storable-json.js';
import { chainHashOfBody, GENESIS_HASH, hashedBody, type HashedFields } from './hash-chain.js';
import type { InlineProjection } from './inline-projection.js';
import { writeAlongside, type Alongside } from './alongside.js';
import type { GroupCommit } from './group-commit.js';
import { readStream } from './read.js';
import type { RecordedEvent } from './recorded-event.js';
import { EventMetadata, QuireEventSchema, SCHEMA_VERSIONS, type QuireEvent } from './types.js';
import { currentTraceparent, inSpan, tracingEnabled } from '../telemetry/spans.js';
import { ANY_CASE_UUID } from '../shared/report-input.js';

/** An event to append. Give `eventId` to make a retried append idempotent. */
export type NewEvent = QuireEvent & { eventId?: string };

/** Who asked, for the metadata of every event in the append. The region comes from the instance. */
export interface AppendMetadata {
  actor?: string | null;
  correlationId?: string;
  causationId?: string;
  requestId?: string;
  /** Defaults to the active span's (src/telemetry/spans.ts): absent while tracing is off. */
  traceparent?: string;
}

export interface AppendOptions {
  /** Rows written in the append's transaction, or not at all (./alongside.ts). */
  alongside?: readonly Alongside[];
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
  notifier: Notifier;
  region: string;
  /** This instance's machine, stamped beside the region (absent in tools that have none). */
  machine?: string;
  projections: readonly InlineProjection[];
  /** Appends with a known expected version go through it: several streams, one transaction (group-commit.ts). */
  groupCommit?: GroupCommit;
}

const STREAM_ID = /^[A-Za-z0-9_.:-]{1,200}$/;
/** `any` appends retry a lost race on the next version this many times. */
const ANY_RETRIES = 10;

export const EVENTS_CHANNEL = 'quire_events' satisfies Channel;

/**
 * Appends `events` to `streamId` if the stream is at `expected`, hash-chained, with this
 * instance's region and the caller's metadata; the rows given alongside and the inline projections
 * are written in the same transaction.
 * Throws InvalidEventError (nothing written), WrongExpectedVersionError, IdempotencyConflictError.
 */
export async function append(
  ctx: AppendContext,
  streamId: string,
  expected: ExpectedVersion,
  events: readonly NewEvent[],
  meta: AppendMetadata = {},
  options: AppendOptions = {},
): Promise<AppendResult> {
  if (!STREAM_ID.test(streamId)) throw new InvalidStreamIdError(streamId);
  if (typeof expected === 'number' && (!Number.isInteger(expected) || expected < 0)) {
    throw new RangeError(`expected version must be a non-negative integer, got ${expected}`);
  }
  const attributes = tracingEnabled() ? { 'quire.stream_id': streamId, 'quire.event_types': events.map((e) => e.type).join(','), ...(ctx.machine ? { 'quire.machine': ctx.machine } : {}) } : {};
  return inSpan('append', { attributes }, async () => {
    const traceparent = meta.traceparent ?? currentTraceparent();
    const metadata = { ...meta, ...(traceparent ? { traceparent } : {}), region: ctx.region, ...(ctx.machine ? { machine: ctx.machine } : {}) };
    const valid = validate(events, metadata);
    const callerIds = events.some((e) => e.eventId !== undefined);
    const alongside = options.alongside ?? [];

    // A known version needs no lock and no read: such appends to different streams can share a
    // transaction. `any` / `stream_exists` (a hot stream's path) stay one transaction each.
    const batchable = ctx.groupCommit && (expected === 'no_stream' || typeof expected === 'number');
    const result = batchable
      ? await ctx.groupCommit!.submit({ ctx, streamId, expected: expected as number | 'no_stream', valid, callerIds, alongside })
      : await appendWithRetries(ctx, streamId, expected, valid, callerIds, alongside);
    if (!result.idempotent) ctx.notifier.notify(EVENTS_CHANNEL, streamId);
    return result;
  });
}

export async function appendWithRetries(
  ctx: AppendContext,
  streamId: string,
  expected: ExpectedVersion,
  valid: ValidEvent[],
  callerIds: boolean,
  alongside: readonly Alongside[],
): Promise<AppendResult> {
  const knownVersion = expected === 'no_stream' ? 0 : typeof expected === 'number' ? expected : undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      // Fast path: a known version and nothing to project or write beside is one autocommitted statement.
      if (knownVersion !== undefined && ctx.projections.length === 0 && alongside.length === 0) {
        return await insertEvents(ctx.db, streamId, knownVersion, valid);
      }
      return await ctx.db.transaction().execute(async (trx) => {
        const version = knownVersion ?? (await lockedStreamVersion(trx, streamId, expected));
        const result = await insertEvents(trx, streamId, version, valid);
        await writeAlongside(trx, alongside);
        for (const projection of ctx.projections) await projection.apply(trx, result.events);
        return result;
      });
    } catch (err) {
      const constraint = violatedUniqueConstraint(err);
      const conflict = err instanceof WrongExpectedVersionError || constraint === 'events_stream_version_key';
      if (callerIds && (conflict || constraint === 'events_event_id_key')) {
        // Possibly this very append, retried after it already succeeded: answer as it did.
        const previous = await findAppended(ctx.db, streamId, valid);
        if (previous) return previous;
        if (!conflict) throw new IdempotencyConflictError(streamId, valid.map((e) => e.eventId));
      }
      if (constraint === 'events_stream_version_key' && knownVersion === undefined && attempt < ANY_RETRIES) continue;
      if (err instanceof WrongExpectedVersionError) throw err;
      if (conflict) throw new WrongExpectedVersionError(streamId, expected, await streamVersion(ctx.db, streamId));
      throw err;
    }
  }
}

/**
 * For `any` and `stream_exists`: the stream's current version, read under a per-stream advisory
 * lock so that concurrent appenders of this kind queue instead of racing for the same version.
 */
async function lockedStreamVersion(trx: Transaction<Database>, streamId: string, expected: ExpectedVersion): Promise<number> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${streamId}, 0))`.execute(trx);
  const actual = await streamVersion(trx, streamId);
  if (!satisfies(expected, actual)) throw new WrongExpectedVersionError(streamId, expected, actual);
  return actual;
}

export interface ValidEvent {
  eventId: string;
  event: QuireEvent;
  metadata: EventMetadata;
}

function validate(events: readonly NewEvent[], metadata: AppendMetadata & { region: string; machine?: string }): ValidEvent[] {
  if (events.length === 0) throw new InvalidEventError([{ index: 0, path: '', message: 'nothing to append' }]);
  const issues: EventIssue[] = [];
  const valid: ValidEvent[] = [];
  // Text jsonb cannot hold (NUL, lone surrogates) or nesting too deep to hash is refused here, as a
  // typed error, whoever the caller: PostgreSQL would otherwise fail the statement.
  for (const i of storableJsonIssues(metadata)) issues.push({ index: 0, path: `metadata.${i.path}`, message: i.message });
  events.forEach((raw, index) => {
    for (const i of storableJsonIssues(raw.data)) issues.push({ index, path: ['data', i.path].filter(Boolean).join('.'), message: i.message });
  });
  if (issues.length > 0) throw new InvalidEventError(issues);
  const meta = EventMetadata.safeParse({ actor: null, ...metadata });
  if (!meta.success) {
    for (const i of meta.error.issues) issues.push({ index: 0, path: `metadata.${i.path.join('.')}`, message: i.message });
  }
  events.forEach((raw, index) => {
    const { eventId = randomUUID(), ...candidate } = raw;
    if (!ANY_CASE_UUID.test(eventId)) issues.push({ index, path: 'eventId', message: 'must be a UUID' });
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

interface PreparedEvent extends HashedFields {
  /** canonical_json of the fields: what the hash covers after prev_hash. */
  body: string;
}

interface InsertedRow {
  event_id: string;
  global_position: number;
  transaction_id: string;
  prev_hash: string;
  hash: string;
}

/** The rows of one append, hashed bodies included, at versions after `version`. */
function prepare(streamId: string, version: number, events: ValidEvent[], recordedAt: Date): PreparedEvent[] {
  return events.map(({ eventId, event, metadata }, i): PreparedEvent => {
    const fields = {
      eventId,
      streamId,
      streamVersion: version + i + 1,
      type: event.type,
      schemaVersion: SCHEMA_VERSIONS[event.type],
      data: event.data,
      metadata,
      recordedAt,
    };
    return { ...fields, body: hashedBody(fields) };
  });
}

/** The append's result from its inserted rows (matched by event id). */
function toResult(streamId: string, version: number, events: ValidEvent[], prepared: PreparedEvent[], inserted: readonly InsertedRow[]): AppendResult {
  const byId = new Map(inserted.map((r) => [r.event_id, r]));
  const recorded = prepared.map((p, i): RecordedEvent => {
    const row = byId.get(p.eventId)!;
    return {
      ...events[i]!.event,
      eventId: p.eventId,
      streamId,
      streamVersion: p.streamVersion,
      globalPosition: row.global_position,
      schemaVersion: p.schemaVersion,
      metadata: events[i]!.metadata,
      recordedAt: p.recordedAt,
      checkpoint: { transactionId: row.transaction_id, globalPosition: row.global_position },
      prevHash: row.prev_hash,
      hash: row.hash,
    };
  });
  return { streamId, nextExpectedVersion: version + events.length, events: recorded, idempotent: false };
}

/** Appends `events` after version `version` in a single statement. */
async function insertEvents(
  db: Kysely<Database>,
  streamId: string,
  version: number,
  events: ValidEvent[],
): Promise<AppendResult> {
  const prepared = prepare(streamId, version, events, new Date());
  const inserted = version === 0 ? await insertNewStream(db, prepared) : await insertAfterHead(db, streamId, version, prepared);
  if (inserted.length === 0) throw new WrongExpectedVersionError(streamId, version, await streamVersion(db, streamId));
  return toResult(streamId, version, events, prepared, inserted);
}

/** One append of a batch: its stream, the version it expects (0 for no_stream), its events. */
export interface BatchedAppend {
  streamId: string;
  version: number;
  events: ValidEvent[];
}

/** Thrown inside a batch's transaction when an append's expected version does not hold: the batch is rolled back. */
export class BatchMismatch extends Error {}

/**
 * Several appends to different streams in one statement, each chained from its own stream's head
 * (the genesis hash for a new stream) by the database, as insertAfterHead does for one. An append
 * whose stream is shorter than it expects gets no rows (BatchMismatch); one whose stream is
 * longer, or a repeated event id, violates a unique key. Either way the statement, and the
 * caller's transaction, fail as a whole: the caller then appends each on its own.
 */
export async function insertBatch(db: Kysely<Database>, appends: readonly BatchedAppend[]): Promise<AppendResult[]> {
  const recordedAt = new Date();
  const prepared = appends.map((a) => prepare(a.streamId, a.version, a.events, recordedAt));
  const rows = prepared.flatMap((events, k) => events.map((e, n) => ({ k, n: n + 1, head: appends[k]!.version, e })));
  const column = <T>(f: (r: (typeof rows)[number]) => T) => rows.map(f);
  const { rows: inserted } = await sql<InsertedRow>`
    WITH RECURSIVE input AS (
      SELECT * FROM unnest(
        ${column((r) => r.k)}::int[], ${column((r) => r.n)}::int[], ${column((r) => r.head)}::bigint[],
        ${column((r) => r.e.streamId)}::text[], ${column((r) => r.e.eventId)}::uuid[], ${column((r) => r.e.streamVersion)}::bigint[],
        ${column((r) => r.e.type)}::text[], ${column((r) => r.e.schemaVersion)}::int[], ${column((r) => JSON.stringify(r.e.data))}::jsonb[],
        ${column((r) => JSON.stringify(r.e.metadata))}::jsonb[], ${column((r) => r.e.body)}::text[]
      ) AS i (k, n, head_version, stream_id, event_id, stream_version, type, schema_version, data, metadata, body)
    ),
    chain (k, n, prev_hash, hash) AS (
      SELECT input.k, input.n, base.hash, encode(sha256(convert_to(base.hash || input.body, 'UTF8')), 'hex')
      FROM input
      CROSS JOIN LATERAL (
        SELECT head.hash FROM events AS head WHERE head.stream_id = input.stream_id AND head.stream_version = input.head_version
        UNION ALL
        SELECT ${GENESIS_HASH}::text WHERE input.head_version = 0
      ) AS base
      WHERE input.n = 1
      UNION ALL
      SELECT chain.k, chain.n + 1, chain.hash, encode(sha256(convert_to(chain.hash || input.body, 'UTF8')), 'hex')
      FROM chain JOIN input ON input.k = chain.k AND input.n = chain.n + 1
    )
    INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, data, metadata, recorded_at, prev_hash, hash)
    SELECT input.event_id, input.stream_id, input.stream_version, input.type, input.schema_version, input.data,
           input.metadata, ${recordedAt}::timestamptz, chain.prev_hash, chain.hash
    FROM input JOIN chain USING (k, n)
    ORDER BY input.k, input.n
    RETURNING event_id, global_position, transaction_id::text AS transaction_id, prev_hash, hash`.execute(db);
  if (inserted.length !== rows.length) throw new BatchMismatch(`${rows.length - inserted.length} of ${rows.length} events had no stream head to follow`);
  return appends.map((a, k) => toResult(a.streamId, a.version, a.events, prepared[k]!, inserted));
}

/** A new stream starts from the genesis hash, so the whole chain is computed here; a plain INSERT. */
async function insertNewStream(db: Kysely<Database>, events: PreparedEvent[]): Promise<InsertedRow[]> {
  let prevHash = GENESIS_HASH;
  const rows = events.map((e) => {
    const hash = chainHashOfBody(prevHash, e.body);
    const row = {
      event_id: e.eventId,
      stream_id: e.streamId,
      stream_version: e.streamVersion,
      type: e.type,
      schema_version: e.schemaVersion,
      data: JSON.stringify(e.data),
      metadata: JSON.stringify(e.metadata),
      recorded_at: e.recordedAt,
      prev_hash: prevHash,
      hash,
    };
    prevHash = hash;
    return row;
  });
  return db
    .insertInto('events')
    .values(rows)
    .returning(['event_id', 'global_position', sql<string>`transaction_id::text`.as('transaction_id'), 'prev_hash', 'hash'])
    .execute();
}

/**
 * Appends after event `version` of an existing stream without reading its head first: the
 * database chains the hashes, sha256(prev_hash || body), from the hash of event `version`. No
 * rows come back when the stream is shorter than `version`; a longer one violates
 * (stream_id, stream_version).
 */
async function insertAfterHead(
  db: Kysely<Database>,
  streamId: string,
  version: number,
  events: PreparedEvent[],
): Promise<InsertedRow[]> {
  const column = <K extends keyof PreparedEvent>(key: K) => events.map((e) => e[key]);
  const { rows } = await sql<InsertedRow>`
    WITH RECURSIVE input AS (
      SELECT * FROM unnest(
        ${column('eventId')}::uuid[], ${column('streamVersion')}::bigint[], ${column('type')}::text[],
        ${column('schemaVersion')}::int[], ${events.map((e) => JSON.stringify(e.data))}::jsonb[],
        ${events.map((e) => JSON.stringify(e.metadata))}::jsonb[], ${column('body')}::text[]
      ) WITH ORDINALITY AS i (event_id, stream_version, type, schema_version, data, metadata, body, n)
    ),
    chain (n, prev_hash, hash) AS (
      SELECT 1::bigint, head.hash, encode(sha256(convert_to(head.hash || input.body, 'UTF8')), 'hex')
      FROM events AS head JOIN input ON input.n = 1
      WHERE head.stream_id = ${streamId} AND head.stream_version = ${version}
      UNION ALL
      SELECT chain.n + 1, chain.hash, encode(sha256(convert_to(chain.hash || input.body, 'UTF8')), 'hex')
      FROM chain JOIN input ON input.n = chain.n + 1
    )
    INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, data, metadata, recorded_at, prev_hash, hash)
    SELECT input.event_id, ${streamId}, input.stream_version, input.type, input.schema_version, input.data,
           input.metadata, ${events[0]!.recordedAt}::timestamptz, chain.prev_hash, chain.hash
    FROM input JOIN chain USING (n)
    ORDER BY n
    RETURNING event_id, global_position, transaction_id::text AS transaction_id, prev_hash, hash`.execute(db);
  return rows;
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
