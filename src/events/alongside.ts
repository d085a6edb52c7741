import type { Transaction } from 'kysely';
import type { Database } from '../database/schema.js';

/**
 * Writes rows outside the log that must exist exactly when an append does (a new report's data
 * key beside its ReportRequested: reports/personal-data.ts). Called inside the append's
 * transaction, after its events and before its inline projections (which may read the rows); it
 * rolls back with the append. A group commit calls it once with the rows of all its appends, so
 * a batch stays one statement per writer.
 */
export interface AlongsideWriter<Row> {
  write(trx: Transaction<Database>, rows: readonly Row[]): Promise<void>;
}

/** One row for a writer, given with an append (AppendOptions.alongside). */
export interface Alongside<Row = unknown> {
  writer: AlongsideWriter<Row>;
  row: Row;
}

/** Writes the rows of one or more appends: one call per writer, rows in the appends' order. */
export async function writeAlongside(trx: Transaction<Database>, alongside: readonly Alongside[]): Promise<void> {
  const byWriter = new Map<AlongsideWriter<unknown>, unknown[]>();
  for (const { writer, row } of alongside) {
    const rows = byWriter.get(writer);
    if (rows) rows.push(row);
    else byWriter.set(writer, [row]);
  }
  for (const [writer, rows] of byWriter) await writer.write(trx, rows);
}
