import { describe, expect, it } from 'vitest';
import { checkEvent, checkSeal, checkSealRange, eventJson, recomputedHash, type ChainedEvent } from '../../src/audit/log-checks.js';
import { MerkleBuilder, positionedLeafHash } from '../../src/audit/merkle.js';
import { GENESIS_SEAL_HASH, SEAL_FORMAT, sealHash, type Seal, type SealFields } from '../../src/audit/seal.js';
import { chainHash, GENESIS_HASH } from '../../src/events/hash-chain.js';
import type { EventRow } from '../../src/events/recorded-event.js';
import { generateSealKey } from '../../src/audit/seal-key.js';
import { testSigner, testTrust } from '../support/seal-key.js';

/** The pure checks verifyLog and checkExport share: no database. */

function row(version: number, prevHash: string, position: number): EventRow {
  const r: EventRow = {
    global_position: position,
    event_id: `00000000-0000-4000-8000-00000000000${version}`,
    stream_id: 'report-1',
    stream_version: version,
    type: 'ReportRequested',
    schema_version: 1,
    data: { b: 2, a: [1, 'x'] },
    metadata: { actor: 'u' },
    recorded_at: new Date('2026-01-02T03:04:05.678Z'),
    transaction_id: String(100 + position),
    prev_hash: prevHash,
    hash: '',
  };
  return { ...r, hash: chainHash(prevHash, { eventId: r.event_id, streamId: r.stream_id, streamVersion: version, type: r.type, schemaVersion: 1, data: r.data, metadata: r.metadata, recordedAt: r.recorded_at }) };
}

const chained = (r: EventRow): ChainedEvent => ({
  position: r.global_position,
  streamId: r.stream_id,
  version: r.stream_version,
  prevHash: r.prev_hash,
  hash: r.hash,
  computedHash: recomputedHash(r),
  checkpoint: { transactionId: r.transaction_id, globalPosition: r.global_position },
});

describe('event checks', () => {
  const v1 = row(1, GENESIS_HASH, 10);
  const v2 = row(2, v1.hash, 11);
  const head = (r: EventRow) => ({ version: r.stream_version, hash: r.hash, checkpoint: { transactionId: r.transaction_id, globalPosition: r.global_position } });

  it('a row and its export line reproduce the same hash', () => {
    expect(recomputedHash(v2)).toBe(v2.hash);
    expect(recomputedHash(eventJson(v2))).toBe(v2.hash);
    expect(recomputedHash({ ...eventJson(v2), recordedAt: 'not a date' })).toBe('');
  });

  it('a sound chain has no findings', () => {
    expect(checkEvent(chained(v1), undefined)).toEqual([]);
    expect(checkEvent(chained(v2), head(v1))).toEqual([]);
  });

  it('changed content, a broken link, a missing predecessor and a reversed order are each named', () => {
    expect(checkEvent(chained({ ...v2, data: { b: 3 } }), head(v1)).map((f) => f.kind)).toEqual(['CONTENT']);
    expect(checkEvent(chained(row(1, '1'.repeat(64), 10)), undefined).map((f) => f.kind)).toEqual(['CHAIN']);
    expect(checkEvent(chained(row(2, '1'.repeat(64), 11)), head(v1)).map((f) => f.kind)).toEqual(['CHAIN']);
    expect(checkEvent(chained(v2), undefined).map((f) => f.kind)).toEqual(['VERSION_GAP']);
    expect(checkEvent(chained(v2), { ...head(v1), version: 0 }).map((f) => f.kind)).toEqual(['VERSION_GAP']);
    expect(checkEvent(chained({ ...v2, global_position: 9, transaction_id: '5' }), head(v1)).map((f) => f.kind)).toEqual(['ORDER']);
  });

  it('an export that starts mid-log may meet a stream above version 1', () => {
    expect(checkEvent(chained(v2), undefined, true)).toEqual([]);
  });
});

describe('seal checks', () => {
  const seal = (prev: Seal | null, count: number, firstPosition: number, signer = testSigner): Seal => {
    const tree = new MerkleBuilder();
    for (let i = 0; i < count; i++) tree.addLeaf(positionedLeafHash(firstPosition + i, 'a'.repeat(64)));
    const fields: SealFields = {
      seq: (prev?.seq ?? 0) + 1,
      first: { transactionId: String(firstPosition), globalPosition: firstPosition },
      last: { transactionId: String(firstPosition + count - 1), globalPosition: firstPosition + count - 1 },
      count,
      total: (prev?.total ?? 0) + count,
      merkleRoot: tree.root()!,
      prevSealHash: prev?.sealHash ?? GENESIS_SEAL_HASH,
      sealedAt: new Date('2026-01-02T00:00:00.000Z'),
      format: SEAL_FORMAT,
      keyId: signer.keyId,
    };
    const hash = sealHash(fields);
    return { ...fields, sealHash: hash, signature: signer.sign(hash) };
  };
  const s1 = seal(null, 3, 1);
  const s2 = seal(s1, 2, 4);

  it('a sound seal chain has no findings', () => {
    expect(checkSeal(s1, null, false, testTrust)).toEqual([]);
    expect(checkSeal(s2, s1, true, testTrust)).toEqual([]);
    expect(checkSealRange(s1, 3, s1.merkleRoot)).toBeNull();
  });

  it('a missing seal, a broken link, a rewritten seal, a bad total and an overlap are each named', () => {
    expect(checkSeal(s2, null, false, testTrust).map((f) => f.message)).toEqual([expect.stringMatching(/seal 1 is missing/), expect.stringMatching(/total/)]);
    // The signature covers the stored seal hash, which no longer matches the fields.
    expect(checkSeal({ ...s2, prevSealHash: GENESIS_SEAL_HASH }, s1, true, testTrust).map((f) => f.message)).toEqual([
      expect.stringMatching(/does not link to seal 1/),
      expect.stringMatching(/hash does not match its fields/),
    ]);
    expect(checkSeal({ ...s2, total: 9 }, s1, true, testTrust).map((f) => f.kind)).toContain('SEAL');
    const overlapping = seal(s1, 2, 3);
    expect(checkSeal(overlapping, s1, true, testTrust).map((f) => f.message)).toEqual([expect.stringMatching(/overlaps seal 1/)]);
  });

  it('an untrusted key, or an unsigned seal after signed ones, is a SIGNATURE finding', () => {
    expect(checkSeal(seal(null, 3, 1, generateSealKey().signer), null, false, testTrust).map((f) => f.kind)).toEqual(['SIGNATURE']);
    expect(checkSeal({ ...s2, format: 1 }, s1, true, testTrust).map((f) => [f.kind, f.message])).toContainEqual(['SIGNATURE', expect.stringMatching(/follows signed seals/)]);
  });

  it('a file that starts mid-log does not check the link to a seal it does not hold', () => {
    expect(checkSeal(s2, 'unknown', false, testTrust)).toEqual([]);
  });

  it('a range with events missing or changed fails', () => {
    expect(checkSealRange(s1, 2, s1.merkleRoot)?.kind).toBe('SEALED_EVENT');
    expect(checkSealRange(s1, 3, 'b'.repeat(64))?.kind).toBe('SEAL_ROOT');
  });
});
