import { PGlite } from '@electric-sql/pglite';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/database/connect.js';
import { silentLog } from '../support/databases.js';

/**
 * What quire needs from the Kysely dialect over one embedded PGlite (src/database/pglite-dialect.ts),
 * through the same openDatabase the service uses: a replacement dialect must pass all of these.
 */
describe('the embedded database dialect', () => {
  let pglite: PGlite;
  let handle: DatabaseHandle;
  let db: Kysely<any>;

  beforeAll(async () => {
    pglite = await PGlite.create('memory://');
    await pglite.exec('create table counters (id int primary key, n int not null); insert into counters values (1, 0), (2, 0);');
    await pglite.exec('create table items (name text primary key);');
    handle = await openDatabase({ kind: 'pglite', instance: pglite, log: silentLog });
    db = handle.db as unknown as Kysely<any>;
  });
  afterAll(async () => {
    await handle?.close();
    await pglite?.close();
  });

  it('runs concurrent read-modify-write transactions one after another (no lost update)', async () => {
    const writers = 24;
    await Promise.all(
      Array.from({ length: writers }, () =>
        db.transaction().execute(async (trx) => {
          const { n } = await trx.selectFrom('counters').select('n').where('id', '=', 1).executeTakeFirstOrThrow();
          await new Promise((resolve) => setTimeout(resolve, 1)); // yield: others must wait, not interleave
          await trx.updateTable('counters').set({ n: n + 1 }).where('id', '=', 1).execute();
        }),
      ),
    );
    // Plain queries issued while transactions are queued never run inside another caller's transaction.
    const reads = await Promise.all([
      db.transaction().execute(async (trx) => {
        await trx.updateTable('counters').set({ n: 1000 }).where('id', '=', 2).execute();
        throw new Error('abandon');
      }).catch((err: Error) => err.message),
      db.selectFrom('counters').select('n').where('id', '=', 2).executeTakeFirstOrThrow(),
    ]);
    expect(reads).toEqual(['abandon', { n: 0 }]);
    expect(await db.selectFrom('counters').select('n').orderBy('id').execute()).toEqual([{ n: writers }, { n: 0 }]);
  });

  it('reports numUpdatedRows (a lease renewal tells a held lease from a lost one)', async () => {
    const held = await db.updateTable('counters').set({ n: sql`n` }).where('id', '=', 2).executeTakeFirst();
    const lost = await db.updateTable('counters').set({ n: sql`n` }).where('id', '=', 99).executeTakeFirst();
    expect(held.numUpdatedRows).toBe(1n);
    expect(lost.numUpdatedRows).toBe(0n);
    const removed = await db.deleteFrom('items').where('name', '=', 'none').executeTakeFirst();
    expect(removed.numDeletedRows).toBe(0n);
  });

  it('supports savepoints: a failed statement is rolled back to the savepoint and the transaction goes on', async () => {
    const trx = await db.startTransaction().execute();
    await trx.insertInto('items').values({ name: 'a' }).execute();
    const sp = await trx.savepoint('before_b').execute();
    await sp.insertInto('items').values({ name: 'b' }).execute();
    await expect(sp.insertInto('items').values({ name: 'a' }).execute()).rejects.toThrow(/duplicate key/);
    const back = await sp.rollbackToSavepoint('before_b').execute();
    await back.insertInto('items').values({ name: 'c' }).execute();
    const kept = await back.savepoint('before_d').execute();
    await kept.insertInto('items').values({ name: 'd' }).execute();
    await (await kept.releaseSavepoint('before_d').execute()).commit().execute();
    expect((await db.selectFrom('items').select('name').orderBy('name').execute()).map((r) => r.name)).toEqual(['a', 'c', 'd']);
  });

  it('honours transaction settings: audit verification reads in a read-only, repeatable-read transaction', async () => {
    const seen = await db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (trx) => {
        const { rows } = await sql<{ transaction_isolation: string }>`show transaction_isolation`.execute(trx);
        const write = await trx.insertInto('items').values({ name: 'x' }).execute().then(() => 'written', (err: Error) => err.message);
        return [rows[0]!.transaction_isolation, write];
      })
      .catch((err: Error) => ['failed', err.message]);
    expect(seen).toEqual(['repeatable read', 'cannot execute INSERT in a read-only transaction']);
    expect(await db.selectFrom('items').select('name').where('name', '=', 'x').execute()).toEqual([]);
  });

  it('closing a handle on a shared instance leaves the instance open', async () => {
    const second = await openDatabase({ kind: 'pglite', instance: pglite, log: silentLog });
    expect(await second.db.selectNoFrom(sql<number>`1`.as('one')).executeTakeFirstOrThrow()).toEqual({ one: 1 });
    await second.close();
    expect(pglite.closed).toBe(false);
    expect((await pglite.query<{ n: number }>('select n from counters where id = 1')).rows).toEqual([{ n: 24 }]);
    expect(await db.selectFrom('counters').select('n').where('id', '=', 1).executeTakeFirstOrThrow()).toEqual({ n: 24 });
  });
});
