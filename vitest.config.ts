import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // One copy of graphql: vitest would otherwise load its ESM build for src/ while Pothos, yoga and
    // graphql-ws load the CommonJS one, and `instanceof GraphQLError` fails across the two.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The progress page is served from its Vite build (dist/ui): build it first when it is stale.
    globalSetup: ['test/ui/build-ui.global.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
