import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Notifier } from '../database/notifier.js';
import type { Database } from '../database/schema.js';
import { append, type AppendMetadata, type AppendResult, type NewEvent } from './append.js';
import type { Checkpoint } from './checkpoint.js';
import type { ExpectedVersion } from './expected-version.js';
import type { InlineProjection } from './inline-projection.js';
import { headCheckpoint, readAll, readStream, type ReadAllResult, type ReadStreamOptions } from './read.js';
import type { RecordedEvent } from './recorded-event.js';
import { subscribe, type SubscribeOptions } from './subscribe.js';

export interface EventStoreOptions {
  db: Kysely<Database>;
  /** Where subscriptions catch up from: a read replica of `db` when it can serve (see subscribe). */
  catchUpDb?: () => Promise<Kysely<Database>>;
  notifier: Notifier;
  /** Stamped on every event this instance appends. */
  region: string;
  /** Stamped beside the region on every event this instance appends. */
  machine?: string;
  log: Logger;
  projections?: readonly InlineProjection[];
  /** Default fallback poll interval of subscriptions. */
  pollMs?: number;
}

/** The one way quire writes and reads its log. */
export class EventStore {
  readonly db: Kysely<Database>;
  readonly region: string;
  readonly machine: string | undefined;
  private readonly projections: InlineProjection[];

  constructor(private readonly options: EventStoreOptions) {
    this.db = options.db;
    this.region = options.region;
    this.machine = options.machine;
    this.projections = [...(options.projections ?? [])];
  }

  /** Registers a projection to be updated inside every append's transaction. */
  addProjection(projection: InlineProjection): void {
    this.projections.push(projection);
  }

  append(streamId: string, expected: ExpectedVersion, events: readonly NewEvent[], meta?: AppendMetadata): Promise<AppendResult> {
    return append({ db: this.db, notifier: this.options.notifier, region: this.region, ...(this.machine ? { machine: this.machine } : {}), projections: this.projections }, streamId, expected, events, meta);
  }

  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    return readStream(this.db, streamId, options);
  }

  readAll(after?: Checkpoint, limit?: number): Promise<ReadAllResult> {
    return readAll(this.db, after, limit);
  }

  headCheckpoint(): Promise<Checkpoint> {
    return headCheckpoint(this.db);
  }

  subscribe(options: SubscribeOptions = {}): AsyncGenerator<RecordedEvent> {
    const { db, catchUpDb, notifier, log, pollMs } = this.options;
    return subscribe({ db, ...(catchUpDb ? { catchUpDb } : {}), notifier, log }, { pollMs, ...options });
  }
}
