import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Notifier } from '../database/notifier.js';
import type { Database } from '../database/schema.js';
import type { Alongside } from './alongside.js';
import { append, type AppendMetadata, type AppendOptions, type AppendResult, type NewEvent } from './append.js';
import type { Checkpoint } from './checkpoint.js';
import type { ExpectedVersion } from './expected-version.js';
import type { InlineProjection } from './inline-projection.js';
import { GroupCommit, type GroupCommitOptions } from './group-commit.js';
import { headCheckpoint, queryEvents, readAll, readStream, type EventQuery, type QuarantineHandler, type ReadAllResult, type ReadStreamOptions } from './read.js';
import type { FoldableEvent, RecordedEvent } from './recorded-event.js';
import { subscribe, type SubscribeOptions } from './subscribe.js';
import type { EventData } from './types.js';

type RequestedInClear = Extract<EventData<'ReportRequested'>, { title: string }>;
type RequestedEncrypted = Extract<EventData<'ReportRequested'>, { personal: unknown }>;

/**
 * Encrypts the personal fields of the events that carry them and decrypts them for readers
 * (reports/personal-data.ts, with the data keys outside the log); the log itself holds only the
 * ciphertext, and its hashes cover that.
 */
export interface PersonalDataCipher {
  /** The request encrypted under a new data key, and that key's row: append it alongside the request, so that both or neither are written. */
  encrypt(data: RequestedInClear): { data: RequestedEncrypted; dataKey: Alongside };
  /** The events with their personal fields decrypted (or shown as erased when the key is gone). */
  reveal<E extends FoldableEvent>(db: Kysely<Database>, events: readonly E[]): Promise<E[]>;
}

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
  /** Told once per process about each row of the log that cannot be read (metrics). */
  onQuarantine?: QuarantineHandler;
  /** Group commit of appends with a known expected version (./group-commit.ts); on unless false. */
  groupCommit?: GroupCommitOptions | false;
  /** Needed to request reports and to read their personal data (tests of the bare log go without). */
  personalData?: PersonalDataCipher;
}

/** Quarantined positions remembered per process, so each is logged and counted once. */
const QUARANTINE_MEMORY = 10_000;

/** The one way quire writes and reads its log. */
export class EventStore {
  readonly db: Kysely<Database>;
  readonly region: string;
  readonly machine: string | undefined;
  private readonly projections: InlineProjection[];
  private readonly quarantinedPositions = new Set<number>();
  private readonly groupCommit: GroupCommit | undefined;

  constructor(private readonly options: EventStoreOptions) {
    this.db = options.db;
    this.region = options.region;
    this.machine = options.machine;
    this.projections = [...(options.projections ?? [])];
    this.groupCommit = options.groupCommit === false ? undefined : new GroupCommit(options.groupCommit);
  }

  /** Registers a projection to be updated inside every append's transaction. */
  addProjection(projection: InlineProjection): void {
    this.projections.push(projection);
  }

  /** The cipher of personal data in events. */
  get personalData(): PersonalDataCipher {
    if (!this.options.personalData) throw new Error('this event store was made without a personal-data cipher (EventStoreOptions.personalData)');
    return this.options.personalData;
  }

  /** `events` with their personal data decrypted, for whoever shows or folds it. */
  reveal<E extends RecordedEvent>(events: readonly E[], db: Kysely<Database> = this.db): Promise<E[]> {
    return this.personalData.reveal(db, events);
  }

  append(streamId: string, expected: ExpectedVersion, events: readonly NewEvent[], meta?: AppendMetadata, options?: AppendOptions): Promise<AppendResult> {
    return append(
      {
        db: this.db,
        notifier: this.options.notifier,
        region: this.region,
        ...(this.machine ? { machine: this.machine } : {}),
        projections: this.projections,
        ...(this.groupCommit ? { groupCommit: this.groupCommit } : {}),
      },
      streamId,
      expected,
      events,
      meta,
      options,
    );
  }

  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    return readStream(this.db, streamId, options);
  }

  readAll(after?: Checkpoint, limit?: number): Promise<ReadAllResult> {
    return readAll(this.db, after, limit, this.quarantine);
  }

  /** The global log, filtered (auditors); unreadable rows are quarantined as in readAll. */
  queryEvents(q: EventQuery): Promise<RecordedEvent[]> {
    return queryEvents(this.db, q, this.quarantine);
  }

  /**
   * A row no reader of this process can read: logged and counted once, then skipped by every
   * global reader (the hub, subscriptions, the auditors' query); `audit verify` lists it.
   */
  readonly quarantine: QuarantineHandler = (event) => {
    if (this.quarantinedPositions.has(event.globalPosition)) return;
    if (this.quarantinedPositions.size >= QUARANTINE_MEMORY) this.quarantinedPositions.clear();
    this.quarantinedPositions.add(event.globalPosition);
    this.options.log.error({ quarantined: event }, 'event quarantined: it cannot be read by this version of quire and is skipped');
    this.options.onQuarantine?.(event);
  };

  headCheckpoint(): Promise<Checkpoint> {
    return headCheckpoint(this.db);
  }

  subscribe(options: SubscribeOptions = {}): AsyncGenerator<RecordedEvent> {
    const { db, catchUpDb, notifier, log, pollMs } = this.options;
    return subscribe({ db, ...(catchUpDb ? { catchUpDb } : {}), notifier, log, onQuarantine: this.quarantine }, { pollMs, ...options });
  }
}
