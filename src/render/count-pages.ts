/**
 * Pages in a PDF as pdfkit writes it: one `/Type /Page` dictionary per page, uncompressed (pdfkit
 * never uses object streams; content streams are compressed, so page text cannot fake a match).
 */
export function countPages(pdf: Uint8Array): number {
  const text = Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength).toString('latin1');
  return text.match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0;
}
