import type { TDocumentDefinitions } from 'pdfmake/interfaces.js';
import type { ReportTemplate } from '../reports/templates/registry.js';
import type { RenderJob } from './protocol.js';

export const DEFAULT_PDF_AUTHOR = 'quire';

/**
 * What every document carries besides its content: full Info metadata (and XMP, written by pdfkit
 * from PDF 1.4 on), taken from the job only — never the clock — so that the same report renders
 * to the same bytes (pdfkit derives the file /ID from the Info dictionary, CreationDate included).
 * The document language comes from the template (page-frame.ts, the report's locale).
 *
 * Not set: `tagged`. pdfmake 0.3 passes it to pdfkit, but draws no marked content, so it would
 * only add an empty structure tree while claiming the document is tagged.
 */
export function archivalDocument(
  doc: TDocumentDefinitions,
  job: RenderJob,
  template: Pick<ReportTemplate, 'name' | 'description' | 'pdfStandard'>,
  versions: { producer: string; creator: string },
): TDocumentDefinitions {
  const pdfStandard = job.pdfStandard ?? template.pdfStandard;
  return {
    ...doc,
    // pdfmake's default (1.3) has no XMP metadata stream; PDF/A-2b is based on 1.7.
    version: '1.7',
    info: {
      title: job.title,
      author: job.author ?? DEFAULT_PDF_AUTHOR,
      subject: template.description,
      keywords: ['quire', template.name, job.reportId, ...(pdfStandard ? [pdfStandard] : [])].join(', '),
      creator: versions.creator,
      producer: versions.producer,
      creationDate: job.generatedAt,
    },
    ...(pdfStandard ? { subset: pdfStandard } : {}),
  };
}
