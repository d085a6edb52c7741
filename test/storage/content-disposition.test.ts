import { describe, expect, it } from 'vitest';
import { attachmentDisposition } from '../../src/storage/content-disposition.js';

describe('attachmentDisposition', () => {
  it('keeps a plain ASCII name in both forms', () => {
    expect(attachmentDisposition('Q3 report.pdf')).toBe(`attachment; filename="Q3 report.pdf"; filename*=UTF-8''Q3%20report.pdf`);
  });

  it('falls back to safe ASCII and carries the real name in filename*', () => {
    expect(attachmentDisposition('年度报告 (final).pdf')).toBe(
      `attachment; filename="____ (final).pdf"; filename*=UTF-8''%E5%B9%B4%E5%BA%A6%E6%8A%A5%E5%91%8A%20%28final%29.pdf`,
    );
  });

  it('cannot break out of the header or the quoted string', () => {
    const value = attachmentDisposition('a"\r\nSet-Cookie: x=1;\\b.pdf');
    expect(value).not.toMatch(/[\r\n]/);
    expect(value).toMatch(/^attachment; filename="a_Set-Cookie: x=1__b\.pdf"; filename\*=UTF-8''[A-Za-z0-9%._~-]+$/);
  });

  it('never emits an empty name', () => {
    expect(attachmentDisposition('\u0000 ')).toBe(`attachment; filename="download"; filename*=UTF-8''download`);
  });
});
