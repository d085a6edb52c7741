/**
 * A V8 CPU profile of one stretch of a benchmark (node:inspector, in process), and its self time
 * summed by where the code lives: a package under node_modules, a folder of quire's src/, the
 * benchmark itself, Node's internals, or the engine (GC, idle, native).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Runs `fn` under the sampling profiler; writes the .cpuprofile to `file` when given. */
export async function profiled<T>(fn: () => Promise<T>, file?: string): Promise<{ result: T; profile: Profile }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    const result = await fn();
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
    if (file) writeFileSync(file, JSON.stringify(profile));
    return { result, profile };
  } finally {
    session.disconnect();
  }
}

/** Where a frame's code lives, at the grain the read-path analysis needs. */
export function bucketOf(url: string, functionName: string): string {
  if (!url) return functionName === '(garbage collector)' ? '(gc)' : functionName === '(idle)' ? '(idle)' : '(native/program)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const src = url.indexOf('/src/');
  if (src >= 0) {
    const parts = url.slice(src + 1).split('/');
    // src/api/graphql/reports.ts → src/api/graphql/reports.ts; keep files: the read path is a few of them.
    return parts.join('/').replace(/\?.*$/, '');
  }
  if (url.includes('/bench/')) return 'bench (load generator)';
  return url;
}

/** Self time per bucket, in ms and as a share of the profiled wall time, largest first. */
export function selfTimeBy(profile: Profile, bucket = bucketOf): Array<{ bucket: string; ms: number; share: number }> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  let all = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!)!;
    const us = profile.timeDeltas[i] ?? 0;
    const key = bucket(node.callFrame.url, node.callFrame.functionName);
    totals.set(key, (totals.get(key) ?? 0) + us);
    all += us;
  }
  return [...totals]
    .map(([b, us]) => ({ bucket: b, ms: us / 1000, share: us / all }))
    .sort((a, b) => b.ms - a.ms);
}

/** Prints the top `n` buckets as a markdown table. */
export function printSelfTime(title: string, profile: Profile, n = 25): void {
  const rows = selfTimeBy(profile);
  console.log(`\n${title} — self time by place (CPU profile, 200 µs sampling)\n`);
  console.log('| where | self ms | share |');
  console.log('|---|---:|---:|');
  for (const r of rows.slice(0, n)) console.log(`| ${r.bucket} | ${r.ms.toFixed(0)} | ${(r.share * 100).toFixed(1)}% |`);
}
