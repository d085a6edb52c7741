import type { Content, TDocumentDefinitions } from 'pdfmake/interfaces.js';
import { BODY_FONT } from './fonts.js';
import type { TemplateContext } from './template.js';
import { unicodeText } from './unicode-text.js';

/** Page set-up every template shares: A4, title and metadata, "Page n of m" and provenance footer. */
export function pageFrame(
  ctx: TemplateContext,
  content: Content,
  extra: Partial<TDocumentDefinitions> = {},
): TDocumentDefinitions {
  const generated = `Generated ${ctx.generatedAt.toISOString()} · report ${ctx.reportId}`;
  return {
    pageSize: 'A4',
    pageMargins: [40, 40, 40, 50],
    info: { title: ctx.title, producer: 'quire', creator: 'quire' },
    defaultStyle: { font: BODY_FONT, fontSize: 9 },
    styles: {
      title: { fontSize: 16, bold: true, margin: [0, 0, 0, 4] },
      subtitle: { fontSize: 11, color: '#555555', margin: [0, 0, 0, 10] },
      header: { bold: true, fillColor: '#eeeeee' },
    },
    footer: (page, pages) => ({
      margin: [40, 15, 40, 0],
      fontSize: 7,
      color: '#666666',
      columns: [{ text: generated }, { text: `Page ${page} of ${pages}`, alignment: 'right', width: 'auto' }],
    }),
    content: [{ text: unicodeText(ctx.title), style: 'title' }, content],
    ...extra,
  };
}
