import { sql, type Kysely } from 'kysely';

/**
 * A volume belongs to a machine, not a region: report_locations says which machine's volume holds
 * a copy. For a volume copy `place` becomes the machine (or the region for copies recorded
 * before machines, whose `machine` stays null: region-level); `region` is always the volume's
 * region. Existing rows were folded from region-level events, which is what they stay.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('report_locations').addColumn('region', 'text').addColumn('machine', 'text').execute();
  await sql`UPDATE report_locations SET region = place WHERE kind = 'volume'`.execute(db);
  await db.schema
    .alterTable('report_locations')
    .addCheckConstraint(
      'report_locations_volume_region',
      sql`(kind = 'volume' AND region IS NOT NULL AND place = coalesce(machine, region)) OR (kind = 'object' AND region IS NULL AND machine IS NULL)`,
    )
    .execute();
  // The copy stage claims by machine; `volumes forget` finds a machine's copies.
  await db.schema.createIndex('report_locations_machine_idx').on('report_locations').columns(['machine', 'report_id']).where(sql.ref('machine'), 'is not', null).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('report_locations_machine_idx').execute();
  await db.schema.alterTable('report_locations').dropConstraint('report_locations_volume_region').execute();
  await db.schema.alterTable('report_locations').dropColumn('machine').dropColumn('region').execute();
}
