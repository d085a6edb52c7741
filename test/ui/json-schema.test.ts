/**
 * The page validates params with src/ui/json-schema.ts against the JSON Schema the server publishes
 * (`templates { paramsSchema }`, from its zod schemas). Here both judge the same payloads: whatever
 * the page accepts the server's schema accepts, and whatever the page refuses it refuses, at the
 * same path (except checks JSON Schema cannot carry, such as "a supported locale").
 */
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { templates } from '../../src/reports/templates/registry.js';
import { parseCsv, validate, type JsonSchema } from '../../src/ui/json-schema.js';

const schemaOf = (name: 'table' | 'summary') => z.toJSONSchema(templates[name].params, { io: 'input', unrepresentable: 'any' }) as JsonSchema;

const table = {
  columns: [
    { label: 'Item', key: 'item' },
    { label: 'Price', key: 'price', format: 'currency', currency: 'EUR', align: 'right' },
  ],
  rows: [{ item: 'a', price: 1.5 }],
  totals: true,
  locale: 'en-US',
  timeZone: 'UTC',
};
const summary = { kpis: [{ label: 'Total', value: 3, unit: 'EUR', delta: 0.1 }], series: { label: 'S', points: [{ label: 'P1', value: 2 }] }, locale: 'de-DE' };

const cases: Array<[string, 'table' | 'summary', unknown]> = [
  ['a valid table', 'table', table],
  ['no columns', 'table', { ...table, columns: [] }],
  ['a column without a key', 'table', { ...table, columns: [{ label: 'Item' }] }],
  ['an empty column label', 'table', { ...table, columns: [{ label: '', key: 'k' }] }],
  ['a lowercase currency', 'table', { ...table, columns: [{ label: 'P', key: 'p', format: 'currency', currency: 'eur' }] }],
  ['an unknown format', 'table', { ...table, columns: [{ label: 'P', key: 'p', format: 'money' }] }],
  ['a subtitle over 500', 'table', { ...table, subtitle: 'x'.repeat(501) }],
  ['a cell that is an object', 'table', { ...table, rows: [{ item: { nested: true } }] }],
  ['a cell over 10,000 characters', 'table', { ...table, rows: [{ item: 'x'.repeat(10_001) }] }],
  ['totals as a list', 'table', { ...table, totals: ['price'] }],
  ['totals as a number', 'table', { ...table, totals: 3 }],
  ['rows missing', 'table', { columns: table.columns }],
  ['a valid summary', 'summary', summary],
  ['a KPI without a value', 'summary', { ...summary, kpis: [{ label: 'T' }] }],
  ['a KPI value as text', 'summary', { ...summary, kpis: [{ label: 'T', value: '3' }] }],
  ['13 KPIs', 'summary', { ...summary, kpis: Array.from({ length: 13 }, () => ({ label: 'K', value: 1 })) }],
  ['no points', 'summary', { ...summary, series: { label: 'S', points: [] } }],
  ['61 points', 'summary', { ...summary, series: { label: 'S', points: Array.from({ length: 61 }, (_, i) => ({ label: `P${i}`, value: i })) } }],
  ['a point label over 40', 'summary', { ...summary, series: { label: 'S', points: [{ label: 'x'.repeat(41), value: 1 }] } }],
  ['a unit over 20', 'summary', { ...summary, kpis: [{ label: 'T', value: 1, unit: 'x'.repeat(21) }] }],
];

describe('the page’s params validation matches the server’s', () => {
  it.each(cases)('%s', (_name, template, params) => {
    const server = templates[template].params.safeParse(params);
    const client = validate(schemaOf(template), params, 'params');
    expect(client.length === 0, JSON.stringify(client)).toBe(server.success);
    if (!server.success) {
      const serverPaths = server.error.issues.map((i) => ['params', ...i.path].join('.'));
      // Each path the page reports is one the server reports too (or lies within one).
      for (const issue of client) expect(serverPaths.some((p) => issue.path === p || issue.path.startsWith(`${p}.`) || p.startsWith(`${issue.path}.`)), `${issue.path} vs ${serverPaths.join(', ')}`).toBe(true);
    }
  });

  it('reads CSV with quotes, commas and newlines inside fields', () => {
    expect(parseCsv('region,eur\r\n"iad, east",1200.5\n"say ""hi""\nthere",3\n')).toEqual([
      ['region', 'eur'],
      ['iad, east', '1200.5'],
      ['say "hi"\nthere', '3'],
    ]);
  });
});
