/**
 * What PostgreSQL's jsonb (and so the event log) can hold: no U+0000 anywhere (jsonb rejects it),
 * no lone UTF-16 surrogate (not Unicode; the json parser rejects its escape), and a bounded depth
 * (deeper values overflow the stack of every recursive JSON walker: JSON.stringify, canonical
 * JSON, zod). Checked iteratively, so the check itself cannot overflow.
 */
export const MAX_JSON_DEPTH = 64;

export interface JsonIssue {
  /** Dotted path from the value's root, e.g. `rows.0.name` ('' for the root). */
  path: string;
  message: string;
}

const NUL = '\u0000';
/** A high surrogate not followed by a low one, or a low one not preceded by a high one (String#isWellFormed is ES2024). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function textIssue(text: string): string | null {
  if (text.includes(NUL)) return 'contains a NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'contains a lone UTF-16 surrogate (not Unicode text)';
  return null;
}

/** Every problem that would stop `value` from being stored as jsonb, at most `limit` of them. */
export function storableJsonIssues(value: unknown, options: { maxDepth?: number; limit?: number } = {}): JsonIssue[] {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
  const limit = options.limit ?? 20;
  const issues: JsonIssue[] = [];
  const stack: Array<{ value: unknown; path: string[] }> = [{ value, path: [] }];
  while (stack.length > 0 && issues.length < limit) {
    const item = stack.pop()!;
    if (typeof item.value === 'string') {
      const problem = textIssue(item.value);
      if (problem) issues.push({ path: item.path.join('.'), message: problem });
      continue;
    }
    if (typeof item.value !== 'object' || item.value === null) continue;
    if (item.path.length >= maxDepth) {
      issues.push({ path: item.path.join('.'), message: `nested more than ${maxDepth} levels deep` });
      continue;
    }
    const entries = Array.isArray(item.value) ? item.value.map((v, i) => [String(i), v] as const) : Object.entries(item.value);
    for (const [key, child] of entries) {
      const keyProblem = Array.isArray(item.value) ? null : textIssue(key);
      if (keyProblem) issues.push({ path: [...item.path, key.replace(/[\u0000\ud800-\udfff]/g, '\ufffd')].join('.'), message: `key ${keyProblem}` });
      else stack.push({ value: child, path: [...item.path, key] });
    }
  }
  return issues;
}
