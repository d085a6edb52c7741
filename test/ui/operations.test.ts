/**
 * The progress page's GraphQL operations (src/ui/operations.js, plain JS sent as-is to the
 * browser) checked against the committed schema: a schema change that would break the page fails
 * here, without a browser.
 */
import { readFileSync } from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';

const schema = buildSchema(readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8'));
const operations = (await import(new URL('../../src/ui/operations.js', import.meta.url).href)) as Record<string, string>;

describe('progress page operations', () => {
  it('exports the operations the page sends', () => {
    expect(Object.keys(operations).sort()).toEqual(['CREATE_DOWNLOAD_URL', 'ME', 'REPORTS', 'REPORT_PROGRESS', 'REPORT_STATUS', 'REQUEST_REPORT', 'RETRY_REPORT']);
  });

  it.each(Object.entries(operations))('%s is valid against schema/schema.graphql', (_name, source) => {
    const document = parse(source);
    expect(validate(schema, document).map((e) => e.message)).toEqual([]);
  });
});
