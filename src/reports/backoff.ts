export interface BackoffPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Delay before the second attempt; doubles each time. */
  baseMs: number;
  maxDelayMs?: number;
}

/**
 * When attempt `attempt` (1-based, just failed) should be followed by the next one, or null when
 * it was the last. ±20% jitter keeps instances that failed together from retrying together.
 */
export function nextAttemptAt(attempt: number, policy: BackoffPolicy, now = new Date(), random = Math.random): Date | null {
  if (attempt >= policy.maxAttempts) return null;
  const delay = Math.min(policy.baseMs * 2 ** (attempt - 1), policy.maxDelayMs ?? 10 * 60_000);
  return new Date(now.getTime() + Math.round(delay * (0.8 + 0.4 * random())));
}
