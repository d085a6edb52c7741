/**
 * npm run codegen — typed documents (TypedDocumentNode) for the .graphql operations the tests (and
 * any client folder) use, generated against the committed schema/schema.graphql. Run
 * `npm run schema:print` first when the schema changed.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['test/**/*.graphql', 'src/ui/**/*.graphql'],
  ignoreNoDocuments: true,
  generates: {
    'test/graphql/gql/': {
      preset: 'client',
      presetConfig: {
        // No fragments are masked: tests read every field they select.
        fragmentMasking: false,
        gqlTagName: 'graphql',
      },
      config: {
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
      },
    },
  },
  hooks: {},
};

export default config;
