// npm run simulate -- [--scenario default|fleet|soak] [--reports N] [--concurrency N] [--seed N]
//   [--mode legacy|mirror|object|all] [--duration ms] [--downloads N] [--store s3|disk]
//   [--faults outage,kill,db|none] [--regions a,b] [--machines N] [--kills N] [--outage-ms N] [--settle ms] [--out dir] [--expire %]
// Regions of machines (default iad, lax, syd × 2), each machine with its own volume and id, an edge
// proxy that follows fly-replay like Fly's, the seed's baseline and quire's modes, faults,
// invariants. Exit 1 when an invariant of a quire mode fails.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { SimMode } from './cluster.js';
import { formatTable, writeOutputs } from './output.js';
import { runSimulation } from './run.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'default' },
    reports: { type: 'string' },
    concurrency: { type: 'string', default: '24' },
    seed: { type: 'string', default: '1' },
    mode: { type: 'string' },
    baseline: { type: 'string' },
    duration: { type: 'string' },
    downloads: { type: 'string' },
    store: { type: 'string', default: 's3' },
    faults: { type: 'string' },
    regions: { type: 'string' },
    machines: { type: 'string' },
    kills: { type: 'string' },
    'outage-ms': { type: 'string' },
    settle: { type: 'string' },
    expire: { type: 'string', default: '0' },
    out: { type: 'string' },
    'render-concurrency': { type: 'string', default: '2' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run simulate -- [--scenario default|fleet|soak] [--reports 120] [--concurrency 24] [--seed 1]\n' +
      '  [--mode legacy|mirror|object|all] [--baseline legacy] [--duration 20000] [--downloads 3] [--store s3|disk]\n' +
      '  [--faults outage,kill,db|none] [--regions iad,lax,syd] [--machines 2] [--kills N] [--outage-ms N] [--settle ms] [--out dir]\n' +
      '  [--expire percent]: that share of the reports is requested with a retainFor ending 5 s after the workload window;\n' +
      '           they must end EXPIRED with every copy purged and answer GONE.\n' +
      '  default: 3 regions × 2 machines, an outage at 15–40 % of the window, one machine killed at 50–75 %, all modes.\n' +
      '  fleet:   2 regions × 2 machines, the object store down until every report was downloaded the moment it was\n' +
      '           STORED (every download must succeed), then every report must replicate; legacy and mirror.\n' +
      '  soak:    3 regions × 2 machines for 90 s, 175 reports, 4 machines killed and restarted on their volumes, a\n' +
      '           20 s outage; every report must end REPLICATED and download from every machine; mirror.\n' +
      'With DATABASE_URL set: one `quire serve` process per machine on PostgreSQL (a database per mode, dropped after).',
  );
  process.exit(0);
}
const int = (name: string, v: string | undefined, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max}`);
    process.exit(2);
  }
  return n;
};
interface Scenario {
  regions: string;
  machines: string;
  mode: string;
  reports: string;
  duration: string;
  downloads: string;
  faults: string;
  kills?: string;
  outageMs?: string;
  settle: string;
  fleet?: boolean;
  replicateAll?: boolean;
}
const SCENARIOS: Record<string, Scenario> = {
  default: { regions: 'iad,lax,syd', machines: '2', mode: 'all', reports: '120', duration: '20000', downloads: '3', faults: 'outage,kill,db', settle: '60000' },
  fleet: { regions: 'iad,lax', machines: '2', mode: 'legacy,mirror', reports: '64', duration: '20000', downloads: '1', faults: 'outage', settle: '120000', fleet: true, replicateAll: true },
  soak: {
    regions: 'iad,lax,syd',
    machines: '2',
    mode: 'mirror',
    reports: '175',
    duration: '90000',
    downloads: '3',
    faults: 'outage,kill,db',
    kills: '4',
    outageMs: '20000',
    settle: '300000',
    replicateAll: true,
  },
};
const scenario = SCENARIOS[values.scenario!];
if (!scenario) {
  console.error('--scenario is default, fleet or soak');
  process.exit(2);
}
const all: SimMode[] = ['legacy', 'mirror', 'object'];
const modeArg = values.mode ?? scenario.mode;
let modes: SimMode[] = modeArg === 'all' ? all : (modeArg.split(',') as SimMode[]);
if (values.baseline === 'legacy' && !modes.includes('legacy')) modes = ['legacy', ...modes];
if (modes.some((m) => !all.includes(m))) {
  console.error('--mode is legacy, mirror, object or all');
  process.exit(2);
}
if (values.store !== 's3' && values.store !== 'disk') {
  console.error('--store is s3 or disk');
  process.exit(2);
}
const regions = (values.regions ?? scenario.regions).split(',');
if (regions.some((r) => !/^[a-z0-9]{2,16}$/.test(r)) || new Set(regions).size !== regions.length) {
  console.error('--regions is a comma-separated list of distinct region names (lower-case letters and digits)');
  process.exit(2);
}
const faultArg = values.faults ?? scenario.faults;
const faults = new Set(faultArg === 'none' ? [] : faultArg.split(','));
const out = resolve(values.out ?? mkdtempSync(join(tmpdir(), 'quire-simulation-')));
const databaseUrl = process.env.DATABASE_URL || undefined;
const durationMs = int('duration', values.duration ?? scenario.duration, 1000, 600_000);
const outageArg = values['outage-ms'] ?? scenario.outageMs;
const outageMs = outageArg === undefined ? undefined : int('outage-ms', outageArg, 1000, durationMs);
const killsArg = values.kills ?? scenario.kills;
const options = {
  modes,
  regions,
  machinesPerRegion: int('machines', values.machines ?? scenario.machines, 1, 8),
  reports: int('reports', values.reports ?? scenario.reports, 1, 5000),
  concurrency: int('concurrency', values.concurrency, 1, 500),
  seed: int('seed', values.seed, 0, 2 ** 31),
  durationMs,
  downloads: int('downloads', values.downloads ?? scenario.downloads, 1, 20),
  store: values.store,
  faults: {
    outage: faults.has('outage'),
    // The fleet scenario: down until every report was downloaded at STORED. Else a window of --outage-ms from a third of the run.
    ...(scenario.fleet ? { outageWindow: 'workload' as const } : outageMs !== undefined ? { outageWindow: { startMs: durationMs / 3, endMs: durationMs / 3 + outageMs } } : {}),
    kill: faults.has('kill'),
    ...(faults.has('kill') && killsArg !== undefined ? { kills: int('kills', killsArg, 1, 100) } : {}),
    dbDrop: faults.has('db'),
  },
  replicateAll: scenario.replicateAll ?? false,
  noFailedDownloads: scenario.fleet ?? false,
  ...(databaseUrl ? { databaseUrl } : {}),
  settleMs: int('settle', values.settle ?? scenario.settle, 1000, 3_600_000),
  renderConcurrency: int('render-concurrency', values['render-concurrency'], 1, 16),
  expirePercent: int('expire', values.expire, 0, 100),
  log: (line: string) => console.log(line),
} as const;

const results = await runSimulation({ ...options, modes: [...options.modes], store: options.store });
console.log('');
console.log(formatTable(results));
const files = writeOutputs(out, results, {
  scenario: values.scenario,
  options: { ...options, log: undefined, databaseUrl: databaseUrl ? '(set)' : undefined },
  at: new Date().toISOString(),
});
console.log(`\nwritten: ${files.table}\n         ${files.json}\n         ${files.svg}`);
const broken = results.filter((r) => r.mode !== 'legacy' && r.invariants.some((i) => !i.ok));
process.exit(broken.length > 0 ? 1 : 0);
