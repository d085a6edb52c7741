import { ANY_CASE_UUID, REPORT_ID } from '../shared/report-input.js';

/** Report ids are lower-case UUIDs; anything else cannot name a report (and must not reach SQL as one). */
export function isUuid(value: string): boolean {
  return REPORT_ID.test(value);
}

/**
 * A UUID written in any case names the same report (RFC 9562 §4: case-insensitive on input):
 * its lower-case form, which is how ids are stored. Anything else is returned unchanged.
 */
export function canonicalUuid(value: string): string {
  // Ids arrive lower-case nearly always: one case-sensitive test, no case-folding scan or copy.
  if (REPORT_ID.test(value)) return value;
  return ANY_CASE_UUID.test(value) ? value.toLowerCase() : value;
}
