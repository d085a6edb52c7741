import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import './errors.js';
import './events.js';
import './legacy.js';
import './reports.js';
import './rendering.js';
import './report-feed.js';
import './templates.js';
import './tokens.js';
import './audit.js';
import './viewer.js';
import './volumes.js';

/** The executable schema: one file per domain registers its types, queries and mutations on the builder. */
export const schema: GraphQLSchema = builder.toSchema({ sortSchema: true });

/** The SDL as committed in schema/schema.graphql (sorted, so the diff shows only real changes). */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
