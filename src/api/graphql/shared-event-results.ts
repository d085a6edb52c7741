import { buildExecutionContext, execute, subscribe } from '@graphql-tools/executor';
import { createGraphQLError, isAsyncIterable, mapAsyncIterator } from '@graphql-tools/utils';
import { createSourceEventStream, getOperationAST, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from './context.js';

type Result = ExecutionResult | Promise<ExecutionResult>;

/** Distinct answers kept per event payload: one per (document, variables, viewer) subscribed to it. */
const MAX_ANSWERS_PER_EVENT = 256;
/** payload object → (operation and viewer key → its execution result). Entries go with the payload. */
const answers = new WeakMap<object, Map<string, Result>>();
const documentIds = new WeakMap<DocumentNode, number>();
let nextDocumentId = 0;

/**
 * What determines a subscription event's answer besides the event itself: the document (by
 * identity: yoga's parser cache hands every subscriber of one query text the same one), the
 * operation, the variables, and the viewer — id and role, all that authScopes and every
 * resolver's access rule read (token expiry and revocation are checked per subscription by
 * liveSubscription, not by execution). Undefined: not shared.
 */
function answerKey(args: ExecutionArgs): string | undefined {
  const actor = (args.contextValue as Partial<GraphQLContext> | undefined)?.actor;
  if (!actor) return undefined;
  let id = documentIds.get(args.document);
  if (id === undefined) documentIds.set(args.document, (id = nextDocumentId++));
  return JSON.stringify([id, args.operationName ?? null, args.variableValues ?? null, actor.id, actor.role]);
}

/** As @graphql-tools/executor wraps an error of the event stream (the client sees the same). */
function streamError(error: unknown, args: ExecutionArgs): never {
  const operation = getOperationAST(args.document, args.operationName);
  const original = error instanceof Error ? error : new Error(String(error));
  throw createGraphQLError(original.message, { originalError: original, ...(operation ? { nodes: [operation] } : {}) });
}

/**
 * graphql-tools' subscribe, except that each event is executed once for every subscriber that
 * would get the same answer (answerKey) and the result object is handed to all of them: the
 * hundred subscribers of one report, handed the same state object by ReportChanges, cost one
 * execution, not a hundred. Only an event that is an object is shared, keyed by its identity (a
 * new object is a new event). Anything graphql-tools answers before streaming (bad variables) is
 * left to it.
 */
export function subscribeSharingEvents(args: ExecutionArgs): ReturnType<typeof subscribe> {
  const key = answerKey(args);
  if (key === undefined || !('schema' in buildExecutionContext(args))) return subscribe(args);
  return createSourceEventStream(args).then((source) => {
    if (!isAsyncIterable(source)) return source;
    return mapAsyncIterator(
      source,
      (payload: unknown): Result => {
        if (typeof payload !== 'object' || payload === null) return execute({ ...args, rootValue: payload }) as Result;
        let byKey = answers.get(payload);
        if (!byKey) answers.set(payload, (byKey = new Map()));
        let answer = byKey.get(key);
        if (!answer) {
          answer = execute({ ...args, rootValue: payload }) as Result;
          if (byKey.size < MAX_ANSWERS_PER_EVENT) byKey.set(key, answer);
        }
        return answer;
      },
      (error: unknown) => streamError(error, args),
    );
  }) as ReturnType<typeof subscribe>;
}

/** Subscriptions on every transport execute through subscribeSharingEvents. */
export function useSharedEventResults(): Plugin<GraphQLContext> {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribeSharingEvents as never);
    },
  };
}
