/**
 * The documents as a reader sees them. Each template (a mixed-script table, German labels, KPI
 * blocks, an event history) is rendered through the real worker pool, turned into PNGs with
 * poppler's pdftoppm (kept in test-output/render/ for a person to look at), and checked
 * mechanically with pdftotext -bbox: every word inside the page margins, no U+FFFD, the page count,
 * the labels in the report's locale, table rows of one height, KPI values on one line.
 * poppler-utils comes from Debian (.ci/run installs it, as it installs chromium).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RenderPool, type RenderJob, type RenderResult } from '../../src/render/render-pool.js';
import type { HistoryEntry } from '../../src/reports/templates/registry.js';
import { GENERATED_AT, REPORT_ID } from './fixtures.js';

const OUT = 'test-output/render';
/** pageMargins of every template: 40 pt left and right (the footer too). */
const MARGIN = 40;
const SLACK = 0.5;

interface Word {
  text: string;
  xMin: number;
  yMin: number;
  xMax: number;
  yMax: number;
}
interface Page {
  width: number;
  height: number;
  words: Word[];
}

/** Words and their boxes, page by page, as poppler reads the PDF (an independent parser). */
function bbox(pdfPath: string): Page[] {
  const html = execFileSync('pdftotext', ['-bbox', pdfPath, '-'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  return [...html.matchAll(/<page width="([\d.]+)" height="([\d.]+)">([\s\S]*?)<\/page>/g)].map((p) => ({
    width: Number(p[1]),
    height: Number(p[2]),
    words: [...p[3]!.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<\/word>/g)].map((w) => ({
      xMin: Number(w[1]),
      yMin: Number(w[2]),
      xMax: Number(w[3]),
      yMax: Number(w[4]),
      text: unescape(w[5]!),
    })),
  }));
}

let pool: RenderPool;
beforeAll(async () => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  pool = new RenderPool({ size: 2 });
  await pool.warmUp();
});
afterAll(() => pool.close());

/** Renders, writes name.pdf and name-N.png, and checks what holds for every document. */
async function renderAndCheck(name: string, job: RenderJob): Promise<{ result: RenderResult; pages: Page[]; text: string }> {
  const result = await pool.render(job);
  const pdfPath = join(OUT, `${name}.pdf`);
  writeFileSync(pdfPath, result.pdf);
  execFileSync('pdftoppm', ['-png', '-r', '72', pdfPath, join(OUT, name)]);
  const pngs = readdirSync(OUT).filter((f) => f.startsWith(`${name}-`) && f.endsWith('.png'));
  const pages = bbox(pdfPath);
  expect(pngs.length, `${name}: one PNG per page`).toBe(result.pages);
  expect(pages.length, `${name}: pdftotext's page count`).toBe(result.pages);
  for (const [i, page] of pages.entries()) {
    expect(page.words.length, `${name} page ${i + 1} has text`).toBeGreaterThan(0);
    for (const w of page.words) {
      const where = `${name} p${i + 1} "${w.text}" x ${w.xMin.toFixed(1)}–${w.xMax.toFixed(1)} of ${page.width}`;
      expect(w.xMin, where).toBeGreaterThanOrEqual(MARGIN - SLACK);
      expect(w.xMax, where).toBeLessThanOrEqual(page.width - MARGIN + SLACK);
      expect(w.yMax, where).toBeLessThanOrEqual(page.height);
    }
  }
  const text = pages.flatMap((p) => p.words.map((w) => w.text)).join(' ');
  expect(text, `${name}: no replacement characters`).not.toContain('\uFFFD');
  return { result, pages, text };
}

const SCRIPTS: Array<[string, string]> = [
  ['Latin', 'Zürich café'],
  ['Chinese', '北京报告'],
  ['Japanese', '東京のレポート'],
  ['Korean', '서울 보고서'],
  ['Thai', 'รายงานกรุงเทพ'],
  ['Devanagari', 'दिल्ली रिपोर्ट'],
  ['Arabic', 'تقرير دبي'],
  ['Hebrew', 'דוח תל אביב'],
  ['Greek', 'Αθήνα αναφορά'],
  ['Cyrillic', 'Москва отчёт'],
  ['Emoji', 'Launch 🚀 🎉'],
];

