import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAlongside } from '../../src/events/alongside.js';
import type { RecordedEvent } from '../../src/events/recorded-event.js';
import { PersonalDataEnvelope } from '../../src/events/types.js';
import { DataKeyUnavailableError } from '../../src/reports/errors.js';
import {
  decryptWith,
  encryptWith,
  ERASED,
  keyEncryptionKey,
  NotDecryptedError,
  PersonalData,
  personalDataOf,
} from '../../src/reports/personal-data.js';
import { rotateDataKeys } from '../../src/reports/rotate-data-keys.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';

const REPORT = '6f1c2a52-58a4-4a52-9a4f-1d2b3c4d5e6f';
const data = { title: 'Jane Doe’s file', params: { rows: [{ name: 'Jane Doe', note: 'ünïcode ✓' }] } };

describe('the envelope', () => {
  const key = randomBytes(32);

  it('round-trips, with a fresh IV each time, in the documented format', () => {
    const a = encryptWith(key, REPORT, data);
    const b = encryptWith(key, REPORT, data);
    expect(PersonalDataEnvelope.parse(a)).toEqual(a);
    expect(a).toMatchObject({ v: 1, alg: 'A256GCM' });
    expect(a.iv).not.toBe(b.iv);
    expect(JSON.stringify(a)).not.toContain('Jane');
    expect(decryptWith(key, REPORT, a)).toEqual(data);
  });

  it('does not open with another key, for another report, or altered', () => {
    const sealed = encryptWith(key, REPORT, data);
    expect(() => decryptWith(randomBytes(32), REPORT, sealed)).toThrow();
    expect(() => decryptWith(key, randomUUID(), sealed)).toThrow();
    const ct = Buffer.from(sealed.ct, 'base64url');
    ct[0] = ct[0]! ^ 1;
    expect(() => decryptWith(key, REPORT, { ...sealed, ct: ct.toString('base64url') })).toThrow();
  });

  it('a request nobody decrypted is never taken for data', () => {
    const encrypted = { reportId: REPORT, template: 'table', owner: 'alice', personal: encryptWith(key, REPORT, data) };
    expect(() => personalDataOf(encrypted)).toThrow(NotDecryptedError);
    expect(personalDataOf({ reportId: REPORT, template: 'table', owner: 'alice', ...data })).toEqual(data);
  });
});

describe.each(backends)('data keys on %s', (kind) => {
  let database: TestDatabase;
  const personal = new PersonalData(keyEncryptionKey('a-key-encryption-key-of-32-chars-or-more'));
  const asEvent = (d: object) => ({ type: 'ReportRequested', data: d, streamId: `report-${REPORT}`, streamVersion: 1 }) as unknown as RecordedEvent;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.close();
  });

  /** What an append does with the key's row (requestReport appends it alongside the request). */
  const encrypted = async (request: Parameters<PersonalData['encrypt']>[0]) => {
    const { data: sealed, dataKey } = personal.encrypt(request);
    await database.db.transaction().execute((trx) => writeAlongside(trx, [dataKey]));
    return sealed;
  };
  const keyRows = (reportId: string) => database.db.selectFrom('report_data_keys').selectAll().where('report_id', '=', reportId).execute();

  it('a new key per request, written only alongside it (encrypting writes nothing); decrypted on read, ERASED once deleted', async () => {
    const reportId = randomUUID();
    const { data: sealed, dataKey } = personal.encrypt({ reportId, template: 'table', owner: 'alice', ...data });
    expect(await keyRows(reportId)).toEqual([]);
    await database.db.transaction().execute((trx) => writeAlongside(trx, [dataKey]));
    const rows = await keyRows(reportId);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.wrapped_key).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const [revealed] = await personal.reveal(database.db, [asEvent(sealed)]);
    expect(revealed!.data).toMatchObject(data);

    await database.db.deleteFrom('report_data_keys').where('report_id', '=', reportId).execute();
    const [erased] = await personal.reveal(database.db, [asEvent(sealed)]);
    expect(erased!.data).toMatchObject({ title: ERASED, params: {} });
  });

  it('a key already there without its request (left by an earlier version whose append failed) is replaced by the one written with the request', async () => {
    const reportId = randomUUID();
    const orphan = await encrypted({ reportId, template: 'table', owner: 'alice', title: 'never appended', params: {} });
    const sealed = await encrypted({ reportId, template: 'table', owner: 'alice', ...data });
    expect(await keyRows(reportId)).toHaveLength(1);
    expect((await personal.reveal(database.db, [asEvent(sealed)]))[0]!.data).toMatchObject(data);
    await expect(personal.reveal(database.db, [asEvent(orphan)])).rejects.toThrow();
  });

  it('a changed DATA_ENCRYPTION_KEY is named, never decrypted into garbage', async () => {
    const reportId = randomUUID();
    const sealed = await encrypted({ reportId, template: 'table', owner: 'alice', ...data });
    const other = new PersonalData(keyEncryptionKey('another-key-encryption-key-of-32-chars'));
    await expect(other.reveal(database.db, [asEvent(sealed)])).rejects.toThrow(DataKeyUnavailableError);
    await expect(other.reveal(database.db, [asEvent(sealed)])).rejects.toThrow(/DATA_ENCRYPTION_KEY, DATA_ENCRYPTION_KEY_PREVIOUS differ/);
  });

  it('rotation: the previous key still unwraps; each key is re-wrapped with the current one; a damaged key is left as it is and named', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const sealedA = await encrypted({ reportId: a, template: 'table', owner: 'alice', ...data });
    await encrypted({ reportId: b, template: 'table', owner: 'alice', ...data });
    await database.db.updateTable('report_data_keys').set({ wrapped_key: 'AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA' }).where('report_id', '=', b).execute();
    const next = keyEncryptionKey('the-next-key-encryption-key-of-32-chars');
    const rotating = new PersonalData(next, [keyEncryptionKey('a-key-encryption-key-of-32-chars-or-more')]);
    expect((await rotating.reveal(database.db, [asEvent(sealedA)]))[0]!.data).toMatchObject(data);

    const batches: number[] = [];
    const result = await rotateDataKeys(database.db, rotating, { batchSize: 1, onBatch: (n) => batches.push(n) });
    expect(result.kekId).toBe(next.id);
    expect(result.complete).toBe(false);
    expect(result.unrotated).toEqual([{ reportId: b, kekId: keyEncryptionKey('a-key-encryption-key-of-32-chars-or-more').id, why: expect.stringMatching(/does not authenticate/) }]);
    expect(result.keysByKek).toEqual({ [next.id]: result.rotated, [result.unrotated[0]!.kekId]: 1 });
    expect(batches).toEqual(Array.from({ length: result.rotated }, (_, i) => i + 1));
    // The current key alone reads what was rotated.
    expect((await new PersonalData(next).reveal(database.db, [asEvent(sealedA)]))[0]!.data).toMatchObject(data);
    // Run again: nothing more to do, the damaged key still named.
    expect(await rotateDataKeys(database.db, rotating, { batchSize: 10 })).toMatchObject({ rotated: 0, complete: false, unrotated: [{ reportId: b }] });
  });
});
