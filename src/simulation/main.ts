// npm run simulate -- [--reports N] [--concurrency N] [--seed N] [--mode legacy|mirror|object|all] [--duration ms]
//   [--downloads N] [--store s3|disk] [--faults outage,kill,db|none] [--out dir]
// Three regions (iad, lax, syd), an edge proxy that follows fly-replay like Fly's, the seed's
// baseline and quire's modes, faults, invariants. Exit 1 when an invariant of a quire mode fails.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { SimMode } from './cluster.js';
import { formatTable, writeOutputs } from './output.js';
import { runSimulation } from './run.js';

const { values } = parseArgs({
  options: {
    reports: { type: 'string', default: '120' },
    concurrency: { type: 'string', default: '24' },
    seed: { type: 'string', default: '1' },
    mode: { type: 'string', default: 'all' },
    baseline: { type: 'string' },
    duration: { type: 'string', default: '20000' },
    downloads: { type: 'string', default: '3' },
    store: { type: 'string', default: 's3' },
    faults: { type: 'string', default: 'outage,kill,db' },
    out: { type: 'string' },
    'render-concurrency': { type: 'string', default: '2' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run simulate -- [--reports 120] [--concurrency 24] [--seed 1] [--mode legacy|mirror|object|all] [--baseline legacy]\n' +
      '  [--duration 20000] [--downloads 3] [--store s3|disk] [--faults outage,kill,db|none] [--out dir]\n' +
      'With DATABASE_URL set: one `quire serve` process per region on PostgreSQL (a database per mode, dropped after).',
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
const all: SimMode[] = ['legacy', 'mirror', 'object'];
let modes: SimMode[] = values.mode === 'all' ? all : (values.mode!.split(',') as SimMode[]);
if (values.baseline === 'legacy' && !modes.includes('legacy')) modes = ['legacy', ...modes];
if (modes.some((m) => !all.includes(m))) {
  console.error('--mode is legacy, mirror, object or all');
  process.exit(2);
}
if (values.store !== 's3' && values.store !== 'disk') {
  console.error('--store is s3 or disk');
  process.exit(2);
}
const faults = new Set(values.faults === 'none' ? [] : values.faults!.split(','));
const out = resolve(values.out ?? mkdtempSync(join(tmpdir(), 'quire-simulation-')));
const databaseUrl = process.env.DATABASE_URL || undefined;
const options = {
  modes,
  reports: int('reports', values.reports, 1, 5000),
  concurrency: int('concurrency', values.concurrency, 1, 500),
  seed: int('seed', values.seed, 0, 2 ** 31),
  durationMs: int('duration', values.duration, 1000, 600_000),
  downloads: int('downloads', values.downloads, 1, 20),
  store: values.store,
  faults: { outage: faults.has('outage'), kill: faults.has('kill'), dbDrop: faults.has('db') },
  ...(databaseUrl ? { databaseUrl } : {}),
  settleMs: 60_000,
  renderConcurrency: int('render-concurrency', values['render-concurrency'], 1, 16),
  log: (line: string) => console.log(line),
} as const;

const results = await runSimulation({ ...options, modes: [...options.modes], store: options.store });
console.log('');
console.log(formatTable(results));
const files = writeOutputs(out, results, { options: { ...options, log: undefined, databaseUrl: databaseUrl ? '(set)' : undefined }, at: new Date().toISOString() });
console.log(`\nwritten: ${files.table}\n         ${files.json}\n         ${files.svg}`);
const broken = results.filter((r) => r.mode !== 'legacy' && r.invariants.some((i) => !i.ok));
process.exit(broken.length > 0 ? 1 : 0);
