import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkExport, exportLines } from '../../src/audit/export.js';
import { latestSeal, sealPending } from '../../src/audit/seal.js';
import { verifyLog } from '../../src/audit/verify.js';
import type { EventStore } from '../../src/events/event-store.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { failed } from '../support/fixtures.js';
import { testSigner, testTrust } from '../support/seal-key.js';
import { overwrite, rechain, rewriteStreamDroppingSeals, randomUUID, rowsInCommitOrder, seedLog, tamper, writeLegacySeals, type StoredRow } from './support.js';
import { untilAllSafe } from '../support/safe-log.js';
import { generateSealKey } from '../../src/audit/seal-key.js';
import { decodeLeaves } from '../../src/audit/seal.js';

async function collect(gen: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of gen) out.push(line);
  return out;
}

describe.each(backends)('the tampering matrix on %s', (kind) => {
  let database: TestDatabase;
  let store: EventStore;
  let streamIds: string[];
  let digest: string;
  let rows: StoredRow[];

  beforeEach(async () => {
    database = await openTestDatabase(kind);
    ({ store, streamIds } = await seedLog(database));
    await untilAllSafe(database.db);
    // Seals of 6: 20 events make 4 seals (6, 6, 6, 2).
    const seals = await sealPending(database.db, { signer: testSigner, maxEvents: 6 });
    expect(seals.map((s) => s.count)).toEqual([6, 6, 6, 2]);
    digest = seals.at(-1)!.sealHash;
    rows = await rowsInCommitOrder(database.db);
  });
  afterEach(() => database?.close());
  // PostgreSQL verifies through a cursor in one snapshot (as the CLI does), PGlite by keyset pages.
  // Every case runs twice: hashing on the reading thread, and on a pool of two workers fed
  // batches of 3 (several batches in flight): both must find exactly the same. (Three times on
  // PostgreSQL: by COPY, the default, and by FETCH.)
  const verify = async (options: Parameters<typeof verifyLog>[1] = {}) => {
    const inline = await verifyLog(database.db, { cursor: kind === 'postgres', ...testTrust, ...options, workers: 0 });
    const pooled = await verifyLog(database.db, { cursor: kind === 'postgres', ...testTrust, batchSize: 3, ...options, workers: 2 });
    expect({ ...pooled, durationMs: 0 }).toEqual({ ...inline, durationMs: 0 });
    // On PostgreSQL the cursor's rows come by COPY (verify-copy.test.ts); FETCHing them must find the same.
    if (kind === 'postgres' && options.cursor !== false) {
      const fetched = await verifyLog(database.db, { cursor: true, ...testTrust, batchSize: 3, ...options, workers: 2, copy: false });
      expect({ ...fetched, durationMs: 0 }).toEqual({ ...inline, durationMs: 0 });
    }
    return inline;
  };

  it('an untouched log verifies clean, extends its digest, and its export passes import-check', async () => {
    // More history after the digest: still an extension of it.
    // Each append waited out of the safe-read horizon (another test's open transaction on the
    // cluster can hold it back): the seal and the verifies must all see it.
    await store.append(streamIds[0]!, 4, [failed(4)]);
    await untilAllSafe(database.db);
    await sealPending(database.db, { signer: testSigner, maxEvents: 6 });
    await store.append(streamIds[1]!, 4, [failed(4)]); // unsealed tail
    await untilAllSafe(database.db);
    for (const cursor of [false, kind === 'postgres']) {
      const report = await verify({ fromDigest: digest, batchSize: 7, cursor });
      expect(report.problems).toEqual([]);
      expect(report).toMatchObject({ ok: true, events: 22, streams: 5, seals: 5, sealedEvents: 21, digest: { found: true, extended: true, seq: 4 } });
    }
    const lines = await collect(exportLines(database.db, { batchSize: 7 }));
    const check = await checkExport(lines, { ...testTrust, digest });
    expect(check.problems).toEqual([]);
    expect(check).toMatchObject({ ok: true, events: 22, seals: 5 });
  });

  it('a hand-edited export fails import-check; a cut one too', async () => {
    const lines = await collect(exportLines(database.db));
    const i = lines.findIndex((l) => l.includes('"boom"'));
    const edited = [...lines];
    edited[i] = edited[i]!.replace('"boom"', '"bOom"');
    const check = await checkExport(edited, testTrust);
    expect(check.ok).toBe(false);
    expect(check.problems[0]).toMatchObject({ line: i + 1, position: JSON.parse(lines[i]!).globalPosition });
    expect((await checkExport(lines.slice(0, -3), testTrust)).problems.at(-1)!.message).toMatch(/cut short/);
  });

  it('change one payload byte', async () => {
    const victim = rows[8]!; // sealed, a ReportFailed
    await tamper(database.db, () =>
      sql`UPDATE events SET data = jsonb_set(data, '{error}', '"bOom"') WHERE global_position = ${victim.global_position}`.execute(database.db),
    );
    const report = await verify({ fromDigest: digest, batchSize: 4 });
    expect(report.ok).toBe(false);
    expect(report.firstProblem).toMatchObject({ kind: 'CONTENT', position: victim.global_position, streamId: victim.stream_id });
    expect(report.digest).toMatchObject({ found: true, extended: false });
  });

  it('delete an event', async () => {
    const victim = rows[7]!;
    await tamper(database.db, () => sql`DELETE FROM events WHERE global_position = ${victim.global_position}`.execute(database.db));
    const report = await verify({ batchSize: 5 });
    expect(report.firstProblem).toMatchObject({ kind: 'SEALED_EVENT', position: victim.global_position });
    // The stream's chain shows it too, at the event after the gap.
    expect(report.problems.some((p) => p.kind === 'VERSION_GAP' && p.streamId === victim.stream_id)).toBe(true);
  });

  it('swap two events', async () => {
    const [a, b] = [rows[3]!, rows[9]!]; // different streams, different seals
    await tamper(database.db, async () => {
      await overwrite(database.db, a.global_position, { ...b, event_id: randomUUID(), stream_id: 'parked' });
      await overwrite(database.db, b.global_position, a);
      await overwrite(database.db, a.global_position, b);
    });
    const report = await verify();
    // Even unsealed this shows: the event now at a's place precedes its stream's previous version.
    expect(report.firstProblem).toMatchObject({ kind: 'ORDER', position: a.global_position });
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'SEALED_EVENT', position: a.global_position }));
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'SEALED_EVENT', position: b.global_position }));
  });

  it('insert a forged event with a recomputed stream chain', async () => {
    const streamId = rows[0]!.stream_id;
    const stream = await rowsInCommitOrder(database.db, streamId);
    // Forge a v2 and shift v2..v4 to v3..v5, every hash recomputed so the stream chain holds.
    const forged: StoredRow = { ...stream[1]!, event_id: randomUUID(), data: { ...stream[1]!.data, error: 'forged' } };
    const shifted = stream.slice(1).map((r) => ({ ...r, stream_version: r.stream_version + 1 }));
    const chained = rechain([stream[0]!, { ...forged, stream_version: 2 }, ...shifted]);
    await tamper(database.db, async () => {
      // Rows keep their positions; the old last event moves into a new row at the end.
      for (let i = 1; i < stream.length; i++) await overwrite(database.db, stream[i]!.global_position, { ...chained[i]!, event_id: i === 1 ? chained[i]!.event_id : randomUUID() });
      for (let i = 2; i < stream.length; i++) await overwrite(database.db, stream[i]!.global_position, chained[i]!);
      const last = chained.at(-1)!;
      await sql`
        INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, data, metadata, recorded_at, prev_hash, hash)
        VALUES (${last.event_id}::uuid, ${last.stream_id}, ${last.stream_version}, ${last.type}, ${last.schema_version},
          ${JSON.stringify(last.data)}::jsonb, ${JSON.stringify(last.metadata)}::jsonb, ${new Date(last.recorded_at)}, ${last.prev_hash}, ${last.hash})`.execute(database.db);
    });
    // The chain alone is intact...
    const chainOnly = (await verify()).problems.filter((p) => ['CONTENT', 'CHAIN', 'VERSION_GAP'].includes(p.kind));
    expect(chainOnly).toEqual([]);
    // ...the seals are not: the forged event sits where the sealed v2 was.
    const report = await verify({ fromDigest: digest });
    expect(report.firstProblem).toMatchObject({ kind: 'SEALED_EVENT', position: stream[1]!.global_position, streamId });
    expect(report.digest).toMatchObject({ found: true, extended: false });
  });

  it('truncate the tail after a digest', async () => {
    const firstGone = rows[17]!;
    await tamper(database.db, () => sql`DELETE FROM events WHERE global_position >= ${firstGone.global_position}`.execute(database.db));
    const report = await verify({ fromDigest: digest });
    expect(report.firstProblem).toMatchObject({ kind: 'SEALED_EVENT', position: firstGone.global_position });
    expect(report.digest).toMatchObject({ found: true, extended: false });

    // Covering it up by deleting the seals too and sealing again: the digest is gone from the log.
    await tamper(database.db, () => sql`DELETE FROM log_seals WHERE seq >= 3`.execute(database.db));
    await sealPending(database.db, { signer: testSigner, maxEvents: 6 });
    const again = await verify({ fromDigest: digest });
    expect(again.ok).toBe(false);
    expect(again.digest).toMatchObject({ found: false, extended: false });
    expect(again.problems.map((p) => p.kind)).toEqual(['DIGEST']);
  });

  it('replace a whole stream consistently', async () => {
    const streamId = rows[2]!.stream_id;
    const stream = await rowsInCommitOrder(database.db, streamId);
    const replaced = rechain(stream.map((r) => ({ ...r, data: r.type === 'ReportRequested' ? { ...r.data, title: 'Nothing to see' } : { ...r.data, error: 'fine' } })));
    await tamper(database.db, async () => {
      for (const [i, r] of stream.entries()) await overwrite(database.db, r.global_position, replaced[i]!);
    });
    const chainOnly = (await verify()).problems.filter((p) => ['CONTENT', 'CHAIN', 'VERSION_GAP', 'ORDER'].includes(p.kind));
    expect(chainOnly).toEqual([]);
    const report = await verify({ fromDigest: digest });
    expect(report.firstProblem).toMatchObject({ kind: 'SEALED_EVENT', position: stream[0]!.global_position, streamId });
    expect(report.digest?.extended).toBe(false);
  });

  it('rewrite a seal', async () => {
    await tamper(database.db, () => sql`UPDATE log_seals SET merkle_root = repeat('a', 64) WHERE seq = 2`.execute(database.db));
    const report = await verify();
    const seal2 = (await rowsInCommitOrder(database.db))[6]!;
    expect(report.firstProblem).toMatchObject({ kind: 'SEAL', sealSeq: 2, position: seal2.global_position });
  });

  it('someone without the key rewrites history and re-seals it: the signatures give it away', async () => {
    // A consistent rewrite: one stream's payloads changed, its chain recomputed, every seal redone.
    const streamId = rows[2]!.stream_id;
    await rewriteStreamDroppingSeals(database.db, streamId);
    const attacker = generateSealKey().signer;
    await sealPending(database.db, { signer: attacker, maxEvents: 6 });
    // Chains and seals are all self-consistent...
    const selfConsistent = await verify({ publicKeys: [attacker] });
    expect(selfConsistent.problems).toEqual([]);
    // ...but not signed by the key the auditor holds.
    const report = await verify({ fromDigest: digest });
    expect(report.ok).toBe(false);
    expect(report.firstProblem).toMatchObject({ kind: 'SIGNATURE', sealSeq: 1 });
    expect(report.problems.filter((p) => p.kind === 'SIGNATURE').map((p) => p.sealSeq)).toEqual([1, 2, 3, 4]);
    expect(report.digest).toMatchObject({ found: false, extended: false });
    const check = await checkExport(await collect(exportLines(database.db)), testTrust);
    expect(check.ok).toBe(false);
    expect(check.problems[0]!.message).toMatch(/not a key you trust/);
  });

  it('a seal whose signature was copied from another seal, or whose key id was changed, fails', async () => {
    await tamper(database.db, () => sql`UPDATE log_seals SET signature = (SELECT signature FROM log_seals WHERE seq = 1) WHERE seq = 2`.execute(database.db));
    const report = await verify();
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'SIGNATURE', sealSeq: 2, message: expect.stringMatching(/signature does not verify/) })]);
    await tamper(database.db, () => sql`UPDATE log_seals SET key_id = 'ffffffffffffffff' WHERE seq = 3`.execute(database.db));
    const again = await verify();
    // The key id is covered by the seal hash, and no trusted key has that id.
    expect(again.problems).toContainEqual(expect.objectContaining({ kind: 'SEAL', sealSeq: 3 }));
    expect(again.problems).toContainEqual(expect.objectContaining({ kind: 'SIGNATURE', sealSeq: 3 }));
  });

  it('unsigned (format 1) seals pass only when counted as legacy, and never after a signed seal', async () => {
    // An upgraded deployment: its first seals predate signing.
    await tamper(database.db, () => sql`DELETE FROM log_seals`.execute(database.db));
    await writeLegacySeals(database.db, 6);
    const strict = await verify();
    expect(strict.ok).toBe(false);
    expect(strict.problems.map((p) => p.kind)).toEqual(['SIGNATURE', 'SIGNATURE', 'SIGNATURE', 'SIGNATURE']);
    expect(await verify({ legacySeals: 4 })).toMatchObject({ ok: true, seals: 4, sealedEvents: 20 });
    // Signed seals follow; an unsigned one after them is a forgery whatever the count says.
    await store.append(streamIds[0]!, 4, [failed(4)]);
    await untilAllSafe(database.db);
    await sealPending(database.db, { signer: testSigner, maxEvents: 6 });
    expect(await verify({ legacySeals: 4 })).toMatchObject({ ok: true, seals: 5 });
    await store.append(streamIds[1]!, 4, [failed(4)]);
    await untilAllSafe(database.db);
    await writeLegacySeals(database.db, 6);
    const downgraded = await verify({ legacySeals: 100 });
    expect(downgraded.problems).toEqual([expect.objectContaining({ kind: 'SIGNATURE', sealSeq: 6, message: expect.stringMatching(/follows signed seals/) })]);
    const exported = await checkExport(await collect(exportLines(database.db)), { ...testTrust, legacySeals: 100 });
    expect(exported.problems.map((p) => p.message)).toEqual([expect.stringMatching(/unsigned but follows signed seals/)]);
  });

  it('move a sealed event to another position (leaves bind positions)', async () => {
    const victim = rows[4]!; // in seal 1
    const moved = 1_000_000 + victim.global_position;
    await tamper(database.db, async () => {
      // Same transaction id: commit order, stream chains and every hash stay as they were.
      await sql`DELETE FROM events WHERE global_position = ${victim.global_position}`.execute(database.db);
      await sql`
        INSERT INTO events (global_position, transaction_id, event_id, stream_id, stream_version, type, schema_version, data, metadata, recorded_at, prev_hash, hash)
        OVERRIDING SYSTEM VALUE
        VALUES (${moved}, ${victim.transaction_id}::xid8, ${victim.event_id}::uuid, ${victim.stream_id}, ${victim.stream_version}, ${victim.type}, ${victim.schema_version},
          ${JSON.stringify(victim.data)}::jsonb, ${JSON.stringify(victim.metadata)}::jsonb, ${new Date(victim.recorded_at)}, ${victim.prev_hash}, ${victim.hash})`.execute(database.db);
      // The stored leaves renumbered to match: only the Merkle root still remembers.
      const { rows: seal } = await sql<{ leaf_positions: Uint8Array; leaf_hashes: Uint8Array }>`SELECT leaf_positions, leaf_hashes FROM log_seals WHERE seq = 1`.execute(database.db);
      const leaves = decodeLeaves(seal[0]!.leaf_positions, seal[0]!.leaf_hashes);
      const positions = Buffer.alloc(leaves.positions.length * 8);
      leaves.positions.forEach((p, i) => positions.writeBigUInt64BE(BigInt(p === victim.global_position ? moved : p), i * 8));
      await sql`UPDATE log_seals SET leaf_positions = ${positions} WHERE seq = 1`.execute(database.db);
    });
    const report = await verify({ fromDigest: digest });
    expect(report.problems.filter((p) => ['CONTENT', 'CHAIN', 'VERSION_GAP', 'ORDER'].includes(p.kind))).toEqual([]);
    expect(report.ok).toBe(false);
    expect(report.firstProblem).toMatchObject({ kind: 'SEAL_ROOT', sealSeq: 1 });
    expect(report.digest).toMatchObject({ found: true, extended: false });
  });

  it('an export with an event renumbered fails import-check', async () => {
    const lines = await collect(exportLines(database.db));
    const i = lines.findIndex((l) => l.includes(`"globalPosition":${rows[4]!.global_position},`));
    const edited = [...lines];
    edited[i] = edited[i]!.replace(`"globalPosition":${rows[4]!.global_position},`, `"globalPosition":${1_000_000 + rows[4]!.global_position},`);
    const check = await checkExport(edited, testTrust);
    expect(check.ok).toBe(false);
    expect(check.problems.map((p) => p.message)).toContainEqual(expect.stringMatching(/seal 1's Merkle root does not match/));
  });

  it('the seals table is append-only', async () => {
    await expect(sql`UPDATE log_seals SET sealed_at = now()`.execute(database.db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM log_seals`.execute(database.db)).rejects.toThrow(/append-only/);
    expect((await latestSeal(database.db))?.sealHash).toBe(digest);
  });
});
