import type { Alignment, Content, TableCell } from 'pdfmake/interfaces.js';
import { z } from 'zod';
import type { FallbackFont } from './fonts.js';
import { Locale, TimeZone } from './intl-params.js';
import { labelsFor } from './labels.js';
import { pageFrame } from './page-frame.js';
import { defineTemplate } from './template.js';
import { fallbackFontsOf, strut, unicodeText } from './unicode-text.js';

export const MAX_ROWS = 100_000;
export const MAX_COLUMNS = 50;

const Column = z.object({
  label: z.string().min(1).max(200),
  key: z.string().min(1).max(100),
  align: z.enum(['left', 'right', 'center']).optional(),
  format: z.enum(['text', 'number', 'currency', 'date']).default('text'),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR')
    .optional(),
});

const Cell = z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()]);

export const TableParams = z
  .object({
    subtitle: z.string().max(500).optional(),
    columns: z.array(Column).min(1).max(MAX_COLUMNS),
    rows: z.array(z.record(z.string(), Cell)).max(MAX_ROWS),
    /** true totals every number and currency column; a list names the columns to total. */
    totals: z.union([z.boolean(), z.array(z.string())]).optional(),
    locale: Locale,
    timeZone: TimeZone,
  })
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.columns.forEach((c, i) => {
      if (seen.has(c.key)) ctx.addIssue({ code: 'custom', path: ['columns', i, 'key'], message: `duplicate column key "${c.key}"` });
      seen.add(c.key);
      if (c.format === 'currency' && !c.currency) {
        ctx.addIssue({ code: 'custom', path: ['columns', i, 'currency'], message: 'a currency column needs its ISO 4217 code' });
      }
    });
    if (Array.isArray(p.totals)) {
      p.totals.forEach((key, i) => {
        const col = p.columns.find((c) => c.key === key);
        if (!col) ctx.addIssue({ code: 'custom', path: ['totals', i], message: `no column with key "${key}"` });
        else if (col.format !== 'number' && col.format !== 'currency') {
          ctx.addIssue({ code: 'custom', path: ['totals', i], message: `column "${key}" is not a number or currency column` });
        }
      });
    }
  });

export type TableParams = z.output<typeof TableParams>;
type Column = TableParams['columns'][number];
type CellValue = z.output<typeof Cell> | undefined;

/** One formatter per column, built once: Intl constructors are far too slow to call per cell. */
function formatter(col: Column, locale: string, timeZone: string): (v: CellValue) => string {
  const plain = (v: CellValue) => (v === null || v === undefined ? '' : String(v));
  switch (col.format) {
    case 'number': {
      const nf = new Intl.NumberFormat(locale);
      return (v) => (typeof v === 'number' ? nf.format(v) : plain(v));
    }
    case 'currency': {
      const nf = new Intl.NumberFormat(locale, { style: 'currency', currency: col.currency! });
      return (v) => (typeof v === 'number' ? nf.format(v) : plain(v));
    }
    case 'date': {
      const df = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone });
      return (v) => {
        if (typeof v !== 'string' && typeof v !== 'number') return plain(v);
        const d = new Date(v);
        return Number.isNaN(d.getTime()) ? plain(v) : df.format(d);
      };
    }
    default:
      return plain;
  }
}

function alignmentOf(col: Column): Alignment {
  return col.align ?? (col.format === 'number' || col.format === 'currency' ? 'right' : 'left');
}

/**
 * When any cell needs a fallback font, every cell starts with the same strut (unicode-text.ts):
 * rows keep one height and one baseline whatever their script. All-Latin tables are left alone.
 */
function evenRows(body: TableCell[][]): void {
  const fonts = new Set<FallbackFont>();
  for (const row of body) for (const cell of row) fallbackFontsOf((cell as { text: string | Content[] }).text, fonts);
  if (fonts.size === 0) return;
  const runs = strut(fonts, 9);
  for (const row of body) {
    for (const cell of row) {
      const c = cell as { text: string | Content[] };
      c.text = [...runs, ...(typeof c.text === 'string' ? [c.text] : c.text)];
    }
  }
}

export const table = defineTemplate({
  name: 'table',
  description: 'Rows under a header repeated on every page, with formatted columns and an optional totals row.',
  params: TableParams,
  build(p, ctx) {
    const labels = labelsFor(p.locale);
    const formats = p.columns.map((c) => formatter(c, p.locale, p.timeZone));
    const aligns = p.columns.map(alignmentOf);
    const header: TableCell[] = p.columns.map((c, i) => ({ text: unicodeText(c.label), style: 'header', alignment: aligns[i] }));
    const body: TableCell[][] = [header];
    for (const row of p.rows) {
      body.push(p.columns.map((c, i) => ({ text: unicodeText(formats[i]!(row[c.key])), alignment: aligns[i] })));
    }
    const totalled =
      p.totals === true
        ? p.columns.filter((c) => c.format === 'number' || c.format === 'currency').map((c) => c.key)
        : Array.isArray(p.totals)
          ? p.totals
          : [];
    if (totalled.length > 0) {
      body.push(
        p.columns.map((c, i) => {
          if (totalled.includes(c.key)) {
            const sum = p.rows.reduce((s, r) => s + (typeof r[c.key] === 'number' ? (r[c.key] as number) : 0), 0);
            return { text: unicodeText(formats[i]!(sum)), alignment: aligns[i], bold: true };
          }
          return { text: i === 0 ? unicodeText(labels.total) : '', bold: true };
        }),
      );
    }
    evenRows(body);
    const content: Content[] = [];
    if (p.subtitle) content.push({ text: unicodeText(p.subtitle), style: 'subtitle' });
    content.push({
      table: { headerRows: 1, widths: p.columns.map(() => '*'), body },
      layout: 'lightHorizontalLines',
    });
    return pageFrame(ctx, content, p.columns.length > 8 ? { pageOrientation: 'landscape' } : {}, { locale: p.locale, timeZone: p.timeZone });
  },
});
