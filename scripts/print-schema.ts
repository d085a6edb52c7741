/**
 * npm run schema:print  — writes schema/schema.graphql from the code (printedSchema(): sorted SDL).
 * npm run schema:check  — exits 1 when the committed file differs from the code, with a short diff.
 *
 *   node bin/run-ts.js scripts/print-schema.ts [--check] [--file <path>]
 *
 * `--file` compares against (or writes) another path; the drift test uses it on a temp copy.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printedSchema } from '../src/api/graphql/schema.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const check = args.includes('--check');
const fileIndex = args.indexOf('--file');
const file = fileIndex >= 0 && args[fileIndex + 1] ? resolve(args[fileIndex + 1]!) : resolve(root, 'schema/schema.graphql');
const shown = relative(process.cwd(), file) || file;

/**
 * A short line diff: the changed region between the common prefix and suffix, at most `max` lines
 * each side (enough to see which type or field drifted).
 */
export function shortDiff(expected: string, actual: string, max = 20): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const out = [`@@ line ${start + 1} @@`];
  const context = a.slice(Math.max(0, start - 3), start).map((l) => `  ${l}`);
  out.push(...context);
  const removed = a.slice(start, endA);
  const added = b.slice(start, endB);
  out.push(...removed.slice(0, max).map((l) => `- ${l}`));
  if (removed.length > max) out.push(`  … ${removed.length - max} more removed lines`);
  out.push(...added.slice(0, max).map((l) => `+ ${l}`));
  if (added.length > max) out.push(`  … ${added.length - max} more added lines`);
  return out.join('\n');
}

const sdl = printedSchema();

if (check) {
  if (!existsSync(file)) {
    console.error(`schema:check: ${shown} does not exist — run \`npm run schema:print\` and commit it.`);
    process.exit(1);
  }
  const committed = readFileSync(file, 'utf8');
  if (committed !== sdl) {
    console.error(`schema:check: ${shown} is out of date with the schema in src/api/graphql/.`);
    console.error('Run `npm run schema:print` and commit the result. Difference (- file, + code):');
    console.error(shortDiff(committed, sdl));
    process.exit(1);
  }
  console.log(`schema:check: ${shown} matches the code.`);
} else {
  mkdirSync(dirname(file), { recursive: true });
  const before = existsSync(file) ? readFileSync(file, 'utf8') : null;
  writeFileSync(file, sdl);
  console.log(`schema:print: ${before === sdl ? 'unchanged' : 'wrote'} ${shown}`);
}
