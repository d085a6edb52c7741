import type { TDocumentDefinitions } from 'pdfmake/interfaces.js';
import type { z } from 'zod';
import type { PdfStandard } from '../../shared/report-input.js';

/** One event of the subject report's stream, as the `history` template prints it. */
export interface HistoryEntry {
  streamVersion: number;
  type: string;
  /** ISO 8601. */
  recordedAt: string;
  actor: string | null;
  region: string;
  hash: string;
  /**
   * ERASED on the request of an erased report. The history never prints a title or params (a
   * history PDF would otherwise keep another report's personal data after that report is erased).
   */
  note?: string;
}

/** What a template knows besides its params: set by quire, never by the requester. */
export interface TemplateContext {
  reportId: string;
  title: string;
  generatedAt: Date;
  /** The events of the report named in the `history` template's params. */
  history?: HistoryEntry[];
}

export interface ReportTemplate<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  /** The standard its documents follow when the request names none. */
  pdfStandard?: PdfStandard;
  /** Validates the requester's params; `build` only ever sees its output. */
  params: S;
  /** Pure and synchronous: runs inside a render worker. */
  build(params: z.output<S>, ctx: TemplateContext): TDocumentDefinitions;
}

/** Keeps each template's params type tied to its schema. */
export function defineTemplate<S extends z.ZodType>(template: ReportTemplate<S>): ReportTemplate<S> {
  return template;
}
