import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { getOperationAST, GraphQLError, Kind, type SelectionNode } from 'graphql';
import { createYoga, maskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Actor } from '../../actor.js';
import { UnauthenticatedError, type Credential } from '../../auth/user-tokens.js';
import { InvalidLsnError, LSN_HEADER, MIN_LSN_HEADER, parseLsnHeader, type ReadScope } from '../../database/read-router.js';
import type { EventHub } from '../../events/event-hub.js';
import { QuireError } from '../../errors.js';
import type { Runtime } from '../../runtime.js';
import { renderOfflineGraphiQL } from '../routes/graphiql.js';
import { mayReceiveDevToken } from '../routes/ui.js';
import { SharedRateLimiter } from '../shared-rate-limiter.js';
import { requestRecord } from '../request-log.js';
import { useOperationTracing } from './tracing.js';
import type { GraphQLContext } from './context.js';
import { useRequestErrorCodes } from './error-codes.js';
import { useSharedEventResults } from './shared-event-results.js';
import { useNoIntrospection } from './introspection.js';
import { useDocumentNestingLimit } from './nesting-limit.js';
import { usePersistedDocuments } from './persisted-documents.js';
import { schema } from './schema.js';

/** What the WebSocket server hands the context factory: the actor checked at connection time. */
export interface WebSocketInitialContext {
  wsActor: Actor;
  wsCredential: Credential;
  wsRequestId: string;
  /** connectionParams.minLsn, checked by the WebSocket server. */
  wsMinLsn?: string | undefined;
}

export type QuireYoga = YogaServerInstance<Partial<WebSocketInitialContext>, GraphQLContext>;

/** Limits that hold on every transport: they are validation rules, and graphql-ws validates through them too. */
export const ARMOR = {
  maxDepth: { n: 12 },
  maxAliases: { n: 15 },
  costLimit: { maxCost: 5000 },
  maxTokens: { n: 4000 },
  maxDirectives: { n: 20 },
  blockFieldSuggestion: { enabled: true },
} as const;

/**
 * Mutations that only read and sign (createDownloadUrl): their reads may lag, as they already do,
 * and with nothing written there is no commit LSN to send back — asking the primary for one was a
 * second statement on every download link.
 */
const READ_ONLY_MUTATIONS = new Set(['createDownloadUrl', '__typename']);
const writesNothing = (selection: SelectionNode): boolean => selection.kind === Kind.FIELD && READ_ONLY_MUTATIONS.has(selection.name.value);

