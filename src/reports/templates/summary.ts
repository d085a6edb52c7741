import type { CanvasElement, Content } from 'pdfmake/interfaces.js';
import { z } from 'zod';
import { Locale } from './intl-params.js';
import { pageFrame } from './page-frame.js';
import { defineTemplate } from './template.js';
import { unicodeText } from './unicode-text.js';

const finite = z.number().refine(Number.isFinite, 'a finite number');

export const SummaryParams = z.object({
  kpis: z
    .array(
      z.object({
        label: z.string().min(1).max(100),
        value: finite,
        unit: z.string().max(20).optional(),
        /** Change against the previous period, as a fraction: 0.12 is +12 %. */
        delta: finite.optional(),
      }),
    )
    .max(12),
  series: z.object({
    label: z.string().min(1).max(200),
    points: z
      .array(z.object({ label: z.string().max(40), value: finite }))
      .min(1)
      .max(60),
  }),
  locale: Locale,
});
export type SummaryParams = z.output<typeof SummaryParams>;

// Chart geometry in points; the content width of A4 portrait with 40 pt margins is 515.
const AXIS_GUTTER = 45;
const PLOT_W = 515 - AXIS_GUTTER;
const PLOT_H = 220;
const TICKS = 5;
const BAR_FILL = '#3b6ea5';
const NEG_FILL = '#b5473a';

/** A "nice" step (1, 2 or 5 × 10^n) so that TICKS steps cover the range. */
function niceStep(range: number): number {
  if (range <= 0) return 1;
  const raw = range / TICKS;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const n = raw / mag;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

/** The KPI blocks' inner width: four to a row across 515 pt with 10 pt gaps, less padding and border. */
const KPI_INNER_WIDTH = (515 - 3 * 10) / 4 - 2 * 6 - 2 * 4 - 2;
const KPI_VALUE_SIZE = 18;
const KPI_MIN_SIZE = 8;
/** Every block the same height: the label, the value at full size and the delta line. */
const KPI_HEIGHT = 62;

/**
 * A conservative width of `text` in Helvetica Bold (and Arimo Bold, metric-compatible), in em: its advance widths for
 * the characters numbers are made of, generous ones for the rest, 1 em for wide scripts.
 */
export function boldWidthEm(text: string): number {
  let em = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch >= '0' && ch <= '9') em += 0.556;
    else if (' ,.:;\'\u00a0\u202f'.includes(ch)) em += 0.278;
    else if (ch === '-' || ch === '\u2212') em += 0.584;
    else if (ch === '%') em += 0.889;
    else if (ch >= 'A' && ch <= 'Z') em += 0.778;
    else if (ch >= 'a' && ch <= 'z') em += 0.611;
    else if (cp >= 0x1100) em += 1;
    else em += 0.722;
  }
  return em;
}

/** The largest size up to 18 pt at which `text` fits the block on one line (never below 8 pt). */
export function fitKpiSize(text: string): number {
  const em = boldWidthEm(text);
  return Math.max(KPI_MIN_SIZE, Math.min(KPI_VALUE_SIZE, Math.floor((KPI_INNER_WIDTH / Math.max(em, 0.01)) * 4) / 4));
}

function kpiBlock(k: SummaryParams['kpis'][number], nf: Intl.NumberFormat, pf: Intl.NumberFormat): Content {
  const value = nf.format(k.value) + (k.unit ? ` ${k.unit}` : '');
  const size = fitKpiSize(value);
  const stack: Content[] = [
    { text: unicodeText(k.label), fontSize: 8, color: '#555555' },
    // Sized to fit on one line; the margin keeps the block's height whatever the size.
    { text: unicodeText(value), fontSize: size, bold: true, noWrap: true, margin: [0, 2 + (KPI_VALUE_SIZE - size) * 0.6, 0, 2 + (KPI_VALUE_SIZE - size) * 0.55] },
  ];
  if (k.delta !== undefined) {
    const up = k.delta >= 0;
    stack.push({ text: unicodeText(`${up ? '▲' : '▼'} ${pf.format(k.delta)}`), color: up ? '#2e7d32' : '#c62828', fontSize: 8 });
  }
  return {
    table: { widths: ['*'], heights: [KPI_HEIGHT], body: [[{ stack, margin: [6, 6, 6, 6] }]] },
    layout: { hLineColor: () => '#cccccc', vLineColor: () => '#cccccc' },
  };
}

