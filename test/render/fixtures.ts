import type { RenderJob } from '../../src/render/render-pool.js';

export const REPORT_ID = '3f1c2b9e-5d4a-4c8b-9a7e-1b2c3d4e5f60';
export const GENERATED_AT = new Date('2025-03-04T05:06:07.000Z');

/** About 50 rows fit an A4 page at the table template's 9 pt body size. */
export function tableJob(rowCount: number, extra: Partial<RenderJob> = {}): RenderJob {
  const rows = Array.from({ length: rowCount }, (_, i) => ({
    id: i + 1,
    customer: `Customer ${i + 1}`,
    amount: Math.round(((i * 7919) % 100_000) / 3) / 100,
    due: new Date(Date.UTC(2025, 0, 1 + (i % 365))).toISOString(),
  }));
  return {
    template: 'table',
    title: 'Invoices',
    reportId: REPORT_ID,
    generatedAt: GENERATED_AT,
    params: {
      subtitle: 'All open invoices',
      columns: [
        { label: 'Invoice', key: 'id', format: 'number' },
        { label: 'Customer', key: 'customer' },
        { label: 'Amount', key: 'amount', format: 'currency', currency: 'EUR' },
        { label: 'Due', key: 'due', format: 'date' },
      ],
      rows,
      totals: ['amount'],
    },
    ...extra,
  };
}
