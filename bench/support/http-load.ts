/**
 * The HTTP load generator of bench:api, in a process of its own (started with `startLoadClient`,
 * which forks this file): the servers measured then do not share their event loop with the
 * client. It still shares the machine's CPUs with them, equally for every case.
 *
 * Messages (parent → child): a `LoadJob` (CONNECTIONS keep-alive loops, one request after the
 * other, for `seconds`, after a warm-up round) or a `FetchJob` (one GET, bytes discarded);
 * the child answers each with its result, in order.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';

export interface LoadJob {
  kind: 'load';
  name: string;
  method: 'GET' | 'POST';
  /** Request i goes to urls[i % urls.length] with bodies[i % bodies.length] (POST). */
  urls: string[];
  bodies?: string[];
  headers?: Record<string, string>;
  /** A 200 whose body does not contain this counts as an error. */
  expect?: string;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  name: string;
  /** ms, sorted ascending. */
  latencies: number[];
  seconds: number;
  requests: number;
  errors: number;
  bytes: number;
  firstError?: string;
}

export interface FetchJob {
  kind: 'fetch';
  url: string;
}

export interface FetchResult {
  bytes: number;
  seconds: number;
}

interface Reply {
  status: number;
  bytes: number;
  text: string;
}

function send(agent: Agent, method: string, url: string, body: string | undefined, headers: Record<string, string>, keepText: boolean): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { agent, method, headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (keepText) chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, text: keepText ? Buffer.concat(chunks).toString('utf8') : '' }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

async function runLoad(job: LoadJob): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  const headers = job.headers ?? {};
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  let firstError: string | undefined;
  let n = 0;
  const one = async (i: number) => {
    const body = job.method === 'POST' ? job.bodies![i % job.bodies!.length] : undefined;
    const reply = await send(agent, job.method, job.urls[i % job.urls.length]!, body, headers, job.expect !== undefined);
    if (reply.status !== 200 || (job.expect !== undefined && !reply.text.includes(job.expect))) throw new Error(`unexpected response ${reply.status} ${reply.text.slice(0, 300)}`);
    return reply.bytes;
  };
  // Warm-up: JIT, schema caches, the connections themselves.
  await Promise.all(Array.from({ length: job.connections }, (_, i) => one(i).catch(() => undefined)));
  const start = performance.now();
  const end = start + job.seconds * 1000;
  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          bytes += await one(n++);
        } catch (err) {
          if (errors++ === 0) firstError = String(err);
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { name: job.name, latencies, seconds, requests: latencies.length, errors, bytes, ...(firstError ? { firstError } : {}) };
}

async function runFetch(job: FetchJob): Promise<FetchResult> {
  const agent = new Agent({ keepAlive: false });
  const t0 = performance.now();
  const reply = await send(agent, 'GET', job.url, undefined, {}, false);
  if (reply.status !== 200) throw new Error(`GET ${job.url}: status ${reply.status}`);
  return { bytes: reply.bytes, seconds: (performance.now() - t0) / 1000 };
}

export interface LoadClient {
  load(job: Omit<LoadJob, 'kind'>): Promise<LoadResult>;
  fetch(url: string): Promise<FetchResult>;
  close(): Promise<void>;
}

/** Forks this file as the load-generating process (through bin/run-ts.js, as the benches run). */
export async function startLoadClient(): Promise<LoadClient> {
  const runTs = fileURLToPath(new URL('../../bin/run-ts.js', import.meta.url));
  const child: ChildProcess = fork(runTs, [fileURLToPath(import.meta.url)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, BENCH_LOAD_CLIENT: '1' } });
  const pending: Array<{ resolve: (v: never) => void; reject: (e: Error) => void }> = [];
  child.on('message', (m: { ok: true; value: never } | { ok: false; error: string } | { ready: true }) => {
    if ('ready' in m) return;
    const p = pending.shift();
    if (!p) return;
    if (m.ok) p.resolve(m.value);
    else p.reject(new Error(m.error));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code) => {
    for (const p of pending.splice(0)) p.reject(new Error(`load client exited (${code})`));
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('error', reject);
  });
  const ask = <T>(job: LoadJob | FetchJob) =>
    new Promise<T>((resolve, reject) => {
      pending.push({ resolve: resolve as (v: never) => void, reject });
      child.send(job);
    });
  return {
    load: (job) => ask<LoadResult>({ kind: 'load', ...job }),
    fetch: (url) => ask<FetchResult>({ kind: 'fetch', url }),
    async close() {
      child.disconnect();
      await exited;
    },
  };
}

// As the forked child: answer jobs one at a time until the parent disconnects.
if (process.send && process.env.BENCH_LOAD_CLIENT === '1') {
  let queue = Promise.resolve();
  process.on('message', (job: LoadJob | FetchJob) => {
    queue = queue.then(async () => {
      try {
        const value = job.kind === 'load' ? await runLoad(job) : await runFetch(job);
        process.send!({ ok: true, value });
      } catch (err) {
        process.send!({ ok: false, error: String(err) });
      }
    });
  });
  // The bench ended (or died): nothing more to do.
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
}
