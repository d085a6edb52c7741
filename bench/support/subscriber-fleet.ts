/**
 * The parent's side of bench:subscriptions' client processes (subscriber-process.ts): forks them,
 * hands each its share of the clients, and waits for every child's deliveries of one append.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deliveryKey, now, type ClientSpec, type FromChild, type Operation, type ToChild } from './subscriber-process.js';

const RUN_TS = fileURLToPath(new URL('../../bin/run-ts.js', import.meta.url));
const CHILD = fileURLToPath(new URL('./subscriber-process.ts', import.meta.url));

export interface Delivery {
  /** Milliseconds from the append call to each delivery (one per subscribed client). */
  latencies: number[];
  /** Clients that should have received it and did not within the timeout. */
  missed: number;
}

class Child {
  private readonly waiters: Array<{ type: FromChild['type']; key?: string; resolve: (m: FromChild) => void }> = [];
  constructor(readonly process: ChildProcess) {
    process.on('message', (m: FromChild) => {
      if (m.type === 'error') {
        console.error(`subscriber process ${process.pid}: ${m.message}`);
        return;
      }
      const i = this.waiters.findIndex((w) => w.type === m.type && (w.key === undefined || ('key' in m && m.key === w.key)));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
    });
  }
  send(message: ToChild): void {
    this.process.send(message);
  }
  next<T extends FromChild['type']>(type: T, key?: string): Promise<Extract<FromChild, { type: T }>> {
    return new Promise((resolve) => this.waiters.push({ type, ...(key === undefined ? {} : { key }), resolve: resolve as (m: FromChild) => void }));
  }
  ask<T extends FromChild['type']>(message: ToChild, type: T): Promise<Extract<FromChild, { type: T }>> {
    const answer = this.next(type);
    this.send(message);
    return answer;
  }
}

export class SubscriberFleet {
  private readonly children: Child[];
  /** Per child: reportId → how many of its clients subscribe to it. */
  private readonly counts: Array<Map<string, number>>;

  /**
   * Client i goes to child i % processes. `receivers(spec)`: the reports whose changes that
   * client is sent (its own report for reportStatus, every report of its user for viewerReports).
   */
  constructor(
    private readonly specs: ClientSpec[],
    processes: number,
    private readonly operation: Operation,
    receivers: (spec: ClientSpec) => string[],
  ) {
    this.children = Array.from({ length: processes }, () => new Child(fork(RUN_TS, [CHILD], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })));
    this.counts = this.children.map(() => new Map());
    specs.forEach((spec, i) => {
      const counts = this.counts[i % processes]!;
      for (const reportId of receivers(spec)) counts.set(reportId, (counts.get(reportId) ?? 0) + 1);
    });
  }

  private share(k: number): ClientSpec[] {
    return this.specs.filter((_, i) => i % this.children.length === k);
  }

  pids(): number[] {
    return this.children.map((c) => c.process.pid!);
  }

  async connect(url: string, batch: number): Promise<{ ok: number; failed: number; firstError?: string; ms: number }> {
    const answers = await Promise.all(this.children.map((c, k) => c.ask({ type: 'connect', url, clients: this.share(k), batch }, 'connected')));
    return { ok: sum(answers.map((a) => a.ok)), failed: sum(answers.map((a) => a.failed)), ...firstError(answers), ms: Math.max(...answers.map((a) => a.ms)) };
  }

  /** Subscribes every client; resolves once each has its first state (or failed). */
  async subscribe(batch: number): Promise<{ ok: number; failed: number; firstError?: string; ms: number; versions: Map<string, number> }> {
    const answers = await Promise.all(this.children.map((c) => c.ask({ type: 'subscribe', batch, operation: this.operation }, 'subscribed')));
    const versions = new Map<string, number>();
    for (const a of answers) for (const [id, v] of Object.entries(a.versions)) versions.set(id, Math.max(v, versions.get(id) ?? 0));
    return { ok: sum(answers.map((a) => a.ok)), failed: sum(answers.map((a) => a.failed)), ...firstError(answers), ms: Math.max(...answers.map((a) => a.ms)), versions };
  }

  /**
   * Each child's clock minus this process's, estimated from the IPC round trip with the smallest
   * time (± half of it): both stamp `performance.timeOrigin + performance.now()`.
   */
  async clockOffsets(rounds = 20): Promise<Array<{ offsetMs: number; plusMinusMs: number }>> {
    const out = [];
    for (const child of this.children) {
      let best = { offsetMs: NaN, plusMinusMs: Infinity };
      for (let i = 0; i < rounds; i++) {
        const t = now();
        const { child: at } = await child.ask({ type: 'ping', t }, 'pong');
        const back = now();
        if ((back - t) / 2 < best.plusMinusMs) best = { offsetMs: at - (t + back) / 2, plusMinusMs: (back - t) / 2 };
      }
      out.push(best);
    }
    return out;
  }

  /**
   * Announces the delivery of `version` of `reportId` (call before the append) and returns a
   * promise of its latencies from `t0()`, read once the append call has been made.
   */
  expect(reportId: string, version: number, t0: () => number, timeoutMs = 10_000): Promise<Delivery> {
    const key = deliveryKey(reportId, version);
    const waiting = this.children
      .map((child, k) => ({ child, count: this.counts[k]!.get(reportId) ?? 0 }))
      .filter((w) => w.count > 0)
      .map(({ child, count }) => {
        const answer = child.next('delivered', key);
        child.send({ type: 'expect', key, count });
        const timer = setTimeout(() => child.send({ type: 'flush', key }), timeoutMs);
        return answer.then((m) => (clearTimeout(timer), { times: m.times, missed: count - m.times.length }));
      });
    return Promise.all(waiting).then((answers) => {
      const start = t0();
      return { latencies: answers.flatMap((a) => a.times.map((t) => t - start)), missed: sum(answers.map((a) => a.missed)) };
    });
  }

  async unsubscribe(): Promise<{ completedByServer: number }> {
    const answers = await Promise.all(this.children.map((c) => c.ask({ type: 'unsubscribe' }, 'unsubscribed')));
    return { completedByServer: sum(answers.map((a) => a.completedByServer)) };
  }

  async exit(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.process.exitCode !== null) return resolve();
            c.process.once('exit', () => resolve());
            c.send({ type: 'exit' });
          }),
      ),
    );
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const firstError = (answers: Array<{ firstError?: string }>) => {
  const error = answers.find((a) => a.firstError !== undefined)?.firstError;
  return error === undefined ? {} : { firstError: error };
};
