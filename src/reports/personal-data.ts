import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { resolveSecret } from '../auth/secret.js';
import type { Config } from '../config.js';
import type { Database } from '../database/schema.js';
import type { RecordedEvent } from '../events/recorded-event.js';
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

/** The configured cipher: DATA_ENCRYPTION_KEY, or (development) the key kept under DATA_DIR. */
export function configuredPersonalData(config: Pick<Config, 'dataEncryptionKey' | 'dataDir'>): PersonalData {
  return new PersonalData(keyEncryptionKey(resolveSecret(config.dataEncryptionKey, config.dataDir, { file: 'data-encryption.key', generate: () => randomBytes(32).toString('base64url') })));
}

/** The data keys of reports: created on request, used to decrypt, deleted on erasure. */
export class PersonalData {
  constructor(private readonly kek: KeyEncryptionKey) {}

  /**
   * The request's data with title and params encrypted under the report's data key, which is
   * created when the report has none yet (a retried request reuses it).
   */
  async encrypt(db: Kysely<Database>, data: InClear): Promise<Encrypted> {
    const { title, params, ...rest } = data;
    const { reportId } = data;
    const fresh = randomBytes(32);
    const created = await db
      .insertInto('report_data_keys')
      .values({ report_id: reportId, kek_id: this.kek.id, wrapped_key: this.wrap(reportId, fresh) })
      .onConflict((oc) => oc.column('report_id').doNothing())
      .returning('report_id')
      .executeTakeFirst();
    // Nothing returned: the report has a key already (a retried request), which its ciphertext must use.
    const key = created ? fresh : (await this.keys(db, [reportId])).get(reportId.toLowerCase());
    if (!key) throw new DataKeyUnavailableError(reportId, 'deleted while the request was being written');
    return { ...rest, personal: encryptWith(key, reportId, { title, params }) };
  }

  /**
   * The events with every encrypted request decrypted: its title and params beside the envelope
   * (which stays, so a fold still knows the report is erasable); a request whose key is gone
   * (erased) shows ERASED as its title and no params. Other events are returned as they are. One
   * query per call.
   */
  async reveal<E extends RecordedEvent>(db: Kysely<Database>, events: readonly E[]): Promise<E[]> {
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
    if (kekId !== this.kek.id) throw new DataKeyUnavailableError(reportId, `it was wrapped with key-encryption key ${kekId}, this instance has ${this.kek.id} (DATA_ENCRYPTION_KEY differs)`);
    const [iv, ct, tag] = wrapped.split('.');
    try {
      return open(this.kek.key, { iv: iv ?? '', ct: ct ?? '', tag: tag ?? '' }, keyAad(reportId));
    } catch {
      throw new DataKeyUnavailableError(reportId, 'the wrapped key does not authenticate');
    }
  }
}
