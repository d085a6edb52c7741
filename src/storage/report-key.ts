import { REPORT_ID } from '../shared/report-input.js';

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Where a rendered report lives, on a volume and in the object store alike. Derived only from the
 * report id and the content hash (never from anything a user typed), so two renders of one report
 * that differ can never overwrite each other's file.
 */
export function reportKey(reportId: string, sha256: string): string {
  if (!REPORT_ID.test(reportId)) throw new TypeError(`not a report id: ${reportId}`);
  if (!SHA256.test(sha256)) throw new TypeError(`not a sha256: ${sha256}`);
  return `reports/${reportId}/${sha256}.pdf`;
}

/** The report id a key made by reportKey names, or null for any other key. */
export function reportIdOfKey(key: string): string | null {
  const [top, reportId, file, ...rest] = key.split('/');
  return top === 'reports' && reportId !== undefined && REPORT_ID.test(reportId) && file !== undefined && rest.length === 0 ? reportId : null;
}
