import { sql, type Kysely } from 'kysely';

/**
 * The database itself refuses to rewrite history: any UPDATE, DELETE or TRUNCATE of `events` raises.
 * (The table's owner — the role that ran this migration — and any superuser can still disable
 * triggers; the service therefore runs as a role without those privileges (src/database/roles.ts),
 * and the hash chain, signed seals and published digests make a rewrite evident.)
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION quire_reject_mutation() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'quire: table % is append-only; % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
    END
    $$`.execute(db);
  await sql`
    CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION quire_reject_mutation()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER events_append_only ON events`.execute(db);
  await sql`DROP FUNCTION quire_reject_mutation()`.execute(db);
}
