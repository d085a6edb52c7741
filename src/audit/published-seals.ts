import type { Kysely } from 'kysely';
import type { Database } from '../database/schema.js';
import { canonicalJson } from '../events/canonical-json.js';
import type { Logger } from '../log.js';
import type { ObjectStore } from '../storage/object-store.js';
import { SEAL_COLUMNS, sealFromJson, sealHash, sealJson, sealSignatureProblem, toSeal, type Seal, type SealTrust } from './seal.js';
import type { Problem, VerifyReport } from './verify.js';

/**
 * Every seal's digest, published outside the database: the object store key `seals/<seq>.json`
 * holds the seal as exports show it (sealJson: fields, hash, signature), RFC 8785 canonical JSON,
 * written once with a conditional create (If-None-Match: *) and never replaced. Someone who later
 * rewrites the log and its seals — even with the service's or the owner's database credentials —
 * cannot make the published digests agree with the rewrite: `quire audit verify --against-store`
 * compares the two. Where the store supports it, S3 Object Lock (compliance mode) on the `seals/`
 * prefix also stops someone holding the store's keys from deleting or overwriting them
 * (docs/threat-model.md says which stores do).
 */
export const PUBLISHED_SEAL_KIND = 'quire-published-seal';

export function publishedSealKey(seq: number): string {
  return `seals/${seq}.json`;
}

export function publishedSealBody(seal: Seal): Buffer {
  return Buffer.from(`${canonicalJson({ kind: PUBLISHED_SEAL_KIND, ...sealJson(seal) })}\n`, 'utf8');
}

async function readSmall(store: ObjectStore, key: string, limit = 64 * 1024): Promise<Buffer | null> {
  const stream = await store.get(key);
  if (!stream) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      (stream as { destroy?: () => void }).destroy?.();
      throw new Error(`${key} is larger than ${limit} bytes: not a published seal`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function sealsFrom(db: Kysely<Database>, afterSeq: number, limit: number): Promise<Seal[]> {
  const rows = await db.selectFrom('log_seals').select(SEAL_COLUMNS).where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
  return rows.map(toSeal);
}

export interface PublishResult {
  published: number[];
  /** Seqs whose published digest differs from the log's seal: someone rewrote one of the two. */
  conflicts: number[];
}

/**
 * Publishes seals in seq order, so the published ones are always a prefix 1..k and the first
 * unpublished one is found with O(log n) HEADs after a restart. Idempotent: a seal already
 * published with the same bytes counts as published (another instance, or a retry).
 */
export class SealPublisher {
  #through: number | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly store: ObjectStore,
    private readonly log?: Logger,
  ) {}

  /** Highest k such that seals 1..k are published (binary search over the prefix). */
  async #publishedThrough(latest: number): Promise<number> {
    if (this.#through !== null) return this.#through;
    const published = async (seq: number) => seq === 0 || (await this.store.head(publishedSealKey(seq))) !== null;
    if (await published(latest)) return latest;
    let lo = 0;
    let hi = latest;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await published(mid)) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  #conflict(result: PublishResult, seal: Seal): void {
    result.conflicts.push(seal.seq);
    this.log?.error({ seq: seal.seq, key: publishedSealKey(seal.seq), sealHash: seal.sealHash }, 'a different digest is already published for this seal: the log or the store was rewritten');
  }

  async publishPending(): Promise<PublishResult> {
    const result: PublishResult = { published: [], conflicts: [] };
    const latest = await this.db.selectFrom('log_seals').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    if (!latest) return result;
    const discovering = this.#through === null;
    let through = await this.#publishedThrough(Number(latest.seq));
    if (discovering && through > 0) {
      // Starting afresh: the newest published digest must be the log's (the rest is verify's job).
      const [seal] = await sealsFrom(this.db, through - 1, 1);
      const existing = await readSmall(this.store, publishedSealKey(through));
      if (seal && (!existing || !existing.equals(publishedSealBody(seal)))) this.#conflict(result, seal);
    }
    this.#through = through;
    while (through < Number(latest.seq)) {
      const seals = await sealsFrom(this.db, through, 500);
      if (seals.length === 0) break;
      for (const seal of seals) {
        const body = publishedSealBody(seal);
        const key = publishedSealKey(seal.seq);
        if ((await this.store.putIfAbsent(key, body, 'application/json')) === 'exists') {
          const existing = await readSmall(this.store, key);
          // Never replaced: the published digest is the evidence. verify --against-store reports it.
          if (!existing || !existing.equals(body)) this.#conflict(result, seal);
        }
        result.published.push(seal.seq);
        through = seal.seq;
        this.#through = through;
      }
    }
    return result;
  }
}