/** `options.devToken`: prefilled as GraphiQL's Authorization header for loopback browsers outside production (as on the page). */
export function createGraphQLServer(runtime: Runtime, hub: EventHub, options: { devToken?: string } = {}): QuireYoga {
  const { config } = runtime;
  // Each HTTP request's reads, kept to put the commit LSN on the response of a request that wrote.
  const scopes = new WeakMap<Request, ReadScope>();
  const readYourWrites: Plugin<GraphQLContext> = {
    // A mutation writes: its reads go to the primary and its response carries the commit LSN.
    onExecute({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation === 'mutation' && !operation.selectionSet.selections.every(writesNothing)) args.contextValue.reads?.markWrite();
    },
    // Not async: a read (most requests) returns at once, without a promise for yoga to wait on.
    onResponse({ request, response }) {
      if (!scopes.get(request)?.wrote) return;
      return runtime.reads.commitLsn().then(
        (lsn) => void (lsn && response.headers.set(LSN_HEADER, lsn)),
        () => undefined,
      );
    },
  };
  /** An HTTP request's context, once its bearer token checked out. */
  const httpContext = (request: Request, req: IncomingMessage | undefined, credential: Credential): GraphQLContext => {
    const record = requestRecord(req);
    if (record) record.viewer = credential.actor.id;
    let reads: ReadScope;
    try {
      reads = runtime.reads.scope(parseLsnHeader(request.headers.get(MIN_LSN_HEADER)));
    } catch (err) {
      if (!(err instanceof InvalidLsnError)) throw err;
      throw new GraphQLError(err.message, { extensions: { code: err.code, http: { status: 400 } } });
    }
    scopes.set(request, reads);
    return { runtime, hub, actor: credential.actor, credential, requestId: record?.id ?? randomUUID(), requestLimiter, reads };
  };
  const requestLimiter = new SharedRateLimiter(runtime.database.db, { keyPrefix: 'requestReport', points: config.requestsPerMinute, durationSeconds: 60 });
  return createYoga<Partial<WebSocketInitialContext>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // Served from this origin (./routes/graphiql.ts), never a CDN: it works offline and under a strict CSP.
    graphiql: config.production
      ? false
      : (_request, serverContext) => {
          const req = (serverContext as { req?: import('node:http').IncomingMessage } | undefined)?.req;
          const token = options.devToken && req && mayReceiveDevToken(runtime, req) ? options.devToken : undefined;
          return {
            title: 'quire',
            favicon: '/ui/favicon.svg',
            subscriptionsProtocol: 'WS',
            ...(token ? { headers: JSON.stringify({ Authorization: `Bearer ${token}` }) } : {}),
          };
        },
    renderGraphiQL: renderOfflineGraphiQL,
    // Typed results carry expected failures; anything unexpected is masked (details only in development).
    maskedErrors: {
      isDev: !config.production,
      maskError: (error, message, isDev) => {
        let original: unknown = error;
        while (original instanceof GraphQLError && original.originalError) original = original.originalError;
        if (original instanceof QuireError) {
          return new GraphQLError(original.message, {
            ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
            extensions: { code: original.code },
          });
        }
        return maskError(error, message, isDev);
      },
    },
    logging: false,
    // Off: the HTTP server (../http-server.ts) refuses a body without a Content-Length or over
    // MAX_BODY_BYTES before yoga sees the request, and Node's parser never delivers more than the
    // Content-Length (nor a body that is both chunked and sized); GET has no body, graphql-ws has
    // its maxPayload. Yoga's own limit piped every body through a TransformStream (and an aborted
    // pipeline's DOMException) per request. test/api/entry-point-limits.test.ts holds the limit.
    maxRequestBodySize: false,
    // Yoga's default CORS (any origin), plus: browsers on another origin may read the commit LSN.
    cors: { exposedHeaders: [LSN_HEADER] },
    plugins: [
      // First: a hash becomes its document before anything parses (graphql-ws: websocket.ts).
      usePersistedDocuments(runtime),
      EnvelopArmorPlugin(ARMOR),
      useDocumentNestingLimit(),
      ...(config.introspection ? [] : [useNoIntrospection()]),
      readYourWrites,
      // Before tracing, which wraps the subscribe it is handed.
      useSharedEventResults(),
      useRequestErrorCodes(),
      useOperationTracing(),
    ],
    // Not async: a token already verified (every request but a client's first) builds the context
    // without waiting, and yoga goes on without a promise hop; otherwise the full check decides.
    context: (initial): GraphQLContext | Promise<GraphQLContext> => {
      if (initial.wsCredential) {
        const credential = initial.wsCredential;
        const reads = runtime.reads.scope(initial.wsMinLsn);
        return { runtime, hub, actor: credential.actor, credential, requestId: initial.wsRequestId ?? randomUUID(), requestLimiter, reads };
      }
      const request = (initial as { request: Request }).request;
      const header = request.headers.get('authorization');
      const known = runtime.userTokens.knownFromHeader(header);
      if (known) return httpContext(request, (initial as { req?: IncomingMessage }).req, known);
      return runtime.userTokens.fromHeader(header).then(
        (credential) => httpContext(request, (initial as { req?: IncomingMessage }).req, credential),
        (err: unknown) => {
          const message = err instanceof UnauthenticatedError ? err.message : 'a valid bearer token is required';
          throw new GraphQLError(message, {
            extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } },
          });
        },
      );
    },
  });
}
