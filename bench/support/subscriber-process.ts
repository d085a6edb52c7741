/**
 * A child process of bench:subscriptions holding many graphql-ws clients (one socket, one
 * `reportStatus` or `viewerReports` subscription each), so the server's process holds only the server's side. It
 * stamps every delivery with `performance.timeOrigin + performance.now()` (the same clock as the
 * parent's, on the same host) and reports, per (report, version), the times of all its clients'
 * deliveries once the last one has arrived.
 *
 * Run by `child_process.fork` with bin/run-ts.js; spoken to only over IPC (messages below).
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * reportStatus: one report's state (sent at once, then after each change); viewerReports: every
 * change of every report the viewer may read (nothing at once).
 */
export type Operation = 'reportStatus' | 'viewerReports';

export interface ClientSpec {
  /** The report subscribed to (reportStatus). */
  reportId: string;
  /** Bearer token of the report's owner (each client may only see its own reports). */
  token: string;
}

export type ToChild =
  | { type: 'connect'; url: string; clients: ClientSpec[]; batch: number }
  | { type: 'subscribe'; batch: number; operation: Operation }
  | { type: 'ping'; t: number }
  /** The clients of `reportId` here will receive `version`: report their times when all have. */
  | { type: 'expect'; key: string; count: number }
  /** Give up waiting for `key`: report what arrived. */
  | { type: 'flush'; key: string }
  | { type: 'unsubscribe' }
  | { type: 'exit' };

export type FromChild =
  | { type: 'connected'; ok: number; failed: number; firstError?: string; ms: number }
  | { type: 'subscribed'; ok: number; failed: number; firstError?: string; ms: number; versions: Record<string, number> }
  | { type: 'pong'; t: number; child: number }
  | { type: 'delivered'; key: string; times: number[]; complete: boolean }
  | { type: 'unsubscribed'; completedByServer: number }
  | { type: 'error'; message: string };

export const deliveryKey = (reportId: string, version: number): string => `${reportId}:${version}`;

/** Wall-clock milliseconds with sub-millisecond resolution; comparable across processes of one host. */
export const now = (): number => performance.timeOrigin + performance.now();

if (process.send) {
  const send = (message: FromChild) => process.send!(message);
  const QUERIES: Record<Operation, string> = {
    reportStatus: 'subscription S($id: ID!) { reportStatus(id: $id) { reportId status version lastError } }',
    viewerReports: 'subscription V { viewerReports { reportId progress report { reportId status version lastError } } }',
  };
  type Data = { reportStatus?: { reportId: string; version: number }; viewerReports?: { reportId: string; report: { version: number } | null } };
  let specs: ClientSpec[] = [];
  let clients: Client[] = [];
  const unsubscribes: Array<() => void> = [];
  /** key → delivery times so far. */
  const arrived = new Map<string, number[]>();
  /** key → how many deliveries the parent said to expect here. */
  const expected = new Map<string, number>();
  let completedByServer = 0;

  const check = (key: string) => {
    const times = arrived.get(key);
    const count = expected.get(key);
    if (count === undefined || (times?.length ?? 0) < count) return;
    send({ type: 'delivered', key, times: times ?? [], complete: true });
    arrived.delete(key);
    expected.delete(key);
  };

  /** Runs `start(i)` for every index, at most `batch` waiting at a time. */
  const inBatches = async (n: number, batch: number, start: (i: number) => Promise<void>): Promise<{ ok: number; failed: number; firstError?: string }> => {
    let ok = 0;
    let failed = 0;
    let firstError: string | undefined;
    let next = 0;
    const lane = async () => {
      while (next < n) {
        const i = next++;
        await start(i).then(
          () => ok++,
          (err: unknown) => {
            failed++;
            firstError ??= err instanceof Error ? err.message : String(err);
          },
        );
      }
    };
    await Promise.all(Array.from({ length: batch }, lane));
    return { ok, failed, ...(firstError === undefined ? {} : { firstError }) };
  };

  process.on('message', async (message: ToChild) => {
    try {
      switch (message.type) {
        case 'connect': {
          const t0 = performance.now();
          specs = message.clients;
          clients = new Array(specs.length);
          const result = await inBatches(specs.length, message.batch, (i) => {
            const client = createClient({
              url: message.url,
              webSocketImpl: WebSocket,
              connectionParams: { authorization: `Bearer ${specs[i]!.token}` },
              lazy: false,
              retryAttempts: 0,
              // Nothing reconnects behind the bench's back, and idle sockets stay open.
              keepAlive: 0,
              onNonLazyError: () => {},
            });
            clients[i] = client;
            return new Promise<void>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error('connect timeout')), 30_000);
              client.on('connected', () => (clearTimeout(timer), resolve()));
              client.on('closed', () => (clearTimeout(timer), reject(new Error('closed'))));
            });
          });
          send({ type: 'connected', ...result, ms: performance.now() - t0 });
          break;
        }
        case 'subscribe': {
          const t0 = performance.now();
          const versions: Record<string, number> = {};
          const result = await inBatches(specs.length, message.batch, (i) => {
            const { reportId } = specs[i]!;
            return new Promise<void>((resolve, reject) => {
              // viewerReports sends nothing at once: it counts as subscribed when sent (the parent
              // waits for the server to have opened it).
              let first = message.operation === 'reportStatus';
              if (!first) resolve();
              unsubscribes.push(
                clients[i]!.subscribe<Data>(
                  { query: QUERIES[message.operation], variables: message.operation === 'reportStatus' ? { id: reportId } : {} },
                  {
                    next(result) {
                      const at = now();
                      const data = result.data?.reportStatus ?? result.data?.viewerReports;
                      const version = data && ('version' in data ? data.version : data.report?.version);
                      if (!data || version === undefined) return reject(new Error(JSON.stringify(result.errors)));
                      if (first) {
                        first = false;
                        versions[reportId] = version;
                        return resolve();
                      }
                      const key = deliveryKey(data.reportId, version);
                      let times = arrived.get(key);
                      if (!times) arrived.set(key, (times = []));
                      times.push(at);
                      check(key);
                    },
                    error: (err) => reject(err instanceof Error ? err : new Error(JSON.stringify(err))),
                    complete: () => completedByServer++,
                  },
                ),
              );
            });
          });
          send({ type: 'subscribed', ...result, ms: performance.now() - t0, versions });
          break;
        }
        case 'ping':
          send({ type: 'pong', t: message.t, child: now() });
          break;
        case 'expect':
          expected.set(message.key, message.count);
          check(message.key);
          break;
        case 'flush':
          send({ type: 'delivered', key: message.key, times: arrived.get(message.key) ?? [], complete: false });
          arrived.delete(message.key);
          expected.delete(message.key);
          break;
        case 'unsubscribe':
          for (const u of unsubscribes.splice(0)) u();
          await Promise.all(clients.map((c) => c.dispose()));
          send({ type: 'unsubscribed', completedByServer });
          break;
        case 'exit':
          process.exit(0);
      }
    } catch (err) {
      send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  });
}
