import { Migrator, type Kysely, type MigrationResultSet } from 'kysely';
import { migrations } from '../../db/migrations/index.js';

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/** Brings the schema to the newest migration. Safe to run from several instances at once (Kysely locks). */
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new MigrationError(`migration ${failed?.migrationName ?? '?'} failed: ${String(result.error)}`, {
      cause: result.error,
    });
  }
  return result;
}
