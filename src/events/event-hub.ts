import type { Logger } from 'pino';
import type { EventStore } from './event-store.js';
import type { RecordedEvent } from './recorded-event.js';

type Listener = (event: RecordedEvent) => void;

/**
 * One tail of the global log per process, fanned out in memory: a thousand live subscribers cost
 * one reader, not a thousand. It follows the log through EventStore.subscribe (commit order,
 * nothing skipped, woken by NOTIFY from any instance) from the head at start.
 */
export class EventHub {
  private readonly byStream = new Map<string, Set<Listener>>();
  private readonly all = new Set<Listener>();
  private readonly controller = new AbortController();
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly log: Logger,
    /** Seconds from each event's commit to its dispatch here (quire_event_hub_lag_seconds). */
    private readonly onLag?: (seconds: number) => void,
  ) {}

  /** Starts following from the current head; resolves once the tail is positioned. */
  async start(): Promise<void> {
    if (this.running) return;
    const after = await this.store.headCheckpoint();
    this.running = (async () => {
      for await (const event of this.store.subscribe({ after, signal: this.controller.signal })) this.dispatch(event);
    })().catch((err) => this.log.error({ err }, 'event hub stopped'));
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.running;
  }

  /** Calls `listener` for every new event of one stream; returns the unsubscribe function. */
  onStream(streamId: string, listener: Listener): () => void {
    let set = this.byStream.get(streamId);
    if (!set) this.byStream.set(streamId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.byStream.delete(streamId);
    };
  }

  /** Listeners registered now (per stream and for every event): tests assert it returns to zero. */
  get listenerCount(): number {
    let n = this.all.size;
    for (const set of this.byStream.values()) n += set.size;
    return n;
  }

  /** Calls `listener` for every new event. */
  onAny(listener: Listener): () => void {
    this.all.add(listener);
    return () => this.all.delete(listener);
  }

  private dispatch(event: RecordedEvent): void {
    this.onLag?.((Date.now() - event.recordedAt.getTime()) / 1000);
    for (const listener of this.byStream.get(event.streamId) ?? []) this.safely(listener, event);
    for (const listener of this.all) this.safely(listener, event);
  }

  private safely(listener: Listener, event: RecordedEvent): void {
    try {
      listener(event);
    } catch (err) {
      this.log.error({ err }, 'event listener failed');
    }
  }
}

/**
 * Turns push callbacks into an async iterable of batches for GraphQL subscriptions: buffered (a
 * slow consumer never blocks the hub). A batch is everything pushed before the next macrotask, so
 * the events of one append (dispatched together) arrive together and a subscriber never sees a
 * state between them. `register` runs at once; its unregister function runs when `signal` aborts
 * (which also ends the iteration, even one waiting for a push that never comes) or the iteration
 * ends, whichever is first — and even if the iterable is never iterated at all.
 *
 * `untilNextMacrotask: false` (for a source that already pushes whole changes, such as
 * ReportChanges): a batch is what was pushed by the time the consumer resumes, without waiting a
 * macrotask — a setImmediate per subscriber per change, which is most of what a fan-out to
 * thousands would otherwise schedule.
 */
export function listenerBatches<T>(
  register: (push: (value: T) => void) => () => void,
  signal: AbortSignal,
  { untilNextMacrotask = true }: { untilNextMacrotask?: boolean } = {},
): AsyncIterable<T[]> {
  let queue: T[] = [];
  let wake: (() => void) | undefined;
  let unregister: (() => void) | undefined;
  const stop = () => {
    unregister?.();
    unregister = undefined;
    signal.removeEventListener('abort', stop);
    wake?.();
  };
  if (!signal.aborted) {
    unregister = register((value) => {
      queue.push(value);
      wake?.();
    });
    signal.addEventListener('abort', stop, { once: true });
  }
  return {
    async *[Symbol.asyncIterator]() {
      try {
        while (!signal.aborted) {
          if (queue.length === 0) {
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
            if (signal.aborted) return;
          }
          if (untilNextMacrotask) await new Promise<void>((resolve) => setImmediate(resolve));
          const batch = queue;
          queue = [];
          yield batch;
        }
      } finally {
        stop();
      }
    },
  };
}
