import { SCHEMA_VERSIONS, type EventType } from './types.js';

/** Turns the payload of `type` at schema version v into version v + 1. */
export type Upcaster = (data: unknown) => unknown;

/** v1 volume events did not know the machine: they stay region-level (machine null). */
const withoutMachine: Upcaster = (data) => ({ machine: null, ...(data as object) });

/**
 * upcasters[type][v] lifts a payload from version v to v + 1; an entry is added whenever a
 * SCHEMA_VERSIONS number goes up.
 */
export const upcasters: Partial<Record<EventType, Record<number, Upcaster>>> = {
  // A v1 request (in clear) is a valid v2 one; v2 only lets an instance that cannot decrypt say "upgrade".
  ReportRequested: { 1: (data) => data },
  ReportStoredLocal: { 1: withoutMachine },
  ReportMigrated: { 1: withoutMachine },
  LegacyScanCompleted: { 1: withoutMachine },
};

export class UnknownSchemaVersionError extends Error {
  override readonly name = 'UnknownSchemaVersionError';
}

/** Lifts a stored payload to the current schema version of its type. */
export function upcast(
  type: EventType,
  schemaVersion: number,
  data: unknown,
  registry: { upcasters: typeof upcasters; versions: Record<EventType, number> } = { upcasters, versions: SCHEMA_VERSIONS },
): unknown {
  const current = registry.versions[type];
  if (schemaVersion > current) {
    throw new UnknownSchemaVersionError(`${type} v${schemaVersion} is newer than this code (v${current}): upgrade quire`);
  }
  let value = data;
  for (let v = schemaVersion; v < current; v++) {
    const lift = registry.upcasters[type]?.[v];
    if (!lift) throw new UnknownSchemaVersionError(`no upcaster for ${type} v${v} → v${v + 1}`);
    value = lift(value);
  }
  return value;
}
