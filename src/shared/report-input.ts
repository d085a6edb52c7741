// What a report request and a report id may be: the server enforces these and the progress page
// checks them before sending. Shared by src/reports, src/api and src/ui, so this file imports
// nothing — the browser bundle must not pull in server code (src/ui's tsconfig has no Node types,
// so an import of server code here fails `npm run typecheck`).

/** The largest `params` a report request may carry, as UTF-8 JSON. */
export const MAX_PARAMS_BYTES = 1024 * 1024;

/** MAX_PARAMS_BYTES as people read it ("1 MiB"). */
export const MAX_PARAMS_TEXT = `${MAX_PARAMS_BYTES / 2 ** 20} MiB`;

/** The longest title a report may have, in characters (after trimming). */
export const MAX_TITLE_LENGTH = 200;

/** A report id as stored: a lower-case UUID. */
export const REPORT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A UUID in any case: names the same report as its lower-case form (RFC 9562 §4). */
export const ANY_CASE_UUID = new RegExp(REPORT_ID.source, 'i');

/**
 * The archival standards a report may be rendered to (requestReport's `pdfStandard`, or a
 * template's default). PDF/A-2b: fonts embedded, XMP metadata, an sRGB output intent.
 */
export const PDF_STANDARDS = ['PDF/A-2b'] as const satisfies readonly string[];
export type PdfStandard = (typeof PDF_STANDARDS)[number];
