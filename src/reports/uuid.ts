const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ANY_CASE_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Report ids are lower-case UUIDs; anything else cannot name a report (and must not reach SQL as one). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * A UUID written in any case names the same report (RFC 9562 §4: case-insensitive on input):
 * its lower-case form, which is how ids are stored. Anything else is returned unchanged.
 */
export function canonicalUuid(value: string): string {
  return ANY_CASE_UUID.test(value) ? value.toLowerCase() : value;
}
