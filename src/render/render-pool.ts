import { availableParallelism } from 'node:os';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { RenderError } from './errors.js';
import type { FromWorker, RenderJob, ToWorker } from './protocol.js';

export type { RenderJob } from './protocol.js';

export interface RenderResult {
  pdf: Buffer;
  /** Counted in the written PDF. */
  pages: number;
  /** In the worker: params check, document build, layout and write. */
  renderMs: number;
  rendererVersion: string;
  /** The locale the template printed its labels, numbers and dates in, when it takes one. */
  locale?: string;
  /** Characters no shipped font could draw (as U+XXXX), printed as U+FFFD. */
  missingGlyphs?: string[];
}

export interface RenderOptions {
  /** 0..1 as pdfmake draws the pages (layout comes before the first call). */
  onProgress?: (fraction: number) => void;
  /** Aborting terminates the worker rendering the job (it is replaced) or drops it from the queue. */
  signal?: AbortSignal;
}

export interface RenderPoolOptions {
  /** Worker threads; default `os.availableParallelism()`. */
  size?: number;
  /** Per-worker heap limits: a render that exceeds them crashes only its worker. */
  resourceLimits?: ResourceLimits;
  /** Another worker entry (tests); it must speak the same protocol. */
  workerUrl?: URL;
  /**
   * A render still running after this long is ended: its worker is terminated (pdfmake cannot be
   * interrupted otherwise) and the job rejects with reason `timeout`. Queue time does not count.
   */
  timeoutMs?: number;
}

interface Pending {
  id: number;
  job: RenderJob;
  options: RenderOptions;
  resolve(result: RenderResult): void;
  reject(error: RenderError): void;
  settled: boolean;
  onAbort?: () => void;
  deadline?: ReturnType<typeof setTimeout>;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  current: Pending | null;
  /** The uncaught error that is about to end the worker, if any. */
  error?: Error;
}

const DEFAULT_WORKER = new URL('./worker-bootstrap.js', import.meta.url);

/**
 * Renders PDFs on worker threads so pdfmake's synchronous layout never blocks the event loop.
 * Jobs queue FIFO; each worker renders one at a time; a dead worker is replaced on demand.
 */
export class RenderPool {
  readonly size: number;
  private readonly slots = new Set<Slot>();
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: RenderPoolOptions = {}) {
    const size = options.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`render pool size must be a positive integer, got ${size}`);
    this.size = size;
  }

  /** Starts every worker and waits until each has loaded pdfmake and the templates. */
  async warmUp(): Promise<void> {
    while (!this.closed && this.slots.size < this.size) this.spawn();
    await Promise.all([...this.slots].map((s) => s.ready));
  }

  render(job: RenderJob, options: RenderOptions = {}): Promise<RenderResult> {
    return new Promise<RenderResult>((resolve, reject) => {
      if (this.closed) return reject(new RenderError('closed', 'the render pool is closed'));
      if (options.signal?.aborted) return reject(aborted(options.signal));
      const pending: Pending = { id: this.nextId++, job, options, resolve, reject, settled: false };
      if (options.signal) {
        const signal = options.signal;
        pending.onAbort = () => this.abort(pending, signal);
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.queue.push(pending);
      this.dispatch();
    });
  }

  /** Terminates every worker; queued and running jobs reject with reason `closed`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.queue.splice(0)) this.settle(p, new RenderError('closed', 'the render pool was closed'));
    const slots = [...this.slots];
    for (const s of slots) if (s.current) this.settle(s.current, new RenderError('closed', 'the render pool was closed'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
    this.slots.clear();
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = [...this.slots].find((s) => s.current === null);
      if (!slot) {
        if (this.slots.size >= this.size) return;
        slot = this.spawn();
      }
      const pending = this.queue.shift()!;
      slot.current = pending;
      slot.worker.ref();
      if (this.options.timeoutMs !== undefined) {
        const ms = this.options.timeoutMs;
        // The clock starts when the worker has booted (a fresh one loads pdfmake first).
        void slot.ready.then(() => {
          if (pending.settled) return;
          pending.deadline = setTimeout(() => {
            if (pending.settled || slot.current !== pending) return;
            this.settle(pending, new RenderError('timeout', `the render ran longer than ${ms} ms; its worker was terminated`));
            void slot.worker.terminate();
          }, ms);
        });
      }
      const msg: ToWorker = { type: 'render', id: pending.id, job: pending.job };
      slot.worker.postMessage(msg);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(this.options.workerUrl ?? DEFAULT_WORKER, {
      ...(this.options.resourceLimits ? { resourceLimits: this.options.resourceLimits } : {}),
    });
    let markReady!: () => void;
    const slot: Slot = { worker, current: null, ready: new Promise<void>((r) => (markReady = r)) };
    this.slots.add(slot);
    // An idle pool must not keep the process alive; a busy worker does (ref on dispatch).
    worker.unref();
    worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'ready') return markReady();
      const pending = slot.current;
      if (!pending || pending.id !== msg.id) return;
      if (msg.type === 'progress') {
        pending.options.onProgress?.(msg.fraction);
        return;
      }
      slot.current = null;
      worker.unref();
      if (msg.type === 'done') {
        const pdf = Buffer.from(msg.pdf.buffer, msg.pdf.byteOffset, msg.pdf.byteLength);
        this.settle(pending, null, {
          pdf,
          pages: msg.pages,
          renderMs: msg.renderMs,
          rendererVersion: msg.rendererVersion,
          ...(msg.locale ? { locale: msg.locale } : {}),
          ...(msg.missingGlyphs?.length ? { missingGlyphs: msg.missingGlyphs } : {}),
        });
      } else {
        this.settle(pending, new RenderError(msg.reason, msg.message));
      }
      this.dispatch();
    });
    worker.on('error', (err) => {
      slot.error = err instanceof Error ? err : new Error(String(err));
    });
    worker.on('exit', (code) => {
      markReady();
      this.slots.delete(slot);
      const pending = slot.current;
      if (pending && !pending.settled) {
        const why = slot.error ? `${slot.error.name}: ${slot.error.message}` : `exit code ${code}`;
        const outOfMemory = (slot.error as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
        this.settle(
          pending,
          outOfMemory
            ? new RenderError('out_of_memory', `the render needed more memory than its worker may use (${why})`, { cause: slot.error })
            : new RenderError('crashed', `render worker died (${why})`, { cause: slot.error }),
        );
      }
      if (!this.closed) this.dispatch();
    });
    return slot;
  }

  private abort(pending: Pending, signal: AbortSignal): void {
    if (pending.settled) return;
    const queued = this.queue.indexOf(pending);
    if (queued >= 0) this.queue.splice(queued, 1);
    this.settle(pending, aborted(signal));
    const slot = [...this.slots].find((s) => s.current === pending);
    // pdfmake cannot be interrupted mid-layout: the only way to stop the CPU work is to end the thread.
    if (slot) void slot.worker.terminate();
  }

  private settle(pending: Pending, error: RenderError | null, result?: RenderResult): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.deadline);
    if (pending.onAbort) pending.options.signal?.removeEventListener('abort', pending.onAbort);
    if (error) pending.reject(error);
    else pending.resolve(result!);
  }
}

function aborted(signal: AbortSignal): RenderError {
  return new RenderError('aborted', 'the render was cancelled', { cause: signal.reason });
}
