/**
 * npm run codegen — typed documents for the .graphql operations, generated against the committed
 * schema/schema.graphql (run `npm run schema:print` first when the schema changed):
 * - test/graphql/gql/: TypedDocumentNode (AST) documents for the tests' operations (test/**);
 * - src/ui/gql/: TypedDocumentString documents for the progress page's operations
 *   (src/ui/operations/), plain strings so the browser bundle needs no graphql-js, each with its
 *   sha256 hash; persisted-documents.json lists them for the server (trusted documents).
 */
import { createHash } from 'node:crypto';
import type { CodegenConfig } from '@graphql-codegen/cli';

const shared = {
  useTypeImports: true,
  // Relative imports end in .js, as moduleResolution NodeNext requires.
  emitLegacyCommonJSImports: false,
  // String unions instead of TS enums (isolatedModules / verbatimModuleSyntax friendly).
  enumType: 'string-literal',
  scalars: {
    DateTime: 'string',
    JSON: 'unknown',
  },
  strictScalars: true,
  avoidOptionals: false,
  skipTypename: false,
} as const;

const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  ignoreNoDocuments: true,
  generates: {
    'test/graphql/gql/': {
      documents: ['test/**/*.graphql'],
      preset: 'client',
      presetConfig: {
        // No fragments are masked: tests read every field they select.
        fragmentMasking: false,
        gqlTagName: 'graphql',
      },
      config: shared,
    },
    'src/ui/gql/': {
      documents: ['src/ui/operations/*.graphql'],
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        gqlTagName: 'graphql',
        // persisted-documents.json (hash → document): the server's list of trusted documents
        // (src/api/graphql/persisted-documents.ts); the page sends the hash alone.
        persistedDocuments: {
          mode: 'embedHashInDocument',
          // Bare hex (no "sha256:" prefix): what clients send as extensions.persistedQuery.sha256Hash.
          hashAlgorithm: (document: string) => createHash('sha256').update(document).digest('hex'),
        },
      },
      config: { ...shared, documentMode: 'string' },
    },
  },
  hooks: {},
};

export default config;
