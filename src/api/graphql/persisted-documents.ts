import { readFileSync } from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { GraphQLError } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { Credential } from '../../auth/user-tokens.js';
import type { Runtime } from '../../runtime.js';

/*
 * Trusted (persisted) documents. `npm run codegen` writes src/ui/gql/persisted-documents.json:
 * sha256 (hex) → document, for every operation of the progress page, which then sends only the
 * hash (`extensions.persistedQuery.sha256Hash`, Apollo's format, on HTTP and graphql-ws alike).
 * The file ships with the server, so a server knows exactly the documents of the page it serves.
 *
 * PERSISTED_DOCUMENTS=allow (default): a known hash or a full document. =require: a known hash
 * only; a full document only from a bearer token with `arbitrary_documents: true` (`quire token
 * --arbitrary-documents`, or the claim from your own issuer): third-party clients the operator
 * chose. A hash this server does not know is always PERSISTED_DOCUMENT_NOT_FOUND: documents are
 * never registered at run time (that would make any document trusted).
 */

export const PERSISTED_DOCUMENTS: ReadonlyMap<string, string> = new Map(
  Object.entries(JSON.parse(readFileSync(new URL('../../ui/gql/persisted-documents.json', import.meta.url), 'utf8')) as Record<string, string>),
);

export type PersistedDocumentsMode = 'allow' | 'require';

/** Request-level errors (as UNAUTHENTICATED is), with a code; over HTTP a 400. */
function refusal(message: string, code: string, http: boolean): GraphQLError {
  return createGraphQLError(message, { extensions: { code, ...(http ? { http: { status: 400 } } : {}) } });
}
const errors = {
  notFound: (hash: string, http = true) =>
    refusal(`unknown persisted document ${hash.slice(0, 64)}: this server knows only the documents of its own progress page`, 'PERSISTED_DOCUMENT_NOT_FOUND', http),
  required: (http = true) =>
    refusal(
      'this server accepts only persisted documents (send extensions.persistedQuery.sha256Hash); ask the operator for a token that may send others',
      'PERSISTED_DOCUMENT_REQUIRED',
      http,
    ),
  // Neither a document nor a hash: a malformed request, answered as yoga answers one without a query.
  missing: () => refusal('no document: send a query, or extensions.persistedQuery.sha256Hash', 'BAD_REQUEST', false),
};

/** The hash a request names, in Apollo's `persistedQuery` extension (version 1), or null. */
export function persistedDocumentHash(extensions: unknown): string | null {
  const pq = (extensions as { persistedQuery?: { version?: unknown; sha256Hash?: unknown } } | null | undefined)?.persistedQuery;
  return pq?.version === 1 && typeof pq.sha256Hash === 'string' ? pq.sha256Hash : null;
}

/** Whether a full document is accepted from this credential (null: no valid token). */
function mayUseArbitraryDocuments(mode: PersistedDocumentsMode, credential: Credential | null): boolean {
  return mode === 'allow' || credential?.arbitraryDocuments === true;
}

/** HTTP: yoga's persisted-operations plugin, with the rules above. */
export function usePersistedDocuments(runtime: Runtime): Plugin {
  const mode = runtime.config.persistedDocuments;
  return usePersistedOperations({
    getPersistedOperation: (hash) => PERSISTED_DOCUMENTS.get(hash) ?? null,
    // Runs before the context: the token is checked here too (verified tokens are cached), and a
    // request without a valid one is refused as a full document, not as unauthenticated.
    allowArbitraryOperations:
      mode === 'allow'
        ? true
        : (request) =>
            runtime.userTokens.fromHeader(request.headers.get('authorization')).then(
              (credential) => mayUseArbitraryDocuments(mode, credential),
              () => false,
            ),
    customErrors: {
      notFound: (payload) => errors.notFound(persistedDocumentHash(payload.params.extensions) ?? ''),
      persistedQueryOnly: () => errors.required(),
      keyNotFound: () => errors.missing(),
    },
  }) as Plugin;
}

/**
 * graphql-ws (where yoga's HTTP plugins do not run): the same rules for a subscribe payload. The
 * page sends `query: ""` with the hash (graphql-ws requires a string). Returns the document text.
 */
export function socketDocument(
  mode: PersistedDocumentsMode,
  payload: { query: string; extensions?: Record<string, unknown> | null | undefined },
  credential: Credential,
): { query: string } | { error: GraphQLError } {
  if (payload.query) return mayUseArbitraryDocuments(mode, credential) ? { query: payload.query } : { error: errors.required(false) };
  const hash = persistedDocumentHash(payload.extensions);
  if (hash === null) return { error: errors.missing() };
  const query = PERSISTED_DOCUMENTS.get(hash);
  return query === undefined ? { error: errors.notFound(hash, false) } : { query };
}
