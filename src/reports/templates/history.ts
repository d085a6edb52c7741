import type { TableCell } from 'pdfmake/interfaces.js';
import { z } from 'zod';
import { MONO_FONT } from './fonts.js';
import { Locale } from './intl-params.js';
import { labelsFor } from './labels.js';
import { pageFrame } from './page-frame.js';
import { defineTemplate } from './template.js';
import { unicodeText } from './unicode-text.js';

export const HistoryParams = z.object({
  /** The report whose event history is printed; quire loads it into the context. */
  // Stored in its canonical (lower-case) form, the one report ids are kept in.
  reportId: z.uuid().transform((id) => id.toLowerCase()),
  locale: Locale,
});
export type HistoryParams = z.output<typeof HistoryParams>;

const SHORT_HASH = 12;
/** The full hash in two lines of 32 hex digits: 6.5 pt DejaVu Sans Mono (0.6 em a digit) is 125 pt wide. */
const HASH_LINE = 32;
const HASH_SIZE = 6.5;
/** The hash column: the two lines plus the table's 8 pt left padding, inside the page's 515 pt. */
const HASH_WIDTH = 136;

export const history = defineTemplate({
  name: 'history',
  description: "A report's own event history — who, when, which region, hash — for auditors.",
  // An auditor's record is kept for years: archival by default.
  pdfStandard: 'PDF/A-2b',
  params: HistoryParams,
  build(p, ctx) {
    const entries = ctx.history ?? [];
    const labels = labelsFor(p.locale);
    const body: TableCell[][] = [labels.historyColumns.map((h) => ({ text: unicodeText(h), style: 'header' }))];
    for (const e of entries) {
      body.push([
        { text: String(e.streamVersion), alignment: 'right' },
        e.note ? { stack: [{ text: unicodeText(e.type) }, { text: unicodeText(e.note), italics: true, color: '#555555' }] } : { text: unicodeText(e.type) },
        // Date over time: the column stays narrow enough for the actor and the full hash.
        { text: e.recordedAt.replace('T', '\n') },
        { text: unicodeText(e.actor ?? '—') },
        { text: unicodeText(e.region) },
        // The short form to read, the full one (in two legible lines) to check against the log.
        {
          stack: [
            { text: e.hash.slice(0, SHORT_HASH), font: MONO_FONT, bold: true },
            { text: `${e.hash.slice(0, HASH_LINE)}\n${e.hash.slice(HASH_LINE)}`, font: MONO_FONT, fontSize: HASH_SIZE, color: '#555555' },
          ],
        },
      ]);
    }
    return pageFrame(
      ctx,
      [
        { text: unicodeText(labels.historyOf(p.reportId)), style: 'subtitle' },
        entries.length === 0
          ? { text: unicodeText(labels.noEvents), italics: true }
          : {
              // Only the actor column stretches (and wraps): the others hold short, known values.
              table: { headerRows: 1, widths: ['auto', 'auto', 'auto', '*', 'auto', HASH_WIDTH], body },
              layout: 'lightHorizontalLines',
            },
      ],
      {},
      { locale: p.locale },
    );
  },
});
