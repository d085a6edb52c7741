import { describe, expect, it } from 'vitest';
import { getTemplate, templateNames, templates } from '../../src/reports/templates/registry.js';
import { tableJob } from './fixtures.js';

function issuePaths(name: string, params: unknown): string[] {
  const result = getTemplate(name)!.params.safeParse(params);
  expect(result.success).toBe(false);
  return result.error!.issues.map((i) => i.path.join('.'));
}

const validTable = () => structuredClone(tableJob(3).params) as Record<string, any>;

describe('templates registry', () => {
  it('looks templates up by name and answers undefined for unknown names', () => {
    expect(templateNames.sort()).toEqual(['history', 'summary', 'table']);
    expect(getTemplate('table')).toBe(templates.table);
    expect(getTemplate('nope')).toBeUndefined();
    expect(getTemplate('toString')).toBeUndefined();
    expect(getTemplate('__proto__')).toBeUndefined();
  });

  it('accepts valid table params and fills defaults', () => {
    const p = templates.table.params.parse(validTable());
    expect(p.locale).toBe('en-US');
    expect(p.timeZone).toBe('UTC');
    expect(p.columns[1]!.format).toBe('text');
  });
});

describe('param validation names the offending path', () => {
  it('table: duplicate keys, currency without code, unknown total, wrong types', () => {
    const dup = validTable();
    dup.columns[1].key = 'id';
    expect(issuePaths('table', dup)).toContain('columns.1.key');

    const noCurrency = validTable();
    delete noCurrency.columns[2].currency;
    expect(issuePaths('table', noCurrency)).toContain('columns.2.currency');

    const badTotal = validTable();
    badTotal.totals = ['customer', 'missing'];
    expect(issuePaths('table', badTotal)).toEqual(['totals.0', 'totals.1']);

    const wrongType = validTable();
    wrongType.rows[1].amount = { nested: true };
    expect(issuePaths('table', wrongType)).toContain('rows.1.amount');

    const badFormat = validTable();
    badFormat.columns[0].format = 'percent';
    expect(issuePaths('table', badFormat)).toContain('columns.0.format');

    expect(issuePaths('table', { ...validTable(), locale: 'not a locale!' })).toContain('locale');
    expect(issuePaths('table', { ...validTable(), timeZone: 'Mars/Olympus' })).toContain('timeZone');
  });

  it('table: 1..50 columns and at most 100,000 rows', () => {
    expect(issuePaths('table', { ...validTable(), columns: [] })).toContain('columns');
    const many = Array.from({ length: 51 }, (_, i) => ({ label: `C${i}`, key: `c${i}` }));
    expect(issuePaths('table', { ...validTable(), columns: many })).toContain('columns');
    const rows = new Array(100_001).fill({});
    expect(issuePaths('table', { ...validTable(), rows })).toContain('rows');
  });

  it('summary and history', () => {
    expect(issuePaths('summary', { kpis: [{ label: 'x', value: 'ten' }], series: { label: 's', points: [] } })).toEqual([
      'kpis.0.value',
      'series.points',
    ]);
    expect(issuePaths('history', { reportId: 'not-a-uuid' })).toEqual(['reportId']);
  });
});
