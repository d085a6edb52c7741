import { randomUUID } from 'node:crypto';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { GraphQLError } from 'graphql';
import { createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import type { Actor } from '../../actor.js';
import { UnauthenticatedError } from '../../auth/user-tokens.js';
import type { EventHub } from '../../events/event-hub.js';
import { QuireError } from '../../errors.js';
import type { Runtime } from '../../runtime.js';
import { renderOfflineGraphiQL } from '../routes/graphiql.js';
import { mayReceiveDevToken } from '../routes/ui.js';
import { SharedRateLimiter } from '../shared-rate-limiter.js';
import type { GraphQLContext } from './context.js';
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

/** `options.devToken`: prefilled as GraphiQL's Authorization header for loopback browsers outside production (as on the page). */
export function createGraphQLServer(runtime: Runtime, hub: EventHub, options: { devToken?: string } = {}): QuireYoga {
  const { config } = runtime;
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
    plugins: [EnvelopArmorPlugin(ARMOR), ...(config.introspection ? [] : [useDisableIntrospection()])],
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
