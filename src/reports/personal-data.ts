import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import type { Insertable, Kysely } from 'kysely';
import { resolveSecret } from '../auth/secret.js';
import type { Config } from '../config.js';
import type { Database, ReportDataKeysTable } from '../database/schema.js';
import type { Alongside, AlongsideWriter } from '../events/alongside.js';
import type { FoldableEvent } from '../events/recorded-event.js';
import { PersonalDataEnvelope, RequestedPersonalData, type EventData } from '../events/types.js';
import { DataKeyUnavailableError } from './errors.js';

/**
 * Crypto-shredding. A report's personal data — the title and params of its request — goes into the
 * log encrypted with the report's own data key (AES-256-GCM); the key lives in `report_data_keys`,
 * outside the append-only log, itself encrypted (wrapped) with the key-encryption key from config
 * (DATA_ENCRYPTION_KEY). Deleting the key row erases the data: the log keeps the ciphertext, so
 * every hash, seal and proof still verifies. Keys are never cached: once deleted, no instance can
 * decrypt again.
 */

/** What is shown where erased personal data was. */
export const ERASED = '[erased]';

/** The title a fold shows for a request nobody decrypted (folds that only need locations and status). */
export const ENCRYPTED_TITLE = '[encrypted]';

const ALG = 'aes-256-gcm';
const IV_BYTES = 12;

type InClear = Extract<EventData<'ReportRequested'>, { title: string }>;
type Encrypted = Extract<EventData<'ReportRequested'>, { personal: unknown }>;

export function isEncrypted(data: EventData<'ReportRequested'>): data is Encrypted {
  return 'personal' in data;
}

/** A request folded or rendered without being decrypted first: a bug, never shown as data. */
export class NotDecryptedError extends Error {
  override readonly name = 'NotDecryptedError';
}

/** The key that wraps every data key; `id` tells which one wrapped a row (a changed secret is named, not mis-decrypted). */
export interface KeyEncryptionKey {
  id: string;
  key: Buffer;
}

/** DATA_ENCRYPTION_KEY (any secret of 32+ characters) → the 256-bit key-encryption key. */
export function keyEncryptionKey(secret: string): KeyEncryptionKey {
  const key = createHmac('sha256', secret).update('quire:data-key-encryption').digest();
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 16), key };
}

function seal(key: Buffer, plaintext: Buffer, aad: string): { iv: string; ct: string; tag: string } {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALG, key, iv).setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv: iv.toString('base64url'), ct: ct.toString('base64url'), tag: cipher.getAuthTag().toString('base64url') };
}

/** Throws when the tag does not match (wrong key, other report, altered bytes). */
function open(key: Buffer, sealed: { iv: string; ct: string; tag: string }, aad: string): Buffer {
  const decipher = createDecipheriv(ALG, key, Buffer.from(sealed.iv, 'base64url')).setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64url')), decipher.final()]);
}

/** Binds each ciphertext to its report and purpose: an envelope or a wrapped key copied elsewhere does not open. */
const dataAad = (reportId: string) => `quire:personal-data:${reportId}`;
const keyAad = (reportId: string) => `quire:data-key:${reportId}`;

/** Encrypts personal fields under a data key (pure but for the random IV). */
export function encryptWith(dataKey: Buffer, reportId: string, data: RequestedPersonalData): PersonalDataEnvelope {
  return { v: 1, alg: 'A256GCM', ...seal(dataKey, Buffer.from(JSON.stringify(data), 'utf8'), dataAad(reportId)) };
}

export function decryptWith(dataKey: Buffer, reportId: string, envelope: PersonalDataEnvelope): RequestedPersonalData {
  return RequestedPersonalData.parse(JSON.parse(open(dataKey, envelope, dataAad(reportId)).toString('utf8')));
}

/** The title and params of a request in clear (decrypted by `reveal`, or written before encryption), or null. */
export function clearPersonalData(data: EventData<'ReportRequested'>): RequestedPersonalData | null {
  if (!isEncrypted(data)) return { title: data.title, params: data.params };
  const revealed = data as Partial<RequestedPersonalData>;
  return typeof revealed.title === 'string' && revealed.params ? { title: revealed.title, params: revealed.params } : null;
}

/** The same, for code that needs them (the renderer): a request nobody decrypted is a bug. */
export function personalDataOf(data: EventData<'ReportRequested'>): RequestedPersonalData {
  const clear = clearPersonalData(data);
  if (!clear) throw new NotDecryptedError(`the request of report ${data.reportId} was not decrypted`);
  return clear;
}

/** Deletes a report's data key: its personal data in the log can no longer be read by anyone. */
export async function deleteDataKey(db: Kysely<Database>, reportId: string): Promise<void> {
  await db.deleteFrom('report_data_keys').where('report_id', '=', reportId).execute();
}

/**
 * The configured cipher: DATA_ENCRYPTION_KEY, or (development) the key kept under DATA_DIR; with
 * DATA_ENCRYPTION_KEY_PREVIOUS, keys wrapped with that one are read too (a rotation under way).
 */
export function configuredPersonalData(config: Pick<Config, 'dataEncryptionKey' | 'dataDir'> & Partial<Pick<Config, 'dataEncryptionKeyPrevious'>>): PersonalData {
  const current = keyEncryptionKey(resolveSecret(config.dataEncryptionKey, config.dataDir, { file: 'data-encryption.key', generate: () => randomBytes(32).toString('base64url') }));
  return new PersonalData(current, config.dataEncryptionKeyPrevious === undefined ? [] : [keyEncryptionKey(config.dataEncryptionKeyPrevious)]);
}

type NewDataKey = Insertable<ReportDataKeysTable>;

