import { SpanStatusCode } from '@opentelemetry/api';
import { getOperationAST, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { inSpan, tracingEnabled } from '../../telemetry/spans.js';
import { operationLabel, requestRecord } from '../request-log.js';

/**
 * Names the operation in the request's log line, and runs it in a span `graphql.<type> <name>`
 * (child of the HTTP request's span), so resolvers' spans — requestReport, downloadUrl — nest
 * under it. Our own envelop plugin on @opentelemetry/api: @envelop/opentelemetry still depends on
 * the 1.x SDK (sdk-trace-base ^1), while quire runs the 2.x SDK.
 */
export function useOperationTracing(): Plugin {
  const describe = (document: DocumentNode, operationName: string | null | undefined, contextValue: unknown) => {
    const op = getOperationAST(document, operationName);
    const name = operationLabel(op?.name?.value, operationName);
    const record = requestRecord((contextValue as { req?: import('node:http').IncomingMessage } | undefined)?.req);
    if (record) record.operation = name;
    return { name, type: op?.operation ?? 'query' };
  };
  const attributes = (name: string, type: string) => ({ 'graphql.operation.name': name, 'graphql.operation.type': type });
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const { name, type } = describe(args.document, args.operationName, args.contextValue);
      if (!tracingEnabled()) return;
      setExecuteFn((a) =>
        inSpan(`graphql.${type} ${name}`, { attributes: attributes(name, type) }, async (span) => {
          const result = await executeFn(a);
          if ('errors' in result && result.errors?.length) span?.setStatus({ code: SpanStatusCode.ERROR, message: result.errors[0]!.message });
          return result;
        }),
      );
    },
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const { name, type } = describe(args.document, args.operationName, args.contextValue);
      if (!tracingEnabled()) return;
      // The span covers the subscription's set-up; its events are traced where they were appended.
      setSubscribeFn((a) => inSpan(`graphql.${type} ${name}`, { attributes: attributes(name, type) }, async () => subscribeFn(a)));
    },
  };
}
