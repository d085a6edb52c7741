import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Logger } from 'pino';

/** Channels quire NOTIFYs on. PGlite can only LISTEN before other work starts, so all are known up-front. */
export const CHANNELS = ['quire_events', 'quire_progress'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * Wakes readers when something was written. A notification is a hint, never data: readers always
 * catch up from their own checkpoint, so a lost notification (or a lost connection) delays but
 * never loses anything. After a reconnect every handler is woken once, since notifications sent
 * while the connection was down are gone.
 */
export interface Notifier {
  on(channel: Channel, handler: (payload: string) => void): () => void;
  /** Handlers registered on `channel` in this process (tests assert subscriptions leave none behind). */
  listenerCount(channel: Channel): number;
  /**
   * Wakes this process's handlers at once and, coalesced with other calls made meanwhile, every
   * listener on the database. Called after a commit: a NOTIFY inside the writing transaction would
   * serialise every commit on PostgreSQL's notify queue lock.
   */
  notify(channel: Channel, payload: string): void;
  close(): Promise<void>;
}

/** NOTIFY payloads are limited to 8000 bytes; a batch that would not fit says "*" (anything). */
const MAX_PAYLOAD = 7000;

/**
 * Collects payloads per channel for a few milliseconds and sends them as one NOTIFY each, at most
 * one batch per window: under load, hundreds of appends share one notification (each NOTIFY is a
 * transaction of its own on the server, so sending them back to back cost as much as the appends).
 */
const NOTIFY_WINDOW_MS = 5;

class NotifyBatcher {
  private pending = new Map<Channel, Set<string>>();
  private flushing = false;

  constructor(private readonly send: (channel: Channel, payload: string) => Promise<void>) {}

  add(channel: Channel, payload: string): void {
    let set = this.pending.get(channel);
    if (!set) this.pending.set(channel, (set = new Set()));
    set.add(payload);
    if (!this.flushing) {
      this.flushing = true;
      setTimeout(() => void this.flush(), NOTIFY_WINDOW_MS).unref();
    }
  }

  /** Sends what has gathered, then — if more came meanwhile — waits a full window again. */
  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    for (const [channel, payloads] of batch) {
      const joined = [...payloads].join(',');
      // A lost notification only delays readers until their next poll.
      await this.send(channel, joined.length > MAX_PAYLOAD ? '*' : joined).catch(() => {});
    }
    if (this.pending.size > 0) setTimeout(() => void this.flush(), NOTIFY_WINDOW_MS).unref();
    else this.flushing = false;
  }
}

class HandlerSet {
  private readonly handlers = new Map<Channel, Set<(payload: string) => void>>();

  on(channel: Channel, handler: (payload: string) => void): () => void {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  count(channel: Channel): number {
    return this.handlers.get(channel)?.size ?? 0;
  }

  emit(channel: string, payload: string): void {
    for (const handler of this.handlers.get(channel as Channel) ?? []) handler(payload);
  }

  wakeAll(): void {
    for (const [channel] of this.handlers) this.emit(channel, '');
  }
}

/** LISTEN on a dedicated connection to the primary, reconnecting with backoff when it drops. */
export class PostgresNotifier implements Notifier {
  static readonly applicationName = 'quire-listener';
  private readonly handlers = new HandlerSet();
  private client: pg.Client | undefined;
  private closed = false;
  private readonly batcher = new NotifyBatcher(async (channel, payload) => {
    await this.client?.query('SELECT pg_notify($1, $2)', [channel, payload]);
  });
  private retryTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly connectionString: string,
    private readonly log: Logger,
  ) {}

  static async start(connectionString: string, log: Logger): Promise<PostgresNotifier> {
    const notifier = new PostgresNotifier(connectionString, log);
    await notifier.connect();
    return notifier;
  }

  on(channel: Channel, handler: (payload: string) => void): () => void {
    return this.handlers.on(channel, handler);
  }

  listenerCount(channel: Channel): number {
    return this.handlers.count(channel);
  }

  notify(channel: Channel, payload: string): void {
    this.handlers.emit(channel, payload);
    this.batcher.add(channel, payload);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: PostgresNotifier.applicationName,
    });
    client.on('notification', (msg) => this.handlers.emit(msg.channel, msg.payload ?? ''));
    client.on('error', (err) => {
      this.log.warn({ err }, 'notifier connection lost');
      this.drop(client);
    });
    client.on('end', () => this.drop(client));
    await client.connect();
    for (const channel of CHANNELS) await client.query(`LISTEN ${channel}`);
    this.client = client;
  }

  private drop(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('notification');
    void client.end().catch(() => {});
    this.scheduleReconnect(100);
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(async () => {
      this.retryTimer = undefined;
      if (this.closed) return;
      try {
        await this.connect();
        this.log.info('notifier reconnected');
        this.handlers.wakeAll();
      } catch (err) {
        this.log.warn({ err }, 'notifier reconnect failed');
        this.scheduleReconnect(Math.min(delayMs * 2, 5000));
      }
    }, delayMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}

/** PGlite delivers NOTIFY to listeners of the same instance, which is all an embedded database has. */
export class PGliteNotifier implements Notifier {
  private readonly handlers = new HandlerSet();
  private unlisteners: Array<() => Promise<void>> = [];

  /** Everything shares one embedded database, so waking this process's handlers is enough. */
  notify(channel: Channel, payload: string): void {
    this.handlers.emit(channel, payload);
  }

  static async start(pglite: PGlite): Promise<PGliteNotifier> {
    const notifier = new PGliteNotifier();
    for (const channel of CHANNELS) {
      notifier.unlisteners.push(await pglite.listen(channel, (payload) => notifier.handlers.emit(channel, payload)));
    }
    return notifier;
  }

  on(channel: Channel, handler: (payload: string) => void): () => void {
    return this.handlers.on(channel, handler);
  }

  listenerCount(channel: Channel): number {
    return this.handlers.count(channel);
  }

  async close(): Promise<void> {
    for (const unlisten of this.unlisteners) await unlisten().catch(() => {});
    this.unlisteners = [];
  }
}