/** Bars, gridlines and axes as vector shapes, with tick and category labels placed around them. */
function barChart(series: SummaryParams['series'], nf: Intl.NumberFormat): Content {
  const values = series.points.map((p) => p.value);
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values);
  const step = niceStep(hi - lo);
  const min = Math.floor(lo / step) * step;
  const max = Math.max(Math.ceil(hi / step) * step, min + step);
  const y = (v: number) => PLOT_H - ((v - min) / (max - min)) * PLOT_H;

  const shapes: CanvasElement[] = [];
  const labels: Content[] = [];
  for (let v = min; v <= max + step / 2; v += step) {
    const ty = y(v);
    shapes.push({ type: 'line', x1: AXIS_GUTTER, y1: ty, x2: AXIS_GUTTER + PLOT_W, y2: ty, lineWidth: 0.5, lineColor: '#dddddd' });
    shapes.push({ type: 'line', x1: AXIS_GUTTER - 4, y1: ty, x2: AXIS_GUTTER, y2: ty, lineWidth: 0.75, lineColor: '#333333' });
    labels.push({
      columns: [{ text: nf.format(v), fontSize: 7, alignment: 'right', width: AXIS_GUTTER - 7 }],
      relativePosition: { x: 0, y: ty - 4 },
    });
  }
  const slot = PLOT_W / series.points.length;
  const barW = Math.max(2, slot * 0.7);
  series.points.forEach((p, i) => {
    const x = AXIS_GUTTER + i * slot + (slot - barW) / 2;
    const top = y(Math.max(p.value, 0));
    const h = Math.abs(y(p.value) - y(0));
    shapes.push({ type: 'rect', x, y: top, w: barW, h: Math.max(h, 0.5), color: p.value < 0 ? NEG_FILL : BAR_FILL });
    labels.push({
      columns: [{ text: unicodeText(p.label), fontSize: series.points.length > 20 ? 5 : 7, alignment: 'center', width: slot }],
      relativePosition: { x: AXIS_GUTTER + i * slot, y: PLOT_H + 4 },
    });
  });
  // Axes last so they sit on top of the bars.
  shapes.push({ type: 'line', x1: AXIS_GUTTER, y1: 0, x2: AXIS_GUTTER, y2: PLOT_H, lineWidth: 1, lineColor: '#333333' });
  shapes.push({ type: 'line', x1: AXIS_GUTTER, y1: y(0), x2: AXIS_GUTTER + PLOT_W, y2: y(0), lineWidth: 1, lineColor: '#333333' });

  return {
    unbreakable: true,
    stack: [
      { text: unicodeText(series.label), bold: true, fontSize: 11, margin: [0, 0, 0, 8] },
      { stack: labels },
      { canvas: shapes },
      // Room for the category labels drawn below the plot.
      { text: '', margin: [0, 14, 0, 0] },
    ],
  };
}

export const summary = defineTemplate({
  name: 'summary',
  description: 'Key figures as blocks, and a bar chart of one series drawn as vector shapes.',
  params: SummaryParams,
  build(p, ctx) {
    const nf = new Intl.NumberFormat(p.locale, { maximumFractionDigits: 2 });
    const pf = new Intl.NumberFormat(p.locale, { style: 'percent', maximumFractionDigits: 1, signDisplay: 'always' });
    const rows: Content[] = [];
    for (let i = 0; i < p.kpis.length; i += 4) {
      const blocks = p.kpis.slice(i, i + 4).map((k) => kpiBlock(k, nf, pf));
      while (blocks.length < 4) blocks.push({ text: '' });
      rows.push({ columns: blocks, columnGap: 10, margin: [0, 0, 0, 10] });
    }
    return pageFrame(ctx, [...rows, { text: '', margin: [0, 6, 0, 0] }, barChart(p.series, nf)], {}, { locale: p.locale });
  },
});
