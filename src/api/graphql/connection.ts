import { QuireError } from '../../errors.js';

export class InvalidPageError extends QuireError {
  readonly code = 'INVALID_PARAMS';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPageError';
  }
}

/** `first` checked against the page bounds; forward pagination only (first/after). */
export function pageSize(args: { first?: number | null; last?: number | null; before?: string | null }, max: number, fallback: number): number {
  if (args.last != null || args.before != null) throw new InvalidPageError('pages go forwards: use first and after');
  const first = args.first ?? fallback;
  if (!Number.isInteger(first) || first < 1 || first > max) throw new InvalidPageError(`first must be from 1 to ${max}`);
  return first;
}

/**
 * A relay connection from `first + 1` fetched items: the extra one only says there is a next page.
 */
export function forwardConnection<T>(fetched: readonly T[], first: number, toCursor: (item: T) => string, after?: string | null) {
  const items = fetched.slice(0, first);
  const edges = items.map((node) => ({ node, cursor: toCursor(node) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: fetched.length > first,
      hasPreviousPage: Boolean(after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