function mixedTable(locale: string, title: string): RenderJob {
  return {
    template: 'table',
    title,
    reportId: REPORT_ID,
    generatedAt: GENERATED_AT,
    params: {
      locale,
      columns: [
        { label: 'No', key: 'no', format: 'number' },
        { label: 'Script', key: 'script' },
        { label: 'Name', key: 'name' },
        { label: 'Unit price', key: 'price', format: 'currency', currency: 'EUR' },
        { label: 'Amount', key: 'amount', format: 'currency', currency: 'EUR' },
      ],
      rows: SCRIPTS.map(([script, name], i) => ({ no: i + 1, script, name, price: 9.5 + i, amount: 1000 + i * 190.5 })),
      totals: ['amount'],
    },
  };
}

describe('rendered documents, checked as images and text', () => {
  it('a table in every script: all drawn (no U+FFFD, nothing reported missing), rows of one height', async () => {
    const { result, pages, text } = await renderAndCheck('table-scripts', mixedTable('en-US', 'Every script'));
    expect(result.missingGlyphs ?? []).toEqual([]);
    expect(result.locale).toBe('en-US');
    const squashed = text.replace(/\s+/g, '');
    for (const s of ['北京报告', '東京のレポート', '서울보고서', 'Αθήναναφορά'.replace('ναφ', 'αναφ'), 'Москваотчёт', '🚀']) expect(squashed).toContain(s);
    // Thai and Devanagari are shaped (reordered, conjuncts): their letters come back, in some order.
    expect(text).toMatch(/[\u0E01-\u0E4F]{4}/);
    expect(text).toMatch(/[\u0900-\u097F]{3}/);
    // Row heights: the Latin "No" column's numbers 1..11 sit at evenly spaced lines whatever the
    // script beside them (CJK once made its row taller and its text lower).
    const numbers = pages[0]!.words.filter((w) => /^\d+$/.test(w.text) && w.xMax < 140).sort((a, b) => a.yMin - b.yMin);
    expect(numbers.map((w) => w.text)).toEqual(SCRIPTS.map((_, i) => String(i + 1)));
    const gaps = numbers.slice(1).map((w, i) => w.yMin - numbers[i]!.yMin);
    expect(Math.max(...gaps) - Math.min(...gaps), `row pitch ${gaps.map((g) => g.toFixed(2)).join(', ')}`).toBeLessThan(0.2);
    // Baselines: in the Korean row, the number and the hangul share a baseline (bottoms within a
    // point, where hangul would otherwise sit ~4 pt lower).
    const row4 = numbers[3]!;
    const hangul = pages[0]!.words.find((w) => w.text.includes('서울'))!;
    expect(Math.abs(hangul.yMin + (hangul.yMax - hangul.yMin) - row4.yMax)).toBeLessThan(3);
  });

  it('German: labels, numbers and dates in German, and the locale recorded', async () => {
    const { result, text } = await renderAndCheck('table-de', mixedTable('de-DE', 'Umsatz nach Schrift'));
    expect(result.locale).toBe('de-DE');
    expect(text).toContain('Summe');
    expect(text).toContain('Seite 1 von 1');
    expect(text).toContain('Erstellt');
    expect(text).toContain('04.03.2025');
    expect(text).toMatch(/2\.905,00\s€/);
    for (const english of ['Total', 'Generated', 'Page 1 of']) expect(text).not.toContain(english);
  });

  it('labels follow the language of the locale, with English for the rest', async () => {
    const cases: Array<[string, string[]]> = [
      ['fr-FR', ['Page 1 sur 1', 'Généré']],
      ['es-MX', ['Página 1 de 1', 'Generado']],
      ['ja-JP', ['1 / 1 ページ', '合計']],
      ['zh-CN', ['第 1 页，共 1 页', '合计']],
      ['pt-BR', ['Page 1 of 1', 'Total', 'Generated']],
    ];
    for (const [locale, expected] of cases) {
      const { text } = await renderAndCheck(`table-${locale}`, mixedTable(locale, locale));
      for (const s of expected) expect(text.replace(/\s+/g, ''), `${locale}: ${s}`).toContain(s.replace(/\s+/g, ''));
    }
  });

  it('summary: KPI values fit their blocks on one line, and the blocks share a row', async () => {
    const { pages } = await renderAndCheck('summary', {
      template: 'summary',
      title: 'Quarter',
      reportId: REPORT_ID,
      generatedAt: GENERATED_AT,
      params: {
        locale: 'en-US',
        kpis: [
          { label: 'Revenue', value: 2190.5, unit: 'EUR', delta: 0.12 },
          { label: 'Orders', value: 42 },
          { label: 'Pipeline', value: 1234567.89, unit: 'EUR', delta: -0.03 },
          { label: 'Margin', value: 0.31, unit: '%' },
        ],
        series: { label: 'Monthly', points: [{ label: 'Jan', value: 3 }, { label: 'Feb', value: 5 }, { label: 'Mar', value: -1 }] },
      },
    });
    const words = pages[0]!.words;
    const value = (t: string) => words.find((w) => w.text === t)!;
    // "2,190.5 EUR" on one line: the number and its unit share a line.
    expect(Math.abs(value('2,190.5').yMin - words.find((w) => w.text === 'EUR' && w.xMin > value('2,190.5').xMax)!.yMin)).toBeLessThan(1);
    // The long value fits its (second-to-last) block: it ends before the fourth block begins.
    const pipeline = value('1,234,567.89');
    const margin = value('Margin');
    expect(pipeline.xMax).toBeLessThan(margin.xMin);
    // Every label of the row on one line, so the blocks are level.
    const labels = ['Revenue', 'Orders', 'Pipeline', 'Margin'].map(value);
    expect(Math.max(...labels.map((l) => l.yMin)) - Math.min(...labels.map((l) => l.yMin))).toBeLessThan(0.5);
  });

  it('history: the hashes stay inside the margins, in legible type, and the labels follow the locale', async () => {
    const history: HistoryEntry[] = Array.from({ length: 6 }, (_, i) => ({
      streamVersion: i + 1,
      type: ['ReportRequested', 'ReportRendered', 'ReportStoredLocal', 'ReportReplicated', 'ReportRetryRequested', 'ReportVolumeForgotten'][i]!,
      recordedAt: `2025-03-04T05:00:0${i}.000Z`,
      actor: i % 2 ? null : 'a-rather-long-actor-name@example.com',
      region: 'iad',
      hash: (i.toString(16) + 'f').repeat(32),
    }));
    const job = (locale: string): RenderJob => ({
      template: 'history',
      title: 'Audit trail',
      reportId: REPORT_ID,
      generatedAt: GENERATED_AT,
      params: { reportId: '0b9f3e0c-1111-4aaa-8bbb-222233334444', locale },
      history,
    });
    const { pages, text } = await renderAndCheck('history', job('en-US'));
    // The full hash in two lines of 32 digits, at a size one can read (taller than 5 pt).
    const halves = pages[0]!.words.filter((w) => /^[0-9a-f]{32}$/.test(w.text));
    expect(halves.length).toBe(history.length * 2);
    for (const h of halves) expect(h.yMax - h.yMin).toBeGreaterThan(5);
    expect(text).toContain('Event history of report');
    const german = await renderAndCheck('history-de', job('de-DE'));
    expect(german.text).toContain('Ereignisverlauf des Berichts');
    expect(german.text).toContain('Aufgezeichnet');
  });

  it('a character no shipped font has is reported with the render, not only drawn as U+FFFD', async () => {
    const job = mixedTable('en-US', 'Hieroglyphs');
    (job.params as { rows: Array<Record<string, unknown>> }).rows[0]!.name = 'ankh 𓋹';
    const result = await pool.render(job);
    expect(result.missingGlyphs).toEqual(['U+132F9']);
  });
});
