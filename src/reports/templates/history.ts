import type { TableCell } from 'pdfmake/interfaces.js';
import { z } from 'zod';
import { pageFrame } from './page-frame.js';
import { defineTemplate } from './template.js';
import { unicodeText } from './unicode-text.js';

export const HistoryParams = z.object({
  /** The report whose event history is printed; quire loads it into the context. */
  // Stored in its canonical (lower-case) form, the one report ids are kept in.
  reportId: z.uuid().transform((id) => id.toLowerCase()),
});
export type HistoryParams = z.output<typeof HistoryParams>;

const SHORT_HASH = 12;

export const history = defineTemplate({
  name: 'history',
  description: "A report's own event history — who, when, which region, hash — for auditors.",
  params: HistoryParams,
  build(p, ctx) {
    const entries = ctx.history ?? [];
    const body: TableCell[][] = [
      ['Version', 'Event', 'Recorded at', 'Actor', 'Region', 'Hash'].map((h) => ({ text: h, style: 'header' })),
    ];
    for (const e of entries) {
      body.push([
        { text: String(e.streamVersion), alignment: 'right' },
        { text: unicodeText(e.type) },
        { text: e.recordedAt },
        { text: unicodeText(e.actor ?? '—') },
        { text: unicodeText(e.region) },
        // The short form to read, the full one to check against the log.
        { stack: [{ text: e.hash.slice(0, SHORT_HASH), font: 'Courier' }, { text: e.hash, font: 'Courier', fontSize: 4.5, color: '#666666' }] },
      ]);
    }
    return pageFrame(ctx, [
      { text: unicodeText(`Event history of report ${p.reportId}`), style: 'subtitle' },
      entries.length === 0
        ? { text: 'No events recorded.', italics: true }
        : {
            table: { headerRows: 1, widths: ['auto', 'auto', 'auto', '*', 'auto', 150], body },
            layout: 'lightHorizontalLines',
          },
    ]);
  },
});
