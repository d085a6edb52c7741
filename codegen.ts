/**
 * npm run codegen — typed documents for the .graphql operations, generated against the committed
 * schema/schema.graphql (run `npm run schema:print` first when the schema changed):
 * - test/graphql/gql/: TypedDocumentNode (AST) documents for the tests' operations (test/**);
 * - src/ui/gql/: TypedDocumentString documents for the progress page's operations
 *   (src/ui/operations/), plain strings so the browser bundle needs no graphql-js.
 */
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
      },
      config: { ...shared, documentMode: 'string' },
    },
  },
  hooks: {},
};

export default config;
