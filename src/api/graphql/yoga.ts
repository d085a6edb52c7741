import { randomUUID } from 'node:crypto';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError } from 'graphql';
import { createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import type { Actor } from '../../actor.js';
import { UnauthenticatedError } from '../../auth/user-tokens.js';
import type { EventHub } from '../../events/event-hub.js';
import { QuireError } from '../../errors.js';
import type { Runtime } from '../../runtime.js';
import { SharedRateLimiter } from '../shared-rate-limiter.js';
import type { GraphQLContext } from './context.js';
import { useRequestErrorCodes } from './error-codes.js';
import { useNoIntrospection } from './introspection.js';
import { useDocumentNestingLimit } from './nesting-limit.js';
import { schema } from './schema.js';

/** What the WebSocket server hands the context factory: the actor checked at connection time. */
export interface WebSocketInitialContext {
  wsActor: Actor;
  wsRequestId: string;
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

export function createGraphQLServer(runtime: Runtime, hub: EventHub): QuireYoga {
  const { config } = runtime;
  const requestLimiter = new SharedRateLimiter(runtime.database.db, { keyPrefix: 'requestReport', points: config.requestsPerMinute, durationSeconds: 60 });
  return createYoga<Partial<WebSocketInitialContext>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: config.production ? false : { title: 'quire', subscriptionsProtocol: 'WS' },
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
    plugins: [EnvelopArmorPlugin(ARMOR), useDocumentNestingLimit(), ...(config.introspection ? [] : [useNoIntrospection()]), useRequestErrorCodes()],
    context: async (initial): Promise<GraphQLContext> => {
      let actor: Actor;
      let requestId: string;
      if (initial.wsActor) {
        actor = initial.wsActor;
        requestId = initial.wsRequestId ?? randomUUID();
      } else {
        const request = (initial as { request: Request }).request;
        try {
          actor = await runtime.userTokens.fromHeader(request.headers.get('authorization'));
        } catch (err) {
          const message = err instanceof UnauthenticatedError ? err.message : 'a valid bearer token is required';
          throw new GraphQLError(message, {
            extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } },
          });
        }
        requestId = request.headers.get('x-request-id')?.slice(0, 100) || randomUUID();
      }
      return { runtime, hub, actor, requestId, requestLimiter };
    },
  });
}
