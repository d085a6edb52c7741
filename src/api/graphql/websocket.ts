import type { Server } from 'node:http';
import { getOperationAST, GraphQLError, type ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { WriteBatch } from './write-batch.js';
import type { Credential } from '../../auth/user-tokens.js';
import { InvalidLsnError, parseLsnHeader } from '../../database/read-router.js';
import type { Runtime } from '../../runtime.js';
import { logOperation, operationLabel, REQUEST_ID_HEADER, requestIdFrom } from '../request-log.js';
import { codedErrors } from './error-codes.js';
import { socketDocument } from './persisted-documents.js';
import type { QuireYoga } from './yoga.js';

type Extra = {
  credential?: Credential;
  token?: string;
  /** connectionParams.minLsn: the client's last write, for read-your-writes on a read replica. */
  minLsn?: string;
};

/** One operation on a socket, until its log line is written. */
interface Operation {
  startedAt: number;
  operation: string;
  viewer?: string;
  errored: boolean;
  /** Execution began: its end comes through onComplete (errors before that end it in onError). */
  executing: boolean;
}

type EnvelopedArgs = ExecutionArgs & { rootValue: { execute(args: ExecutionArgs): unknown; subscribe(args: ExecutionArgs): unknown } };

/**
 * graphql-ws on the same port and path as HTTP. Yoga's HTTP plugins do not run here, so auth is
 * checked at connection (close 4403 when the token is bad) and again for every operation, and the
 * operation is parsed and validated through yoga's envelop (graphql-armor's limits apply).
 */
export function attachWebSocketServer(server: Server, yoga: QuireYoga, runtime: Runtime): { drain(): void; close(): Promise<void> } {
  let draining = false;
  const wss = new WebSocketServer({
    server,
    path: '/graphql',
    maxPayload: runtime.config.maxBodyBytes,
    // A draining machine takes no new sockets: the client's retry goes to another machine.
    verifyClient: (_info, accept) => (draining ? accept(false, 503, 'draining') : accept(true)),
  });
  // A socket's request id (Fly's, the client's or new), echoed on the upgrade; each operation's is `<it>:<operation id>`.
  const socketIds = new WeakMap<object, string>();
  const socketId = (request: import('node:http').IncomingMessage) => {
    let id = socketIds.get(request);
    if (!id) socketIds.set(request, (id = requestIdFrom(request.headers)));
    return id;
  };
  wss.on('headers', (headers, request) => headers.push(`${REQUEST_ID_HEADER}: ${socketId(request)}`));
  const operations = new WeakMap<object, Map<string, Operation>>();
  const writes = new WriteBatch();
  const finish = (ctx: { extra: { request: import('node:http').IncomingMessage } }, id: string, status: 'ok' | 'error') => {
    const op = operations.get(ctx)?.get(id);
    if (!op) return;
    operations.get(ctx)!.delete(id);
    logOperation(runtime.log, { requestId: `${socketId(ctx.extra.request)}:${id}`, operationId: id, operation: op.operation, viewer: op.viewer, status, startedAt: op.startedAt });
  };
  const disposable = useServer<Record<string, unknown> | undefined, Extra>(
    {
      onConnect: async (ctx) => {
        const token = ctx.connectionParams?.authorization;
        try {
          ctx.extra.credential = await runtime.userTokens.fromHeader(typeof token === 'string' ? token : undefined);
          ctx.extra.token = token as string;
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
        try {
          const minLsn = parseLsnHeader(typeof ctx.connectionParams?.minLsn === 'string' ? ctx.connectionParams.minLsn : undefined);
          if (minLsn) ctx.extra.minLsn = minLsn;
          return true;
        } catch (err) {
          // A bad request, not a bad token: 4400, which clients do not retry.
          ctx.extra.socket.close(4400, err instanceof InvalidLsnError ? 'minLsn is not a WAL position like 0/3A1B2C8' : 'invalid connectionParams');
          return false;
        }
      },
      onSubscribe: async (ctx, id, payload) => {
        const op: Operation = { startedAt: performance.now(), operation: operationLabel(undefined, payload.operationName), errored: false, executing: false };
        if (!operations.has(ctx)) operations.set(ctx, new Map());
        operations.get(ctx)!.set(id, op);
        // ctx.subscriptions already holds this one (graphql-ws reserves its id first).
        if (Object.keys(ctx.subscriptions).length > runtime.config.maxSubscriptionsPerSocket) {
          const max = runtime.config.maxSubscriptionsPerSocket;
          return [new GraphQLError(`this socket already runs ${max} operations; complete one first`, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } })];
        }
        // Tokens expire while sockets stay open: check again for every operation.
        try {
          ctx.extra.credential = await runtime.userTokens.fromHeader(ctx.extra.token);
          op.viewer = ctx.extra.credential.actor.id;
        } catch {
          ctx.extra.socket.close(4403, 'Forbidden');
          return [new GraphQLError('the bearer token is no longer valid', { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        // A persisted document's hash, or a full document where allowed: the rules HTTP applies.
        const source = socketDocument(runtime.config.persistedDocuments, payload, ctx.extra.credential);
        if ('error' in source) return [source.error];
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          wsActor: ctx.extra.credential.actor,
          wsCredential: ctx.extra.credential,
          wsRequestId: `${socketId(ctx.extra.request)}:${id}`,
          wsMinLsn: ctx.extra.minLsn,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: { ...payload, query: source.query },
        });
        // graphql-armor rejects by throwing from parse and validate: answer with the error, keep the socket.
        let document;
        try {
          document = parse(source.query);
          op.operation = operationLabel(getOperationAST(document, payload.operationName)?.name?.value, payload.operationName);
          const errors = validate(schema, document);
          if (errors.length > 0) return codedErrors(errors);
        } catch (err) {
          return codedErrors([err instanceof GraphQLError ? err : new GraphQLError(err instanceof Error ? err.message : String(err))]);
        }
        const args: EnvelopedArgs = {
          schema,
          document,
          operationName: payload.operationName ?? null,
          variableValues: payload.variables ?? null,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        return args;
      },
      onOperation: (ctx, id) => {
        const op = operations.get(ctx)?.get(id);
        if (op) op.executing = true;
      },
      onNext: (ctx, id, _payload, _args, result) => {
        const op = operations.get(ctx)?.get(id);
        if (op && 'errors' in result && result.errors?.length) op.errored = true;
        // graphql-ws writes the frame right after this returns: it waits, with every other frame
        // of this turn of the event loop, to be written in one go (see WriteBatch).
        writes.hold(ctx.extra.request.socket);
      },
      onError: (ctx, id) => {
        const op = operations.get(ctx)?.get(id);
        if (!op) return;
        op.errored = true;
        if (!op.executing) finish(ctx, id, 'error');
      },
      onComplete: (ctx, id) => finish(ctx, id, operations.get(ctx)?.get(id)?.errored ? 'error' : 'ok'),
      // Operations the socket's close cut short (or whose error it swallowed) still get their line.
      onClose: (ctx) => {
        for (const [id, op] of operations.get(ctx) ?? []) finish(ctx, id, op.errored ? 'error' : 'ok');
      },
      execute: (args) => (args as EnvelopedArgs).rootValue.execute(args) as never,
      subscribe: (args) => (args as EnvelopedArgs).rootValue.subscribe(args) as never,
    },
    wss,
  );
  // A peer's protocol error (a message over maxPayload, invalid UTF-8, a bad frame) is emitted on
  // its socket, and ws closes it with the right code (1009, 1007, 1002); graphql-ws would also
  // print it to stderr as an internal error, which lets any client flood the logs. It is the
  // client's fault: a debug line.
  wss.on('connection', (socket) => {
    socket.removeAllListeners('error');
    socket.on('error', (err) => runtime.log.debug({ err: err.message }, 'WebSocket protocol error from a client'));
  });
  return {
    /**
     * Shutdown began: 1012 (service restart) on every socket, a code graphql-ws clients retry on,
     * so their automatic reconnect lands on a machine that is not going away.
     */
    drain() {
      draining = true;
      for (const client of wss.clients) client.close(1012, 'server restarting');
    },
    async close() {
      for (const client of wss.clients) client.close(1001, 'server shutting down');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
