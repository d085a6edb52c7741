import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { sql, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { LegacyColumns } from '../config.js';
import { QuireError } from '../errors.js';
import { LegacyRowSchema, type LegacyRow } from './legacy-row.js';

export class LegacySourceError extends QuireError {
  readonly code = 'LEGACY_SOURCE';
  constructor(message: string) {
    super(message);
    this.name = 'LegacySourceError';
  }
}

/** A row that could not be read, with where it came from. */
export interface RejectedRow {
  at: string;
  reason: string;
}

export type SourceItem = { row: LegacyRow } | { rejected: RejectedRow };

function check(raw: unknown, at: string): SourceItem {
  const parsed = LegacyRowSchema.safeParse(raw);
  if (parsed.success) return { row: parsed.data };
  return { rejected: { at, reason: parsed.error.issues.map((i) => `${i.path.join('.') || '(row)'}: ${i.message}`).join('; ') } };
}

/** Rows of the legacy table in the database at `url` (LEGACY_DATABASE_URL). */
export async function* readLegacyDatabase(url: string, table: string, columns: LegacyColumns, pageSize = 1000): AsyncGenerator<SourceItem> {
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) });
  try {
    yield* readLegacyTable(db, table, columns, pageSize);
  } finally {
    await db.destroy();
  }
}

/**
 * Rows of the legacy table, keyset-paged on its id column so a large table streams in constant
 * memory. Table and column names come from configuration and are quoted as identifiers.
 */
export async function* readLegacyTable(db: Kysely<any>, table: string, columns: LegacyColumns, pageSize = 1000): AsyncGenerator<SourceItem> {
  try {
    let after: string | null = null;
    for (;;) {
      const { rows }: { rows: Array<Record<string, unknown>> } = await sql<Record<string, unknown>>`
        SELECT ${sql.ref(columns.id)}::text AS id, ${sql.ref(columns.owner)}::text AS owner, ${sql.ref(columns.title)} AS title,
               ${sql.ref(columns.file_path)} AS file_path, ${sql.ref(columns.created_at)} AS created_at
        FROM ${sql.table(table)}
        WHERE ${after === null ? sql`true` : sql`${sql.ref(columns.id)}::text > ${after}`}
        ORDER BY ${sql.ref(columns.id)}::text
        LIMIT ${pageSize}`.execute(db);
      if (rows.length === 0) return;
      for (const raw of rows) yield check(raw, `${table} id ${String(raw.id)}`);
      after = String(rows.at(-1)!.id);
    }
  } catch (err) {
    if (err instanceof LegacySourceError) throw err;
    throw new LegacySourceError(`reading ${table} from the legacy database failed: ${(err as Error).message}`);
  }
}

/** An exported record under the table's column names, as the canonical row shape. */
function renamed(record: Record<string, unknown>, columns: LegacyColumns): Record<string, unknown> {
  return {
    id: record[columns.id],
    owner: record[columns.owner],
    title: record[columns.title],
    file_path: record[columns.file_path],
    created_at: record[columns.created_at],
  };
}

/**
 * Rows of an export: NDJSON (one object per line) or CSV with a header row, by extension; the
 * fields are named like the table's columns.
 */
export async function* readLegacyFile(path: string, columns: LegacyColumns): AsyncGenerator<SourceItem> {
  if (/\.csv$/i.test(path)) {
    const parser = createReadStream(path).pipe(parse({ columns: true, skip_empty_lines: true, trim: true }));
    let line = 1;
    for await (const record of parser) yield check(renamed(record, columns), `${path} row ${++line}`);
    return;
  }
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (!text.trim()) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      yield { rejected: { at: `${path} line ${n}`, reason: 'not JSON' } };
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      yield { rejected: { at: `${path} line ${n}`, reason: 'not a JSON object' } };
      continue;
    }
    yield check(renamed(raw as Record<string, unknown>, columns), `${path} line ${n}`);
  }
}
