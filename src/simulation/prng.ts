/** mulberry32: a small seeded PRNG, so a run's region choices and timings repeat with its --seed. */
export class Prng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 0x9e3779b9;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }
  /** An independent stream (one per client task), so concurrency does not reorder draws. */
  fork(salt: number): Prng {
    return new Prng(Math.imul(this.int(2 ** 31) ^ salt, 2654435761));
  }
}
