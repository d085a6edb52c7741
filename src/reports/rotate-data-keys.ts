import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { Database } from '../database/schema.js';
import { DataKeyUnavailableError } from './errors.js';
import type { PersonalData } from './personal-data.js';

/** A data key this run could not re-wrap: wrapped with a key-encryption key it does not have, or damaged. */
export interface UnrotatedKey {
  reportId: string;
  kekId: string;
  why: string;
}

export interface RotationResult {
  /** The key-encryption key every data key is to be wrapped with (DATA_ENCRYPTION_KEY's id). */
  kekId: string;
  /** Data keys re-wrapped by this run. */
  rotated: number;
  /** Every data key after the run, by the id of the key-encryption key that wraps it. */
  keysByKek: Record<string, number>;
  /** The keys left as they were (at most 100 listed); `keysByKek` counts them all. */
  unrotated: UnrotatedKey[];
  /** True when every data key is wrapped with `kekId`: DATA_ENCRYPTION_KEY_PREVIOUS can go. */
  complete: boolean;
}

export interface RotationOptions {
  /** Keys re-wrapped per transaction. */
  batchSize: number;
  /** A pause between batches, to spare a busy database. */
  pauseMs?: number;
  /** After each committed batch: the keys re-wrapped so far. */
  onBatch?: (rotated: number) => void;
}

/**
 * Passes over the table: keys wrapped with the old key by an instance that does not have the new
 * one yet (a deploy still rolling) can appear behind a pass; each pass takes those too.
 */
const MAX_PASSES = 3;
const MAX_LISTED = 100;

/**
 * Re-wraps every report's data key that is not wrapped with the current key-encryption key
 * (DATA_ENCRYPTION_KEY) with it — unwrapping with DATA_ENCRYPTION_KEY_PREVIOUS — in batches, each
 * one transaction. Each row is replaced only if it is still what was read (an erasure that deleted
 * it meanwhile wins), and only with a wrapping that was opened again first, so no key is lost or
 * resurrected. A run killed at any point leaves every row wrapped with one of the two keys, both
 * readable by the service; running again finishes the job (rows done already are skipped). The
 * data keys themselves, and so every ciphertext in the log, stay as they are: the log is not touched.
 */
export async function rotateDataKeys(db: Kysely<Database>, personalData: PersonalData, options: RotationOptions): Promise<RotationResult> {
  const current = personalData.kekId;
  const unrotated = new Map<string, UnrotatedKey>();
  let rotated = 0;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const before = rotated;
    // Keyset over report_id: a key left as it was (unrotated) is not read again in this pass.
    let after: string | null = null;
    for (;;) {
      let query = db
        .selectFrom('report_data_keys')
        .select(['report_id', 'kek_id', 'wrapped_key'])
        .where('kek_id', '<>', current)
        .orderBy('report_id')
        .limit(options.batchSize);
      if (after !== null) query = query.where('report_id', '>', after);
      const rows = await query.execute();
      if (rows.length === 0) break;
      after = rows.at(-1)!.report_id;
      const batch: Array<{ reportId: string; kekId: string; wrappedKey: string; next: string }> = [];
      for (const row of rows) {
        try {
          batch.push({ reportId: row.report_id, kekId: row.kek_id, wrappedKey: row.wrapped_key, next: personalData.rewrap(row.report_id, row.kek_id, row.wrapped_key).wrappedKey });
          unrotated.delete(row.report_id);
        } catch (err) {
          if (!(err instanceof DataKeyUnavailableError)) throw err;
          unrotated.set(row.report_id, { reportId: row.report_id, kekId: row.kek_id, why: err.message });
        }
      }
      if (batch.length > 0) {
        rotated += await db.transaction().execute(async (trx) => {
          let changed = 0;
          for (const key of batch) {
            const result = await trx
              .updateTable('report_data_keys')
              .set({ kek_id: current, wrapped_key: key.next })
              .where('report_id', '=', key.reportId)
              .where('kek_id', '=', key.kekId)
              .where('wrapped_key', '=', key.wrappedKey)
              .executeTakeFirst();
            changed += Number(result.numUpdatedRows);
          }
          return changed;
        });
        options.onBatch?.(rotated);
      }
      if (options.pauseMs) await sleep(options.pauseMs);
    }
    if (rotated === before) break;
  }
  const counts = await db.selectFrom('report_data_keys').select((eb) => ['kek_id', eb.fn.countAll<string>().as('keys')]).groupBy('kek_id').orderBy('kek_id').execute();
  const keysByKek = Object.fromEntries(counts.map((c) => [c.kek_id, Number(c.keys)]));
  return { kekId: current, rotated, keysByKek, unrotated: [...unrotated.values()].slice(0, MAX_LISTED), complete: counts.every((c) => c.kek_id === current) };
}
