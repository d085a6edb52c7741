import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModeResult } from './run.js';

const ms = (v: number | null) => (v === null ? '—' : `${v} ms`);

/** One table for all modes: a column per mode. */
export function formatTable(results: ModeResult[]): string {
  const reasons = [...new Set(results.flatMap((r) => Object.keys(r.downloads.failedByReason)))].sort();
  const rows: Array<[string, ...string[]]> = [
    ['mode', ...results.map((r) => r.mode)],
    ['machines', ...results.map((r) => `${r.regions.length} regions × ${r.machinesPerRegion}`)],
    ['reports', ...results.map((r) => String(r.reports))],
    ['requestReport retried', ...results.map((r) => String(Object.values(r.requestFailures.byReason).reduce((a, b) => a + b, 0)))],
    ['downloads attempted', ...results.map((r) => String(r.downloads.attempted))],
    ['succeeded', ...results.map((r) => String(r.downloads.succeeded))],
    ['  by path: object', ...results.map((r) => String(r.downloads.byPath.object ?? 0))],
    ['  by path: local', ...results.map((r) => String(r.downloads.byPath.local ?? 0))],
    ['  by path: replay', ...results.map((r) => String(r.downloads.byPath.replay ?? 0))],
    ['failed', ...results.map((r) => String(r.downloads.attempted - r.downloads.succeeded))],
    ...reasons.map((reason) => [`  ${reason}`, ...results.map((r) => String(r.downloads.failedByReason[reason] ?? 0))] as [string, ...string[]]),
    ['  typed / untyped', ...results.map((r) => `${r.failures.typed} / ${r.failures.untyped}`)],
    ['  unexplained', ...results.map((r) => String(r.failures.unexplained))],
    ['  recovered later', ...results.map((r) => `${r.failures.recovered}`)],
    ['lost', ...results.map((r) => String(r.lost))],
    ['p50 request→download', ...results.map((r) => ms(r.requestToFirstDownloadMs.p50))],
    ['p99 request→download', ...results.map((r) => ms(r.requestToFirstDownloadMs.p99))],
    ['every machine (end)', ...results.map((r) => `${r.everyMachine.ok}/${r.everyMachine.checked}`)],
    [
      'all REPLICATED (after workload)',
      ...results.map((r) =>
        !r.replication.checked ? '—' : r.replication.afterWorkloadMs === null ? `${r.replication.replicated}/${r.reports} only` : `${r.replication.afterWorkloadMs} ms`,
      ),
    ],
    [
      'outage backlog copied',
      ...results.map((r) =>
        r.replication.backlogClearedAfterStoreBackMs === null ? '—' : `${r.replication.backlog} in ${r.replication.backlogClearedAfterStoreBackMs} ms`,
      ),
    ],
    ['hash chains', ...results.map((r) => (r.hashChains.breaks === 0 ? `ok (${r.hashChains.events} ev)` : `${r.hashChains.breaks} breaks`))],
    ['edge replays (to dead)', ...results.map((r) => `${r.edge.replays} (${r.edge.replaysToDeadRegion + r.edge.replaysToDeadMachine})`)],
    ['invariants', ...results.map((r) => (r.invariants.every((i) => i.ok) ? 'all hold' : `${r.invariants.filter((i) => !i.ok).length} violated`))],
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  const out = [line(rows[0]!), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  for (const r of results) {
    const faults = r.faults.map((f) => `${f.kind}${f.machine ? ` ${f.machine}` : f.region ? ` ${f.region}` : ''} ${f.start}–${f.end} ms`).join('; ');
    out.push('', `${r.mode}: ${r.backend}${r.processes ? ' (separate processes)' : ' (in-process)'}, ${r.store} store, ${(r.wallMs / 1000).toFixed(1)} s; faults: ${faults || 'none'}`);
    for (const inv of r.invariants) out.push(`  ${inv.ok ? '✓' : '✗'} ${inv.name}: ${inv.detail}`);
    for (const e of r.failures.examples.slice(0, 3)) out.push(`    unexplained: ${e}`);
    if (r.mode !== 'legacy') for (const e of r.failures.untypedSamples.slice(0, 3)) out.push(`    untyped: ${e}`);
    const requests = Object.entries(r.requestFailures.byReason).map(([k, v]) => `${v} × ${k}`);
    if (requests.length > 0) out.push(`  requestReport failures (retried): ${requests.join(', ')}; untyped ${r.requestFailures.untyped}`);
    for (const e of r.everyMachine.failures.slice(0, 3)) out.push(`    at the end: ${e}`);
    for (const id of r.replication.notReplicated.slice(0, 3)) out.push(`    not replicated: ${id}`);
    const stages = Object.entries(r.events.failedByStage).map(([k, v]) => `${v} × ${k}`);
    if (stages.length > 0) out.push(`  ReportFailed in the log: ${stages.join(', ')}; given up: ${r.events.givenUp.length}`);
    for (const g of r.events.givenUp.slice(0, 3)) out.push(`    given up: ${g}`);
  }
  return out.join('\n');
}

const COLORS: Record<string, string> = { legacy: '#c0392b', mirror: '#2471a3', object: '#1e8449' };

/** A hand-written SVG: per mode, succeeded and failed downloads per second, with the fault windows shaded. */
export function chartSvg(results: ModeResult[]): string {
  const W = 900;
  const rowH = 170;
  const H = 40 + rowH * results.length;
  const left = 60;
  const width = W - left - 20;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${left}" y="20" font-size="14">quire simulate: downloads per second (green ok, red failed); shaded: faults</text>`,
  ];
  const seconds = Math.max(1, ...results.map((r) => r.timeline.length));
  const x = (t: number) => left + (t / seconds) * width;
  results.forEach((r, i) => {
    const top = 40 + i * rowH;
    const h = rowH - 40;
    const max = Math.max(1, ...r.timeline.map((b) => b.ok + b.failed));
    parts.push(`<text x="${left}" y="${top + 10}" fill="${COLORS[r.mode] ?? '#000'}" font-size="12">${r.mode}: ${r.downloads.succeeded}/${r.downloads.attempted} ok, lost ${r.lost}</text>`);
    for (const f of r.faults) {
      const fill = f.kind === 'object_store_outage' ? '#f9e79f' : f.kind === 'machine_killed' ? '#f5b7b1' : '#d2b4de';
      parts.push(
        `<rect x="${x(f.start / 1000).toFixed(1)}" y="${top + 15}" width="${Math.max(2, x((f.end || f.start + 1000) / 1000) - x(f.start / 1000)).toFixed(1)}" height="${h}" fill="${fill}" opacity="0.6"><title>${f.kind}${f.machine ? ` ${f.machine}` : f.region ? ` ${f.region}` : ''}</title></rect>`,
      );
    }
    const bw = Math.max(1, width / seconds - 1);
    for (const b of r.timeline) {
      const okH = (b.ok / max) * h;
      const failH = (b.failed / max) * h;
      const base = top + 15 + h;
      parts.push(`<rect x="${x(b.t).toFixed(1)}" y="${(base - okH).toFixed(1)}" width="${bw.toFixed(1)}" height="${okH.toFixed(1)}" fill="#27ae60"/>`);
      if (b.failed) parts.push(`<rect x="${x(b.t).toFixed(1)}" y="${(base - okH - failH).toFixed(1)}" width="${bw.toFixed(1)}" height="${failH.toFixed(1)}" fill="#e74c3c"/>`);
    }
    parts.push(`<line x1="${left}" y1="${top + 15 + h}" x2="${left + width}" y2="${top + 15 + h}" stroke="#333"/>`);
    parts.push(`<text x="${left - 5}" y="${top + 20}" text-anchor="end">${max}/s</text>`);
    parts.push(`<text x="${left + width}" y="${top + 28 + h}" text-anchor="end">${seconds} s</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export function writeOutputs(dir: string, results: ModeResult[], meta: object): { json: string; svg: string; table: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'simulation.json');
  const svg = join(dir, 'simulation.svg');
  const table = join(dir, 'simulation.txt');
  writeFileSync(json, JSON.stringify({ ...meta, results }, null, 2));
  writeFileSync(svg, chartSvg(results));
  writeFileSync(table, formatTable(results) + '\n');
  return { json, svg, table };
}
