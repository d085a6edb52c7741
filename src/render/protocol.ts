import type { HistoryEntry } from '../reports/templates/registry.js';
import type { PdfStandard } from '../shared/report-input.js';
import type { RenderFailure } from './errors.js';

/** What to render: everything a worker needs, structured-clonable. */
export interface RenderJob {
  /** A name from the templates registry. */
  template: string;
  title: string;
  /** Raw params: the worker validates them against the template's schema again. */
  params: unknown;
  reportId: string;
  /** When the report was requested: the document's creation date, so a re-render gives the same bytes. */
  generatedAt: Date;
  history?: HistoryEntry[];
  /** The document's author: the service that rendered it (PDF_AUTHOR); default `quire`. */
  author?: string;
  /** An archival standard to follow, as recorded in ReportRequested. */
  pdfStandard?: PdfStandard;
}

export type ToWorker = { type: 'render'; id: number; job: RenderJob };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; id: number; fraction: number }
  | { type: 'done'; id: number; pdf: Uint8Array; pages: number; renderMs: number; rendererVersion: string; locale?: string; missingGlyphs?: string[] }
  | { type: 'failed'; id: number; reason: Extract<RenderFailure, 'invalid_job' | 'failed'>; message: string };
