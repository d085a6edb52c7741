/**
 * The progress page's GraphQL operations (src/ui/operations/*.graphql, typed by codegen into
 * src/ui/gql/) checked against the committed schema: a schema change that would break the page
 * fails here, without a browser; and the generated documents are those of the .graphql files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { buildSchema, parse, validate, type DefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';

const schema = buildSchema(readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8'));
const dir = new URL('../../src/ui/operations/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.graphql'));
const sources = files.map((f) => readFileSync(new URL(f, dir), 'utf8'));
const generated = readFileSync(new URL('../../src/ui/gql/graphql.ts', import.meta.url), 'utf8');
const names = (d: DefinitionNode) => ('name' in d && d.name ? d.name.value : '');

describe('progress page operations', () => {
  it('has the operations the page sends', () => {
    const operations = sources.flatMap((s) => parse(s).definitions.filter((d) => d.kind === 'OperationDefinition').map(names));
    expect(operations.sort()).toEqual(['UiCreateDownloadUrl', 'UiDeleteReport', 'UiEraseReport', 'UiEvents', 'UiLogDigest', 'UiMe', 'UiReportProgress', 'UiReportStatus', 'UiReports', 'UiRequestReport', 'UiRetryReport', 'UiTemplates', 'UiViewerReports']);
  });

  it('every operation is valid against schema/schema.graphql (with the fragments)', () => {
    const document = parse(sources.join('\n'));
    expect(validate(schema, document).map((e) => e.message)).toEqual([]);
  });

  it('src/ui/gql is up to date with the .graphql files (npm run codegen)', () => {
    for (const source of sources) {
      for (const d of parse(source).definitions) {
        const name = names(d);
        const exported = d.kind === 'FragmentDefinition' ? `${name}FragmentDoc` : `${name}Document`;
        expect(generated, `${exported} (run npm run codegen)`).toContain(`export const ${exported} = `);
      }
      // The document text itself, as codegen prints it, is in the generated module.
      const firstLine = source.trim().split('\n')[0]!;
      expect(generated).toContain(firstLine);
    }
  });
});
