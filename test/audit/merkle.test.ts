import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inclusionPath, leafHash, merkleRoot, nodeHash, positionedLeafHash, verifyInclusion } from '../../src/audit/merkle.js';

const h = (i: number) => createHash('sha256').update(`event ${i}`).digest('hex');

/** RFC 6962 §2.1 MTH, written out recursively as the reference. */
function mth(hashes: string[]): Buffer {
  if (hashes.length === 1) return leafHash(hashes[0]!);
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return nodeHash(mth(hashes.slice(0, k)), mth(hashes.slice(k)));
}

describe('Merkle tree', () => {
  it('hashes leaves and nodes as the written-out definition does, whatever the input (the fast path reuses one buffer)', () => {
    const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
    const u64 = (n: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt(n));
      return b;
    };
    // Hashes as stored, and as a tamperer may leave them: short, upper case, not hex, too long.
    const hashes = [h(1), h(2).toUpperCase(), h(3).slice(0, 40), `${h(4).slice(0, 10)}zz${h(4).slice(12)}`, '', 'abc', `${h(5)}${h(6)}`];
    for (const eventHash of hashes) {
      expect(leafHash(eventHash)).toEqual(sha(Buffer.from([0]), Buffer.from(eventHash, 'hex')));
      for (const position of [0, 1, 255, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER]) {
        expect(positionedLeafHash(position, eventHash)).toEqual(sha(Buffer.from([0]), u64(position), Buffer.from(eventHash, 'hex')));
      }
    }
    const [a, b] = [leafHash(h(7)), leafHash(h(8))];
    expect(nodeHash(a, b)).toEqual(sha(Buffer.from([1]), a, b));
    expect(nodeHash(a.subarray(0, 31), b)).toEqual(sha(Buffer.from([1]), a.subarray(0, 31), b));
    // Results are fresh buffers, not views of the scratch input.
    const first = positionedLeafHash(1, h(1));
    positionedLeafHash(2, h(2));
    expect(first).toEqual(sha(Buffer.from([0]), u64(1), Buffer.from(h(1), 'hex')));
  });


  it('is RFC 6962’s MTH: leaf and node prefixes, odd nodes promoted', () => {
    expect(merkleRoot([h(0)])).toBe(createHash('sha256').update(Buffer.from([0])).update(Buffer.from(h(0), 'hex')).digest('hex'));
    const [l0, l1, l2] = [leafHash(h(0)), leafHash(h(1)), leafHash(h(2))];
    expect(merkleRoot([h(0), h(1), h(2)])).toBe(nodeHash(nodeHash(l0, l1), l2).toString('hex'));
    for (let n = 1; n <= 70; n++) {
      const hashes = Array.from({ length: n }, (_, i) => h(i));
      expect(merkleRoot(hashes)).toBe(mth(hashes).toString('hex'));
    }
    expect(merkleRoot([])).toBeNull();
  });

  it('proves every leaf of every tree size, and nothing else', () => {
    for (let n = 1; n <= 33; n++) {
      const hashes = Array.from({ length: n }, (_, i) => h(i));
      const leaves = hashes.map(leafHash);
      const root = merkleRoot(hashes)!;
      for (let i = 0; i < n; i++) {
        const path = inclusionPath(leaves, i);
        expect(verifyInclusion(leaves[i]!, i, n, path, root)).toBe(true);
        if (n > 1) {
          expect(verifyInclusion(leaves[(i + 1) % n]!, i, n, path, root)).toBe(false);
          expect(verifyInclusion(leaves[i]!, (i + 1) % n, n, path, root)).toBe(false);
        }
      }
    }
  });
});