/**
 * Writes new reports' data keys, in the transaction of their ReportRequested appends. A row already
 * there belongs to no request — were its ReportRequested in the log, this append (to a new stream)
 * would fail and take this write with it — but is a key left by a failed append of an earlier
 * version, which wrote the key first, on its own: the new key replaces it.
 */
const newDataKeys: AlongsideWriter<NewDataKey> = {
  async write(trx, rows) {
    await trx
      .insertInto('report_data_keys')
      .values([...rows])
      .onConflict((oc) => oc.column('report_id').doUpdateSet((eb) => ({ kek_id: eb.ref('excluded.kek_id'), wrapped_key: eb.ref('excluded.wrapped_key') })))
      .execute();
  },
};

/** A data key re-wrapped with the current key-encryption key: what `report_data_keys` gets instead of the old wrapping. */
export interface Rewrapped {
  kekId: string;
  wrappedKey: string;
}

/** The data keys of reports: created on request, used to decrypt, deleted on erasure. */
export class PersonalData {
  /** Every key-encryption key this instance can unwrap with, by id: the current one wraps, the others only unwrap. */
  private readonly unwrapping: Map<string, KeyEncryptionKey>;

  constructor(
    private readonly kek: KeyEncryptionKey,
    previous: readonly KeyEncryptionKey[] = [],
  ) {
    this.unwrapping = new Map([...previous, kek].map((k) => [k.id, k]));
  }

  /** The id of the key-encryption key new data keys are wrapped with (`report_data_keys.kek_id`). */
  get kekId(): string {
    return this.kek.id;
  }

  /** Whether a key wrapped with `kekId` can be unwrapped here. */
  canUnwrap(kekId: string): boolean {
    return this.unwrapping.has(kekId);
  }

  /**
   * A report's data key, wrapped with `kekId`, wrapped again with the current key-encryption key;
   * the new wrapping is opened once before it is returned, so a rotation never writes a key it
   * could not read back. Throws DataKeyUnavailableError when the old wrapping does not open.
   */
  rewrap(reportId: string, kekId: string, wrappedKey: string): Rewrapped {
    const wrapped = this.wrap(reportId, this.unwrap(reportId, kekId, wrappedKey));
    this.unwrap(reportId, this.kek.id, wrapped);
    return { kekId: this.kek.id, wrappedKey: wrapped };
  }

  /**
   * The request's data with title and params encrypted under a new data key, and the key's row for
   * `report_data_keys`. The row is appended alongside the request (request-report.ts): the key
   * exists exactly when its ReportRequested does, and a request whose append fails (a conflict, a
   * concurrent twin that won) leaves no key behind.
   */
  encrypt(data: InClear): { data: Encrypted; dataKey: Alongside<NewDataKey> } {
    const { title, params, ...rest } = data;
    const { reportId } = data;
    const key = randomBytes(32);
    return {
      data: { ...rest, personal: encryptWith(key, reportId, { title, params }) },
      dataKey: { writer: newDataKeys, row: { report_id: reportId, kek_id: this.kek.id, wrapped_key: this.wrap(reportId, key) } },
    };
  }

  /**
   * The events with every encrypted request decrypted: its title and params beside the envelope
   * (which stays, so a fold still knows the report is erasable); a request whose key is gone
   * (erased) shows ERASED as its title and no params. Other events are returned as they are. One
   * query per call.
   */
  async reveal<E extends FoldableEvent>(db: Kysely<Database>, events: readonly E[]): Promise<E[]> {
    const encrypted = events.filter((e) => e.type === 'ReportRequested' && isEncrypted(e.data));
    if (encrypted.length === 0) return [...events];
    const keys = await this.keys(db, [...new Set(encrypted.map((e) => (e.data as Encrypted).reportId))]);
    return events.map((e) => {
      if (e.type !== 'ReportRequested' || !isEncrypted(e.data)) return e;
      const { reportId, personal } = e.data;
      const key = keys.get(reportId.toLowerCase());
      const clear = key ? decryptWith(key, reportId, personal) : { title: ERASED, params: {} };
      return { ...e, data: { ...e.data, ...clear } };
    });
  }

  /** The unwrapped data keys of these reports (absent: erased, or never had one). */
  private async keys(db: Kysely<Database>, reportIds: readonly string[]): Promise<Map<string, Buffer>> {
    if (reportIds.length === 0) return new Map();
    const rows = await db.selectFrom('report_data_keys').select(['report_id', 'kek_id', 'wrapped_key']).where('report_id', 'in', [...reportIds]).execute();
    return new Map(rows.map((r) => [r.report_id, this.unwrap(r.report_id, r.kek_id, r.wrapped_key)]));
  }

  private wrap(reportId: string, dataKey: Buffer): string {
    const { iv, ct, tag } = seal(this.kek.key, dataKey, keyAad(reportId));
    return `${iv}.${ct}.${tag}`;
  }

  private unwrap(reportId: string, kekId: string, wrapped: string): Buffer {
    const kek = this.unwrapping.get(kekId);
    if (!kek) {
      const have = [...this.unwrapping.keys()].join(', ');
      throw new DataKeyUnavailableError(reportId, `it was wrapped with key-encryption key ${kekId}, this instance has ${have} (DATA_ENCRYPTION_KEY, DATA_ENCRYPTION_KEY_PREVIOUS differ)`);
    }
    const [iv, ct, tag] = wrapped.split('.');
    try {
      return open(kek.key, { iv: iv ?? '', ct: ct ?? '', tag: tag ?? '' }, keyAad(reportId));
    } catch {
      throw new DataKeyUnavailableError(reportId, 'the wrapped key does not authenticate');
    }
  }
}