export interface PublishedCheck {
  /** Digests found in the store. */
  published: number;
  /** …that match the log's seal of the same seq. */
  matched: number;
  /** Seals of the log with no published digest (yet): only as safe as the database. */
  unpublished: number[];
  problems: Problem[];
}

/**
 * Compares every seal of the log with its published digest, and looks for digests published past
 * the log's last seal (seals deleted from the database). A published digest must itself be valid:
 * its hash reproduces and a trusted key signed it — one forged in the store is reported too.
 */
export async function checkPublishedSeals(db: Kysely<Database>, store: ObjectStore, trust: SealTrust): Promise<PublishedCheck> {
  const out: PublishedCheck = { published: 0, matched: 0, unpublished: [], problems: [] };
  const problem = (seal: Pick<Seal, 'seq'> & Partial<Pick<Seal, 'first'>>, message: string) =>
    out.problems.push({ kind: 'PUBLISHED', message, position: seal.first?.globalPosition ?? null, checkpoint: seal.first ?? null, streamId: null, streamVersion: null, sealSeq: seal.seq });

  const readPublished = async (seq: number): Promise<Seal | 'malformed' | null> => {
    const body = await readSmall(store, publishedSealKey(seq));
    if (!body) return null;
    try {
      const obj = JSON.parse(body.toString('utf8'));
      if (obj.kind !== PUBLISHED_SEAL_KIND || obj.seq !== seq) return 'malformed';
      return sealFromJson(obj);
    } catch {
      return 'malformed';
    }
  };
  const checkOwn = (seq: number, p: Seal | 'malformed'): p is Seal => {
    if (p === 'malformed') {
      problem({ seq }, `${publishedSealKey(seq)} is not a published seal ${seq}`);
      return false;
    }
    const bad = sealHash(p) !== p.sealHash ? 'its hash does not match its fields' : sealSignatureProblem(p, trust);
    if (bad) {
      problem(p, `the digest published at ${publishedSealKey(seq)} is not valid (${bad}): someone with the object store's keys wrote it`);
      return false;
    }
    return true;
  };

  let last = 0;
  let highestPublished = 0;
  for (;;) {
    const seals = await sealsFrom(db, last, 500);
    if (seals.length === 0) break;
    for (const seal of seals) {
      last = seal.seq;
      const p = await readPublished(seal.seq);
      if (p === null) {
        out.unpublished.push(seal.seq);
        continue;
      }
      out.published++;
      highestPublished = seal.seq;
      if (!checkOwn(seal.seq, p)) continue;
      if (p.sealHash !== seal.sealHash) {
        problem(
          seal,
          `seal ${seal.seq} in the log (${seal.sealHash}) is not the digest published for it (${p.sealHash}): the log's seals were rewritten after publication`,
        );
      } else out.matched++;
    }
  }
  // Digests are published in seq order, so one missing below a published one was deleted from the store.
  const holes = out.unpublished.filter((seq) => seq < highestPublished);
  for (const seq of holes) problem({ seq }, `the digest of seal ${seq} is missing from the store while later ones are there: it was deleted from the store`);
  out.unpublished = out.unpublished.filter((seq) => seq > highestPublished);
  // Published past the log's end: the log lost seals (and likely the events they covered).
  for (let seq = last + 1; ; seq++) {
    const p = await readPublished(seq);
    if (p === null) break;
    out.published++;
    if (checkOwn(seq, p)) problem(p, `seal ${seq} was published (${p.sealHash}) but the log has no seal ${seq}: seals and the history they covered were removed`);
  }
  return out;
}

/** A verify report with the published digests' check folded in. */
export function mergePublishedCheck(report: VerifyReport, check: PublishedCheck): VerifyReport & { published: PublishedCheck } {
  const problems = [...report.problems, ...check.problems];
  return {
    ...report,
    ok: report.ok && check.problems.length === 0,
    problems,
    problemCount: report.problemCount + check.problems.length,
    firstProblem: report.firstProblem ?? check.problems[0] ?? null,
    published: check,
  };
}
