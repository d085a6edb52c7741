import type { Content, TDocumentDefinitions } from 'pdfmake/interfaces.js';
import { BODY_FONT } from './fonts.js';
import { labelsFor } from './labels.js';
import type { TemplateContext } from './template.js';
import { unicodeText } from './unicode-text.js';

/**
 * Page set-up every template shares: A4, title and document language, "Page n of m" and provenance footer,
 * their words and the date in the report's locale (src/reports/templates/labels.ts).
 */
export function pageFrame(
  ctx: TemplateContext,
  content: Content,
  extra: Partial<TDocumentDefinitions> = {},
  intl: { locale: string; timeZone?: string } = { locale: 'en-US' },
): TDocumentDefinitions {
  const labels = labelsFor(intl.locale);
  const date = new Intl.DateTimeFormat(intl.locale, { dateStyle: 'medium', timeStyle: 'long', timeZone: intl.timeZone ?? 'UTC' }).format(ctx.generatedAt);
  const generated = unicodeText(labels.generated(date, ctx.reportId));
  return {
    pageSize: 'A4',
    pageMargins: [40, 40, 40, 50],
    // The rest of the metadata (author, dates, keywords) is set for every document in src/render/archival.ts.
    info: { title: ctx.title },
    language: intl.locale,
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
      columns: [{ text: generated }, { text: unicodeText(labels.page(page, pages)), alignment: 'right', width: 'auto' }],
    }),
    content: [{ text: unicodeText(ctx.title), style: 'title' }, content],
    ...extra,
  };
}
