/** The name of the unique constraint a statement violated, or null for any other error (pg and PGlite alike). */
export function violatedUniqueConstraint(err: unknown): string | null {
  if (typeof err !== 'object' || err === null) return null;
  const e = err as { code?: unknown; constraint?: unknown; message?: unknown };
  if (e.code !== '23505') return null;
  if (typeof e.constraint === 'string') return e.constraint;
  const match = /unique constraint "([^"]+)"/.exec(String(e.message));
  return match?.[1] ?? '';
}
