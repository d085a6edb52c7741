import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { EventStore } from '../events/event-store.js';
import { foldReport } from '../reports/report-state.js';
import { appendDecision } from './append-decision.js';
import { claimDue, withLease, type Claim } from './leases.js';

export interface ExpiryStageOptions {
  store: EventStore;
  owner: string;
  leaseMs: number;
  log: Logger;
  machine: string;
}

/**
 * The expiry sweep as a stage: claims live reports whose expiresAt has passed and that are not
 * held (the projection's partial index report_status_expiry_idx), and appends ReportExpired.
 * Any instance may expire any report; the lease keeps two from doing the same one. The purge
 * stage then deletes the copies.
 */
export function expiryStage(options: ExpiryStageOptions) {
  const { store, owner, leaseMs, log, machine } = options;
  const stage = 'expire';

  function claim(limit: number): Promise<Claim[]> {
    return claimDue(store.db, {
      stage,
      owner,
      limit,
      leaseMs,
      whileRetrying: true,
      orderBy: 'expires_at',
      due: sql<boolean>`s.expires_at IS NOT NULL AND s.gone_at IS NULL AND NOT s.held AND s.expires_at <= now()`,
    });
  }

  async function process(claim: Claim, stop?: AbortSignal): Promise<void> {
    await withLease(store.db, { reportId: claim.reportId, stage, owner, leaseMs, log }, stop, async () => {
      const state = foldReport(await store.readStream(claim.streamId));
      if (!state) return;
      // The clock of this instance decides, as for retries: a report is expired once its time passed here.
      if (await appendDecision(store, state, { type: 'ExpireReport', now: new Date() }, { actor: `expiry:${machine}` })) {
        log.info({ reportId: state.reportId, expiresAt: state.expiresAt }, 'report expired');
      }
    });
  }

  return { claim, process };
}
