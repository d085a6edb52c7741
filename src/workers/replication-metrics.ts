/** What the replicator reports to metrics (prom-client lives in the api layer's registry). */
export interface ReplicationMetrics {
  /** A copy was verified; `lagSeconds` from stored-local to replicated. */
  replicated(lagSeconds: number): void;
  failed(reason: 'store' | 'mismatch'): void;
}
