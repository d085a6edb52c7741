import { describe, expect, it } from 'vitest';
import { runSimulation } from '../../src/simulation/run.js';

// A small run of `npm run simulate` on PGlite, in this process, with its default fleet (3 regions ×
// 2 machines, each its own volume and machine id): the seed's baseline shows its 404s, quire's modes
// show none that are unexplained, and lose nothing, through an object-store outage and a machine
// killed and restarted on its volume.
describe('simulation (30 reports, 3 regions × 2 machines, object store outage, one machine killed)', () => {
  it('the baseline fails with the seed’s 404s; mirror and object lose nothing and explain every failure', async () => {
    const results = await runSimulation({
      modes: ['legacy', 'mirror', 'object'],
      reports: 30,
      concurrency: 12,
      seed: 7,
      durationMs: 5000,
      downloads: 2,
      store: 's3',
      faults: { outage: true, kill: true, dbDrop: false },
      settleMs: 20_000,
      renderConcurrency: 1,
      maxRows: 20,
    });
    const [legacy, mirror, object] = results;

    expect(legacy!.downloads.failedByReason['seed_404']).toBeGreaterThan(0);
    expect(legacy!.everyMachine.failed).toBeGreaterThan(0);
    expect(legacy!.hashChains.breaks).toBe(0);

    for (const r of [mirror!, object!]) {
      expect(r.reports).toBe(30);
      expect(r.lost).toBe(0);
      expect(r.failures.unexplained).toBe(0);
      expect(r.failures.unrecovered).toBe(0);
      expect(r.machinesPerRegion).toBe(2);
      expect(r.everyMachine).toMatchObject({ checked: 180, ok: 180, failed: 0 });
      expect(r.downloads.succeeded).toBeGreaterThanOrEqual(60);
      expect(r.faults.map((f) => f.kind).sort()).toEqual(['machine_killed', 'object_store_outage']);
      expect(r.invariants.filter((i) => !i.ok)).toEqual([]);
    }
    // mirror serves before replication (local volume or fly-replay), object only from the store.
    expect(mirror!.downloads.byPath.local! + mirror!.downloads.byPath.replay!).toBeGreaterThan(0);
    expect(object!.downloads.byPath.object).toBe(object!.downloads.succeeded);
  }, 240_000);
});
