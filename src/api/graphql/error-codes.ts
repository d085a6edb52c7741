import { GraphQLError, type ExecutionResult } from 'graphql';
import { createGraphQLError, handleStreamOrSingleExecutionResult, isAsyncIterable, type Plugin } from 'graphql-yoga';

/**
 * Every error a client receives carries `extensions.code`. Unexpected errors are masked with
 * INTERNAL_SERVER_ERROR and typed ones carry their QuireError code; what is left without a code —
 * a variable of the wrong type, an invalid global ID, a graphql-armor limit — is an error the
 * request itself caused: BAD_USER_INPUT. (An error still wrapping an unexpected one is left to masking.)
 */
export const REQUEST_ERROR_CODE = 'BAD_USER_INPUT';

function lacksCode(error: GraphQLError): boolean {
  if (error.extensions?.code !== undefined) return false;
  return !error.originalError || error.originalError instanceof GraphQLError;
}

function withCode(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    path: error.path ?? null,
    extensions: { ...error.extensions, code: REQUEST_ERROR_CODE },
  });
}

/** The errors, each with a code (see REQUEST_ERROR_CODE). */
export function codedErrors(errors: readonly GraphQLError[]): GraphQLError[] {
  return errors.map((e) => (e instanceof GraphQLError && lacksCode(e) ? withCode(e) : e));
}

function coded<R extends ExecutionResult>(result: R): R {
  const errors = result.errors as readonly GraphQLError[] | undefined;
  if (!errors?.some((e) => e instanceof GraphQLError && lacksCode(e))) return result;
  return { ...result, errors: codedErrors(errors) };
}

type DonePayload = Parameters<typeof handleStreamOrSingleExecutionResult>[0];

/** Execution and subscription results on every transport (envelop), and parse/validation answers over HTTP (yoga). */
export function useRequestErrorCodes(): Plugin {
  function onResult({ result, setResult }: { result: ExecutionResult; setResult: (r: ExecutionResult) => void }): void {
    const next = coded(result);
    if (next !== result) setResult(next);
  }
  // Made once, not per operation: the hooks hold no per-request state.
  const executeHooks = { onExecuteDone: (payload: DonePayload) => handleStreamOrSingleExecutionResult(payload, onResult) };
  const subscribeHooks = { onSubscribeResult: (payload: DonePayload) => handleStreamOrSingleExecutionResult(payload, onResult) };
  return {
    // Yoga JSON.parses a GET's `variables` and `extensions` unguarded: malformed ones are the
    // request's fault (400), as a malformed POST body already is, not an INTERNAL_SERVER_ERROR.
    onRequestParse: ({ requestParser, setRequestParser }) => {
      if (!requestParser) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (err) {
          if (!(err instanceof SyntaxError)) throw err;
          throw createGraphQLError('the request\'s variables or extensions are not valid JSON', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
        }
      });
    },
    onExecute: () => executeHooks,
    onSubscribe: () => subscribeHooks,
    onResultProcess: ({ result, setResult }) => {
      if (isAsyncIterable(result)) return;
      setResult(Array.isArray(result) ? result.map(coded) : coded(result as ExecutionResult));
    },
  };
}
