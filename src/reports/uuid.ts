const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Report ids are lower-case UUIDs; anything else cannot name a report (and must not reach SQL as one). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
