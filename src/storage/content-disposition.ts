/**
 * `attachment; filename="<ascii>"; filename*=UTF-8''<encoded>` (RFC 6266 / RFC 8187): the quoted
 * form for old clients, with anything outside printable ASCII or risky in a header replaced; the
 * extended form carries the real name.
 */
export function attachmentDisposition(filename: string): string {
  const name = filename.normalize('NFC').replace(/[\u0000-\u001f\u007f]/g, '').trim() || 'download';
  const ascii =
    name
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '') // strip accents so "Résumé" falls back to "Resume", not "R_sum_"
      .replace(/[^\x20-\x7e]|["\\/;%]/g, '_')
      .slice(0, 200) || 'download';
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeRfc8187(name)}`;
}

function encodeRfc8187(value: string): string {
  // encodeURIComponent leaves these unescaped, but they are not attr-chars.
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
