/**
 * Archival PDFs: every template's document carries full metadata (pdfinfo), its language, only
 * embedded fonts (pdffonts), passes `qpdf --check`, and renders to the same bytes twice. The
 * PDF/A-2b variant also carries XMP with its pdfaid and an sRGB output intent. No PDF/A validator
 * is to be had from npm or Debian here (veraPDF is neither), so these are the checks: see README.
 * poppler-utils and qpdf come from Debian (.ci/run installs them).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RenderPool, type RenderJob } from '../../src/render/render-pool.js';
import { templates } from '../../src/reports/templates/registry.js';
import { GENERATED_AT, REPORT_ID, tableJob } from './fixtures.js';

const OUT = 'test-output/archival';
const STANDARD_14 = /^(Times|Helvetica|Courier|Symbol|ZapfDingbats)/;

let pool: RenderPool;
beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  pool = new RenderPool({ size: 1 });
  await pool.warmUp();
});
afterAll(() => pool.close());

const history = Array.from({ length: 3 }, (_, i) => ({
  streamVersion: i + 1,
  type: ['ReportRequested', 'ReportRendered', 'ReportStoredLocal'][i]!,
  recordedAt: new Date(GENERATED_AT.getTime() + i * 1000).toISOString(),
  actor: i === 0 ? 'user-1' : 'worker:iad',
  region: 'iad',
  hash: createHash('sha256').update(String(i)).digest('hex'),
}));

const JOBS: Record<keyof typeof templates, RenderJob> = {
  table: tableJob(60, {
    title: 'Q3 <sales> & "Zürich"',
    params: { ...tableJob(60).params as object, locale: 'de-DE', rows: [{ id: 1, customer: 'Москва 北京 서울', amount: 3, due: '2025-01-01' }] },
  }),
  summary: {
    template: 'summary',
    title: 'KPIs',
    reportId: REPORT_ID,
    generatedAt: GENERATED_AT,
    params: { locale: 'fr-FR', kpis: [{ label: 'Revenue', value: 1234567.5, unit: '€', delta: 0.12 }], series: { label: 'Monthly', points: [{ label: 'Jan', value: 3 }, { label: 'Feb', value: -1 }] } },
  },
  history: { template: 'history', title: 'History', reportId: REPORT_ID, generatedAt: GENERATED_AT, params: { reportId: REPORT_ID, locale: 'en-GB' }, history },
};
const LOCALES = { table: 'de-DE', summary: 'fr-FR', history: 'en-GB' };

function write(name: string, pdf: Buffer): string {
  const path = join(OUT, `${name}.pdf`);
  writeFileSync(path, pdf);
  return path;
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

/** pdfinfo's "Key: value" lines (dates in UTC, as ISO). */
function pdfinfo(path: string): Record<string, string> {
  const out = run('pdfinfo', ['-isodates', path]);
  return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
}

/** pdffonts' rows: name, type, and whether each font is embedded. */
function pdffonts(path: string): { name: string; embedded: boolean }[] {
  return run('pdffonts', [path])
    .split('\n')
    .slice(2)
    .filter(Boolean)
    .map((l) => {
      const cols = l.trim().split(/\s+/);
      // name type… encoding emb sub uni object id: "emb" is the 5th column from the end.
      return { name: cols[0]!, embedded: cols.at(-5) === 'yes' };
    });
}

/** The document catalog as qpdf prints it. */
function catalog(path: string): string {
  const root = /\/Root (\d+) 0 R/.exec(run('qpdf', ['--show-object=trailer', path]))![1]!;
  return run('qpdf', [`--show-object=${root}`, path]);
}

function qpdfCheck(path: string): void {
  const r = spawnSync('qpdf', ['--check', path], { encoding: 'utf8' });
  expect(r.status, `${path}: qpdf --check\n${r.stdout}${r.stderr}`).toBe(0);
  expect(r.stdout).toContain('No syntax or stream encoding errors found');
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('archival PDFs', () => {
  for (const name of Object.keys(JOBS) as (keyof typeof templates)[]) {
    it(`${name}: full metadata, its language, only embedded fonts, qpdf-clean, the same bytes twice`, async () => {
      const job = { ...JOBS[name], author: 'quire-test' };
      const [a, b] = [await pool.render(job), await pool.render(job)];
      expect(sha256(a.pdf), `${name}: a re-render gives the same bytes`).toBe(sha256(b.pdf));
      const path = write(name, a.pdf);
      qpdfCheck(path);

      const info = pdfinfo(path);
      expect(info).toMatchObject({
        Title: job.title,
        Author: 'quire-test',
        Subject: templates[name].description,
        Creator: expect.stringMatching(/^quire templates v\d+$/),
        Producer: expect.stringMatching(/^pdfmake 0\.3\.\d+$/),
        CreationDate: GENERATED_AT.toISOString().replace('.000Z', 'Z'),
        'Metadata Stream': 'yes',
        'PDF version': '1.7',
      });
      expect(info.Keywords!.split(', ')).toEqual(expect.arrayContaining(['quire', name, REPORT_ID]));
      expect(catalog(path)).toContain(`/Lang (${LOCALES[name]})`);

      const fonts = pdffonts(path);
      expect(fonts.length).toBeGreaterThan(0);
      for (const f of fonts) {
        expect(f.embedded, `${name}: ${f.name} embedded`).toBe(true);
        expect(f.name.replace(/^[A-Z]{6}\+/, ''), `${name}: no standard-14 font`).not.toMatch(STANDARD_14);
      }
    });
  }

  it('PDF/A-2b on request (and by default for history): XMP with pdfaid 2/B and the escaped title, an sRGB output intent', async () => {
    const plain = await pool.render(JOBS.table);
    const archival = await pool.render({ ...JOBS.table, pdfStandard: 'PDF/A-2b' });
    const history = await pool.render(JOBS.history);
    expect(sha256(archival.pdf)).toBe(sha256((await pool.render({ ...JOBS.table, pdfStandard: 'PDF/A-2b' })).pdf));

    const plainPath = write('table-plain', plain.pdf);
    expect(catalog(plainPath)).not.toContain('/OutputIntents');
    expect(run('pdfinfo', ['-meta', plainPath])).not.toContain('pdfaid');

    for (const [name, pdf] of [['table-pdfa', archival.pdf], ['history-pdfa', history.pdf]] as const) {
      const path = write(name, pdf);
      qpdfCheck(path);
      expect(catalog(path)).toMatch(/\/OutputIntents \[ \d+ 0 R \]/);
      const xmp = run('pdfinfo', ['-meta', path]);
      expect(xmp).toContain('<pdfaid:part>2</pdfaid:part>');
      expect(xmp).toContain('<pdfaid:conformance>B</pdfaid:conformance>');
      expect(xmp).toContain(`<xmp:CreateDate>${GENERATED_AT.toISOString().replace('.000Z', 'Z')}</xmp:CreateDate>`);
      expect(xmp).toContain('<rdf:li>quire</rdf:li>');
      for (const f of pdffonts(path)) expect(f.embedded, `${name}: ${f.name}`).toBe(true);
    }
    // The requester's title is text in the XMP, not markup; the Info dictionary keeps it as typed.
    const xmp = run('pdfinfo', ['-meta', join(OUT, 'table-pdfa.pdf')]);
    expect(xmp).toContain('Q3 &lt;sales&gt; &amp; &quot;Zürich&quot;');
    expect(xmp).not.toContain('<sales>');
    expect(pdfinfo(join(OUT, 'table-pdfa.pdf')).Title).toBe('Q3 <sales> & "Zürich"');
  });
});
