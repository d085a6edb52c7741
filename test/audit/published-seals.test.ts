import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkPublishedSeals, mergePublishedCheck, publishedSealKey, SealPublisher } from '../../src/audit/published-seals.js';
import { generateSealKey } from '../../src/audit/seal-key.js';
import { latestSeal, sealJson, sealPending } from '../../src/audit/seal.js';
import { verifyLog } from '../../src/audit/verify.js';
import type { EventStore } from '../../src/events/event-store.js';
import { DiskObjectStore } from '../../src/storage/disk-object-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { S3ObjectStore } from '../../src/storage/s3-object-store.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { failed } from '../support/fixtures.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';
import { testSigner, testTrust } from '../support/seal-key.js';
import { rewriteStreamDroppingSeals, rowsInCommitOrder, seedLog, tamper } from './support.js';
import { untilAllSafe } from '../support/safe-log.js';

async function readText(store: ObjectStore, key: string): Promise<string | null> {
  const stream = await store.get(key);
  if (!stream) return null;
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

const cases = backends.flatMap((kind) => (['s3', 'disk'] as const).map((storeKind) => [kind, storeKind] as const));

describe.each(cases)('seal digests published outside the database (%s, %s store)', (kind, storeKind) => {
  let database: TestDatabase;
  let store: ObjectStore;
  let s3: TestS3Server | undefined;
  let dir: string | undefined;
  let events: EventStore;
  let streamIds: string[];

  beforeEach(async () => {
    database = await openTestDatabase(kind);
    if (storeKind === 's3') {
      s3 = await startS3Server();
      store = new S3ObjectStore(s3.storeOptions);
    } else {
      dir = mkdtempSync(join(tmpdir(), 'quire-seals-'));
      store = new DiskObjectStore({ dir, sign: async () => Promise.reject(new Error('no links here')) });
    }
    ({ store: events, streamIds } = await seedLog(database));
    await untilAllSafe(database.db);
    expect((await sealPending(database.db, { signer: testSigner, maxEvents: 6 })).length).toBe(4);
  });
  afterEach(async () => {
    await database?.close();
    await s3?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    s3 = undefined;
    dir = undefined;
  });

  it('publishes every seal once, in order, write-once; the log checks out against them', async () => {
    const publisher = new SealPublisher(database.db, store);
    expect(await publisher.publishPending()).toEqual({ published: [1, 2, 3, 4], conflicts: [] });
    expect(await publisher.publishPending()).toEqual({ published: [], conflicts: [] });
    const seal4 = (await latestSeal(database.db))!;
    expect(JSON.parse((await readText(store, publishedSealKey(4)))!)).toEqual({ kind: 'quire-published-seal', ...JSON.parse(JSON.stringify(sealJson(seal4))) });

    // Write-once: a second create of the key changes nothing.
    const before = await readText(store, publishedSealKey(2));
    expect(await store.putIfAbsent(publishedSealKey(2), Buffer.from('{"forged":true}'), 'application/json')).toBe('exists');
    expect(await readText(store, publishedSealKey(2))).toBe(before);

    expect(await checkPublishedSeals(database.db, store, testTrust)).toEqual({ published: 4, matched: 4, unpublished: [], problems: [] });

    // A new seal is unpublished (only as safe as the database) until the next publish; a publisher
    // that starts afresh (another instance, a restart) finds where the published prefix ends.
    await events.append(streamIds[0]!, 4, [failed(4)]);
    await untilAllSafe(database.db);
    await sealPending(database.db, { signer: testSigner, maxEvents: 6 });
    expect(await checkPublishedSeals(database.db, store, testTrust)).toMatchObject({ published: 4, matched: 4, unpublished: [5], problems: [] });
    expect(await new SealPublisher(database.db, store).publishPending()).toEqual({ published: [5], conflicts: [] });
    expect(await checkPublishedSeals(database.db, store, testTrust)).toMatchObject({ matched: 5, unpublished: [], problems: [] });
  });

  it('history rewritten and re-sealed with the signing key itself: only the published digests catch it', async () => {
    await new SealPublisher(database.db, store).publishPending();
    const rows = await rowsInCommitOrder(database.db);
    const streamId = rows[2]!.stream_id;
    await rewriteStreamDroppingSeals(database.db, streamId);
    await sealPending(database.db, { signer: testSigner, maxEvents: 6 });
    // Chains, seals and signatures are all valid: whoever did this held the key.
    const inDatabase = await verifyLog(database.db, testTrust);
    expect(inDatabase.problems).toEqual([]);
    const check = await checkPublishedSeals(database.db, store, testTrust);
    expect(check.matched).toBe(0);
    expect(check.problems.map((p) => [p.kind, p.sealSeq])).toEqual([
      ['PUBLISHED', 1],
      ['PUBLISHED', 2],
      ['PUBLISHED', 3],
      ['PUBLISHED', 4],
    ]);
    expect(check.problems[0]!.message).toMatch(/rewritten after publication/);
    expect(mergePublishedCheck(inDatabase, check)).toMatchObject({ ok: false, problemCount: 4, firstProblem: { kind: 'PUBLISHED', sealSeq: 1 } });
  });

  it('seals (and the history they covered) cut from the log: the published ones past the end are reported', async () => {
    await new SealPublisher(database.db, store).publishPending();
    const rows = await rowsInCommitOrder(database.db);
    await tamper(database.db, async () => {
      await sql`DELETE FROM events WHERE global_position >= ${rows[12]!.global_position}`.execute(database.db);
      await sql`DELETE FROM log_seals WHERE seq >= 3`.execute(database.db);
    });
    expect((await verifyLog(database.db, testTrust)).problems).toEqual([]);
    const check = await checkPublishedSeals(database.db, store, testTrust);
    expect(check).toMatchObject({ published: 4, matched: 2 });
    expect(check.problems.map((p) => [p.kind, p.sealSeq])).toEqual([
      ['PUBLISHED', 3],
      ['PUBLISHED', 4],
    ]);
    expect(check.problems[0]!.message).toMatch(/the log has no seal 3/);
  });

  it('a published digest deleted from the store (someone with the store’s keys) is reported; the unpublished tail is not a problem', async () => {
    await new SealPublisher(database.db, store).publishPending();
    await events.append(streamIds[0]!, 4, [failed(4)]);
    await untilAllSafe(database.db);
    await sealPending(database.db, { signer: testSigner, maxEvents: 6 });
    await store.delete!(publishedSealKey(2));
    const check = await checkPublishedSeals(database.db, store, testTrust);
    expect(check).toMatchObject({ published: 3, matched: 3, unpublished: [5] });
    expect(check.problems.map((p) => [p.sealSeq, p.message])).toEqual([[2, expect.stringMatching(/seal 2 is missing from the store while later ones are there/)]]);
  });

  it('a digest forged in the store (someone with the store’s keys, not the signing key) is reported', async () => {
    const publisher = new SealPublisher(database.db, store);
    await publisher.publishPending();
    const seal4 = (await latestSeal(database.db))!;
    const forger = generateSealKey().signer;
    const forged = { kind: 'quire-published-seal', ...sealJson({ ...seal4, seq: 5, keyId: forger.keyId }) };
    await store.putIfAbsent(publishedSealKey(5), Buffer.from(JSON.stringify(forged)), 'application/json');
    const check = await checkPublishedSeals(database.db, store, testTrust);
    expect(check.problems.map((p) => p.message)).toEqual([expect.stringMatching(/seals\/5\.json is not valid .*someone with the object store's keys/)]);
    // The log's real seal 5 comes: the publisher never overwrites what is there, and says so.
    await events.append(streamIds[0]!, 4, [failed(4)]);
    await untilAllSafe(database.db);
    await sealPending(database.db, { signer: testSigner, maxEvents: 6 });
    expect(await publisher.publishPending()).toEqual({ published: [5], conflicts: [5] });
    // A publisher starting afresh (a restart) checks the newest published digest against the log.
    expect(await new SealPublisher(database.db, store).publishPending()).toEqual({ published: [], conflicts: [5] });
    expect(JSON.parse((await readText(store, publishedSealKey(5)))!).keyId).toBe(forger.keyId);
    expect((await checkPublishedSeals(database.db, store, testTrust)).problems.map((p) => p.sealSeq)).toEqual([5]);
  });
});
