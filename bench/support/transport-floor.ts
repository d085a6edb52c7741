/**
 * bench:subscriptions' baselines: what delivering the same frames to the same sockets costs
 * without quire, in the same process and run.
 *
 * - `ws`: a bare `ws` server that speaks just enough of the graphql-transport-ws protocol for the
 *   bench's graphql-ws clients (ack, subscribe, complete, ping) and, per "append", writes one
 *   prebuilt `next` frame to each subscriber of the report — the payload serialized once, the
 *   frame the same bytes quire sends. What merely writing the frames costs on this machine.
 * - `graphql-ws`: graphql-ws's own server (`useServer`, default keep-alive) over a graphql-js
 *   schema with the same `reportStatus` selection fed from an in-memory per-report listener set:
 *   the protocol library and per-subscriber GraphQL execution, without quire (no auth, no yoga or
 *   envelop, no Pothos, no event log).
 *
 * Both answer `subscription S($id: ID!) { reportStatus(id: $id) { reportId status version lastError } }`
 * with `{ reportId, status: 'FAILED', version, lastError: 'bench' }`: the first state (version 1) at
 * once, then one per `publish(reportId)`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLID, GraphQLInt, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';

export type FloorKind = 'ws' | 'graphql-ws';

interface State {
  reportId: string;
  status: string;
  version: number;
  lastError: string;
}

export interface TransportFloor {
  kind: FloorKind;
  url: string;
  server: Server;
  /** Makes the next version of `reportId` and sends it to every subscriber of it (synchronously queued). */
  publish(reportId: string): void;
  /** Subscriptions open now (each acknowledged and registered). */
  subscriptions(): number;
  close(): Promise<void>;
}

const state = (reportId: string, version: number): State => ({ reportId, status: 'FAILED', version, lastError: 'bench' });

export async function startTransportFloor(kind: FloorKind): Promise<TransportFloor> {
  const server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const versions = new Map<string, number>();
  const nextVersion = (reportId: string) => {
    const v = (versions.get(reportId) ?? 1) + 1;
    versions.set(reportId, v);
    return v;
  };
  let publish: (reportId: string) => void;
  let subscriptions: () => number;
  let dispose = async () => {};

  if (kind === 'ws') {
    /** reportId → subscriber (socket, operation id). */
    const byReport = new Map<string, Set<{ socket: WebSocket; id: string }>>();
    const frame = (id: string, payload: string) => `{"id":${JSON.stringify(id)},"type":"next","payload":${payload}}`;
    wss.on('connection', (socket) => {
      const mine = new Map<string, { reportId: string; sub: { socket: WebSocket; id: string } }>();
      const drop = (id: string) => {
        const entry = mine.get(id);
        if (!entry) return;
        mine.delete(id);
        const set = byReport.get(entry.reportId);
        set?.delete(entry.sub);
        if (set?.size === 0) byReport.delete(entry.reportId);
      };
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; id?: string; payload?: { variables?: { id?: string } } };
        if (message.type === 'connection_init') socket.send('{"type":"connection_ack"}');
        else if (message.type === 'ping') socket.send('{"type":"pong"}');
        else if (message.type === 'complete' && message.id) drop(message.id);
        else if (message.type === 'subscribe' && message.id) {
          const reportId = String(message.payload?.variables?.id);
          const sub = { socket, id: message.id };
          mine.set(message.id, { reportId, sub });
          let set = byReport.get(reportId);
          if (!set) byReport.set(reportId, (set = new Set()));
          set.add(sub);
          socket.send(frame(message.id, JSON.stringify({ data: { reportStatus: state(reportId, versions.get(reportId) ?? 1) } })));
        }
      });
      socket.on('close', () => {
        for (const id of [...mine.keys()]) drop(id);
      });
    });
    publish = (reportId) => {
      const payload = JSON.stringify({ data: { reportStatus: state(reportId, nextVersion(reportId)) } });
      for (const { socket, id } of byReport.get(reportId) ?? []) socket.send(frame(id, payload));
    };
    subscriptions = () => {
      let n = 0;
      for (const set of byReport.values()) n += set.size;
      return n;
    };
  } else {
    const listeners = new Map<string, Set<(s: State) => void>>();
    const Report = new GraphQLObjectType<State>({
      name: 'Report',
      fields: {
        reportId: { type: new GraphQLNonNull(GraphQLString) },
        status: { type: new GraphQLNonNull(GraphQLString) },
        version: { type: new GraphQLNonNull(GraphQLInt) },
        lastError: { type: GraphQLString },
      },
    });
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString, resolve: () => 'ok' } } }),
      subscription: new GraphQLObjectType({
        name: 'Subscription',
        fields: {
          reportStatus: {
            type: new GraphQLNonNull(Report),
            args: { id: { type: new GraphQLNonNull(GraphQLID) } },
            resolve: (s: State) => s,
            // A plain queue per subscriber: the current state at once, then each published one.
            subscribe: (_root, { id }: { id: string }) => {
              const queue: State[] = [state(id, versions.get(id) ?? 1)];
              let wake: (() => void) | undefined;
              const push = (s: State) => {
                queue.push(s);
                wake?.();
              };
              let set = listeners.get(id);
              if (!set) listeners.set(id, (set = new Set()));
              set.add(push);
              let done = false;
              const stop = () => {
                done = true;
                set.delete(push);
                if (set.size === 0) listeners.delete(id);
                wake?.();
              };
              const iterator: AsyncIterableIterator<State> = {
                [Symbol.asyncIterator]: () => iterator,
                async next() {
                  while (queue.length === 0 && !done) await new Promise<void>((resolve) => (wake = resolve));
                  wake = undefined;
                  return done ? { done: true, value: undefined } : { done: false, value: queue.shift()! };
                },
                async return() {
                  stop();
                  return { done: true, value: undefined };
                },
              };
              return iterator;
            },
          },
        },
      }),
    });
    const disposable = useServer({ schema }, wss);
    dispose = async () => {
      await disposable.dispose();
    };
    publish = (reportId) => {
      const s = state(reportId, nextVersion(reportId));
      for (const push of listeners.get(reportId) ?? []) push(s);
    };
    subscriptions = () => {
      let n = 0;
      for (const set of listeners.values()) n += set.size;
      return n;
    };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    kind,
    url: `ws://127.0.0.1:${port}/graphql`,
    server,
    publish: (reportId) => publish(reportId),
    subscriptions: () => subscriptions(),
    async close() {
      for (const client of wss.clients) client.terminate();
      await dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
