import { describe, expect, it } from 'vitest';
import { formatTable } from '../../src/simulation/output.js';
import { runSimulation } from '../../src/simulation/run.js';

const REPORTS = 30;
const MACHINES = 6;
/** What a client may see during the chaos: typed answers of quire or the edge, and the store refusing a presigned GET while it is down. */
const TYPED_OR_OUTAGE = new Set(['NOT_READY', 'UNAVAILABLE', 'REGION_UNAVAILABLE', 'MACHINE_UNAVAILABLE', 'EDGE_UPSTREAM_ERROR', 'OBJECT_STORE_UNAVAILABLE', 'object_store_unreachable']);

// The soak of issue 12, scaled to the test machine (`npm run simulate -- --scenario soak` is the
// 90 s version): 3 regions × 2 machines under steady load, three machines killed and restarted on
// their volumes one after another, an object-store outage in the middle. On PostgreSQL each machine
// is a `quire serve` process killed with SIGKILL (its leases expire); on PGlite they share this process.
const backends: Array<[string, string | undefined]> = [['pglite', undefined], ...(process.env.DATABASE_URL ? [['postgres', process.env.DATABASE_URL] as [string, string]] : [])];

describe.each(backends)('soak: 3 regions × 2 machines, kills and an outage, on %s', (_kind, databaseUrl) => {
  it('ends with every report REPLICATED, every failure typed, every report downloadable from every machine', async () => {
    const [r] = await runSimulation({
      modes: ['mirror'],
      regions: ['iad', 'lax', 'syd'],
      machinesPerRegion: 2,
      reports: REPORTS,
      concurrency: 12,
      seed: 12,
      durationMs: 20_000,
      downloads: 2,
      store: 's3',
      // The store stays down past 11 s until two copies have failed (renders can stall on a loaded machine).
      faults: { outage: true, outageWindow: { startMs: 5_000, endMs: 11_000, feltBy: 2 }, kill: true, kills: 3, dbDrop: false },
      replicateAll: true,
      ...(databaseUrl ? { databaseUrl } : {}),
      settleMs: 90_000,
      renderConcurrency: 1,
      maxRows: 20,
    });
    const result = r!;
    // The numbers, for whoever reads the test log (a failure's detail is in the invariants below).
    console.log(formatTable([result]));
    // The chaos happened: three machines killed and restarted, the store down and back.
    expect(result.faults.filter((f) => f.kind === 'machine_killed')).toHaveLength(3);
    expect(result.faults.filter((f) => f.kind === 'object_store_outage')).toHaveLength(1);
    expect(result.faults.every((f) => f.end > f.start)).toBe(true);

    // Every report accounted for: recorded, REPLICATED, downloadable with its sha256 from every machine.
    expect(result.reports).toBe(REPORTS);
    expect(result.lost).toBe(0);
    expect(result.replication).toMatchObject({ checked: true, replicated: REPORTS, notReplicated: [] });
    expect(result.everyMachine).toMatchObject({ checked: REPORTS * MACHINES, ok: REPORTS * MACHINES, failed: 0 });

    // Every failure typed: no 500, no untyped answer; each explained by a fault and followed by a success.
    const reasons = Object.keys(result.downloads.failedByReason);
    expect(reasons.filter((reason) => !TYPED_OR_OUTAGE.has(reason))).toEqual([]);
    expect(result.failures).toMatchObject({ unexplained: 0 });
    expect(result.failures.recovered).toBe(result.downloads.attempted - result.downloads.succeeded);
    expect(result.requestFailures.untyped).toBe(0);
    expect(Object.keys(result.requestFailures.byReason).filter((reason) => reason.startsWith('http_'))).toEqual([]);

    // Every event accounted for: one stream per report, chains verify, nothing given up, and the only
    // failures in the log are retried copies during the outage (never a sibling's "disappeared").
    expect(result.hashChains).toMatchObject({ streams: REPORTS, breaks: 0 });
    expect(result.events.givenUp).toEqual([]);
    // The outage was felt: copies failed during it and were retried until the store came back.
    expect(result.events.failedByStage['replicate']).toBeGreaterThan(0);
    expect(result.replication.backlog).toBeGreaterThan(0);
    expect(result.replication.backlogClearedAfterStoreBackMs).not.toBeNull();
    expect(result.events.byType['ReportRequested']).toBe(REPORTS);
    expect(result.events.byType['ReportReplicated']).toBe(REPORTS);
    expect(Object.values(result.events.byType).reduce((a, b) => a + b, 0)).toBe(result.hashChains.events);
    expect(result.invariants.filter((i) => !i.ok)).toEqual([]);
  }, 240_000);
});
