const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Where a rendered report lives, on a volume and in the object store alike. Derived only from the
 * report id and the content hash (never from anything a user typed), so two renders of one report
 * that differ can never overwrite each other's file.
 */
export function reportKey(reportId: string, sha256: string): string {
  if (!UUID.test(reportId)) throw new TypeError(`not a report id: ${reportId}`);
  if (!SHA256.test(sha256)) throw new TypeError(`not a sha256: ${sha256}`);
  return `reports/${reportId}/${sha256}.pdf`;
}
