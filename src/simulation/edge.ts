import { request as httpRequest, createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Prng } from './prng.js';

/** One machine the edge can send traffic to, its region, and whether it runs now. */
export interface EdgeTarget {
  readonly region: string;
  /** Its machine id (what `fly-replay: instance=` names); the region when unset (one machine per region). */
  readonly machine?: string;
  /** quire's port on that machine. */
  readonly port: number;
  /** The seed-style app's port on that machine (legacy baseline only). */
  readonly seedPort?: number;
  readonly live: boolean;
}

export interface EdgeStats {
  requests: number;
  replays: number;
  /** Replays to a region with no running instance: answered 503 REGION_UNAVAILABLE. */
  replaysToDeadRegion: number;
  /** `instance=` replays to a machine that is not running: answered 503 MACHINE_UNAVAILABLE. */
  replaysToDeadMachine: number;
  /** Requests re-sent to another region after a connection error (as Fly's proxy does). */
  retriedElsewhere: number;
  upstreamErrors: number;
}

export interface Edge {
  readonly url: string;
  readonly stats: EdgeStats;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host']);

function forwardHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

function json(status: number, body: unknown, extra: Record<string, string> = {}): [number, Record<string, string>, string] {
  return [status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra }, JSON.stringify(body)];
}

const machineOf = (t: EdgeTarget) => t.machine ?? t.region;

/**
 * An edge proxy that behaves like Fly's: every request goes to a live machine — one of the region
 * named in `fly-prefer-region` if it has one, else a random live one; exactly the machine named in
 * `fly-force-instance-id` if that header is set — and a response carrying
 * `fly-replay` is not passed on: the same request (method, path, headers, body) is sent again with
 * `fly-replay-src` set, to a random live machine of region r for `region=<r>`, or to exactly that
 * machine for `instance=<id>`, and that answer is the client's. A replay to a region with nothing
 * running, or to a machine that is not running, is answered 503 with a typed error, as Fly answers
 * when no machine can take it. A connection refused before any response is retried once in another live region (not a
 * replay: that has one destination). Responses stream through (SSE subscriptions included).
 * Adds `x-edge-region` and `x-edge-machine` (who answered) and `x-edge-replayed-from` to responses.
 */
export async function startEdge(targets: () => readonly EdgeTarget[], prng: Prng, port = 0): Promise<Edge> {
  const stats: EdgeStats = { requests: 0, replays: 0, replaysToDeadRegion: 0, replaysToDeadMachine: 0, retriedElsewhere: 0, upstreamErrors: 0 };

  const send = (region: EdgeTarget, req: IncomingMessage, body: Buffer, extra: Record<string, string>): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const path = req.url ?? '/';
      const seed = path.startsWith('/seed/');
      const port = seed ? region.seedPort : region.port;
      if (port === undefined) return reject(Object.assign(new Error(`no seed app in ${region.region}`), { code: 'ENOSEED' }));
      const upstream = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: req.method,
          path,
          agent: false,
          // Like Fly's edge: the client's address in fly-client-ip, overwriting whatever the client sent.
          headers: { ...forwardHeaders(req.headers), ...extra, 'content-length': String(body.length), 'fly-region': region.region, 'fly-client-ip': req.socket.remoteAddress ?? '' },
        },
        resolve,
      );
      upstream.on('error', reject);
      upstream.end(body);
    });

  const handle = async (req: IncomingMessage): Promise<[number, Record<string, string | string[]>, string | IncomingMessage]> => {
    stats.requests++;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const live = targets().filter((t) => t.live);
    if (live.length === 0) return json(503, { error: { code: 'NO_REGION', message: 'no region has a running instance' } });
    const preferred = req.headers['fly-prefer-region'];
    const inPreferred = live.filter((t) => t.region === preferred);
    let target = inPreferred.length === 1 ? inPreferred[0]! : prng.pick(inPreferred.length > 0 ? inPreferred : live);
    // Fly's `fly-force-instance-id`: exactly that machine, or an error when it does not run.
    const forced = req.headers['fly-force-instance-id'];
    if (typeof forced === 'string') {
      const machine = live.find((t) => machineOf(t) === forced);
      if (!machine) {
        return json(503, { error: { code: 'MACHINE_UNAVAILABLE', message: `machine ${forced} is not running`, machine: forced } }, { 'retry-after': '5' });
      }
      target = machine;
    }
    let replayedFrom: string | undefined;
    let upstream: IncomingMessage | undefined;
    for (let hop = 0; hop < 3 && !upstream; hop++) {
      let response: IncomingMessage;
      try {
        response = await send(target, req, body, replayedFrom ? { 'fly-replay-src': replayedFrom } : {});
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const others = targets().filter((t) => t.live && machineOf(t) !== machineOf(target));
        if (!replayedFrom && forced === undefined && hop === 0 && code === 'ECONNREFUSED' && others.length > 0) {
          stats.retriedElsewhere++;
          target = prng.pick(others);
          continue;
        }
        stats.upstreamErrors++;
        return json(502, {
          error: { code: 'EDGE_UPSTREAM_ERROR', message: `the instance in ${target.region} did not answer (${code ?? String(err)})`, region: target.region },
        });
      }
      const replay = response.headers['fly-replay'];
      if (typeof replay === 'string' && !replayedFrom) {
        response.resume();
        stats.replays++;
        const instance = /instance=([A-Za-z0-9-]+)/.exec(replay)?.[1];
        const src = `instance=${machineOf(target)};region=${target.region}`;
        if (instance !== undefined) {
          const next = targets().find((t) => machineOf(t) === instance);
          if (!next?.live) {
            stats.replaysToDeadMachine++;
            return json(
              503,
              { error: { code: 'MACHINE_UNAVAILABLE', message: `the request was replayed to machine ${instance}, which is not running`, machine: instance } },
              { 'retry-after': '5', 'x-edge-region': target.region },
            );
          }
          replayedFrom = src;
          target = next;
          continue;
        }
        const to = /region=([a-z0-9-]+)/.exec(replay)?.[1];
        const inRegion = targets().filter((t) => t.region === to && t.live);
        if (inRegion.length === 0) {
          stats.replaysToDeadRegion++;
          return json(
            503,
            { error: { code: 'REGION_UNAVAILABLE', message: `the request was replayed to ${to}, where no instance is running`, region: to } },
            { 'retry-after': '5', 'x-edge-region': target.region },
          );
        }
        replayedFrom = src;
        target = prng.pick(inRegion);
        continue;
      }
      upstream = response;
    }
    if (!upstream) return json(508, { error: { code: 'REPLAY_LOOP', message: 'replayed more than once' } });
    const headers = forwardHeaders(upstream.headers);
    headers['x-edge-region'] = target.region;
    headers['x-edge-machine'] = machineOf(target);
    if (replayedFrom) headers['x-edge-replayed-from'] = replayedFrom;
    return [upstream.statusCode ?? 502, headers, upstream];
  };

  const server: Server = createServer((req, res) => {
    handle(req)
      .then(([status, headers, body]) => {
        res.writeHead(status, headers);
        if (typeof body === 'string') return void res.end(body);
        body.on('error', () => res.destroy());
        res.on('close', () => body.destroy());
        body.pipe(res);
      })
      .catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'EDGE_ERROR', message: String(err) } }));
      });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    stats,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
