import { Worker } from 'node:worker_threads';
import type { TextRow } from '../events/copy-rows.js';
import { packRows, unpackOrderRows, type CheckedBatch, type RowVerdicts } from './row-checks.js';

/** `rows` packed (row-checks.ts packRows), or `copy`: whole rows of COPY text (events/copy-text.ts), transferred. */
export type ToHashWorker = { id: number; rows: unknown[] } | { id: number; copy: Uint8Array };
/** `order`: for a `copy` batch, the rows' ORDER_FIELDS packed (packOrderRows). */
export type FromHashWorker = { id: number; verdicts: RowVerdicts; order?: unknown[] } | { id: number; error: string };

export interface HashPoolOptions {
  /** Worker threads (≥ 1). */
  size: number;
  /** Another worker entry (tests); it must speak the same protocol. */
  workerUrl?: URL;
}

interface Job {
  resolve(reply: { verdicts: RowVerdicts; order?: unknown[] }): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  /** Jobs sent to this worker, answered in the order sent. */
  jobs: Map<number, Job>;
  error?: Error;
}

const DEFAULT_WORKER = new URL('./hash-worker.js', import.meta.url);

/**
 * A worker's young generation. A batch's rows live while it is checked (~1–2 MB), and V8's default
 * young generation copies them again at every scavenge: GC was ~18% of a worker's time (300,000
 * events, CPU profile); with 64 MB ~7%. Bounded: 64 MB a worker at most.
 */
const YOUNG_GENERATION_MB = 64;

/**
 * Worker threads that run row-checks.ts's checkRows on batches, round robin. Small on purpose
 * (no queue of its own, no restarts): the caller bounds how many batches are in flight, and a
 * worker that dies fails every batch it held and every later one — a verify must then fail,
 * never report a log it did not check.
 */
export class HashPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private next = 0;
  private broken: Error | null = null;
  private closed = false;

  constructor(options: HashPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError(`hash pool size must be a positive integer, got ${options.size}`);
    for (let i = 0; i < options.size; i++) this.slots.push(this.spawn(options.workerUrl ?? DEFAULT_WORKER));
  }

  async check(rows: readonly TextRow[]): Promise<RowVerdicts> {
    return (await this.send((id) => ({ id, rows: packRows(rows) }))).verdicts;
  }

  /**
   * Parses and checks whole rows of COPY text of EVENT_COPY_COLUMNS. `copy`'s buffer is transferred
   * (not copied): the caller must not use it afterwards.
   */
  async checkCopy(copy: Uint8Array): Promise<CheckedBatch> {
    const reply = await this.send((id) => ({ id, copy }), [copy.buffer as ArrayBuffer]);
    return { rows: unpackOrderRows(reply.order ?? []), verdicts: reply.verdicts };
  }

  private send(message: (id: number) => ToHashWorker, transfer: ArrayBuffer[] = []): Promise<{ verdicts: RowVerdicts; order?: unknown[] }> {
    return new Promise((resolve, reject) => {
      if (this.broken) return reject(this.broken);
      if (this.closed) return reject(new Error('the hash pool is closed'));
      const slot = this.slots[this.next++ % this.slots.length]!;
      const id = this.nextId++;
      slot.jobs.set(id, { resolve, reject });
      slot.worker.postMessage(message(id), transfer);
    });
  }

  /** Terminates every worker; batches still out reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(url: URL): Slot {
    const slot: Slot = { worker: new Worker(url, { resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } }), jobs: new Map() };
    slot.worker.on('message', (msg: FromHashWorker) => {
      const job = slot.jobs.get(msg.id);
      if (!job) return;
      slot.jobs.delete(msg.id);
      if ('error' in msg) job.reject(new Error(`hash worker failed: ${msg.error}`));
      else job.resolve(msg);
    });
    slot.worker.on('error', (err) => {
      slot.error = err instanceof Error ? err : new Error(String(err));
    });
    slot.worker.on('exit', (code) => {
      const why = slot.error ? `${slot.error.name}: ${slot.error.message}` : `exit code ${code}`;
      const error = new Error(this.closed ? 'the hash pool was closed' : `hash worker died (${why})`, { cause: slot.error });
      if (!this.closed) this.broken ??= error;
      for (const job of slot.jobs.values()) job.reject(error);
      slot.jobs.clear();
    });
    return slot;
  }
}
