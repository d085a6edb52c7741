/**
 * The download's file name, made from the report title (the user's text): characters that mean
 * something to a file system or a header are replaced; Unicode stays (Content-Disposition carries
 * it as filename*, with an ASCII fallback).
 */
export function attachmentName(title: string): string {
  const base = title
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .replace(/[\\/:*?"<>|;%]+/g, '_')
    .replace(/\s+/g, ' ')
    .replace(/^[ ._-]+|[ ._-]+$/g, '')
    .slice(0, 100);
  return `${base || 'report'}.pdf`;
}
