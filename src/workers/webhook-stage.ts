import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { EventStore } from '../events/event-store.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import { QuireError } from '../errors.js';
import type { BackoffPolicy } from '../reports/backoff.js';
import { foldReport, type PendingWebhook, type ReportState } from '../reports/report-state.js';
import type { CallbackPolicy } from '../webhooks/callback-url.js';
import { deliverWebhook, type DeliveryOutcome } from '../webhooks/deliver.js';
import { signedHeaders } from '../webhooks/signature.js';
import { appendDecision, timingNow } from './append-decision.js';
import { claimDue, withLease, type Claim } from './leases.js';

export interface WebhookStageOptions {
  store: EventStore;
  owner: string;
  leaseMs: number;
  policy: CallbackPolicy;
  /** The Standard Webhooks secret (`whsec_…`); asked for at the first delivery (a generated one is written only then). */
  secret: () => string;
  backoff: BackoffPolicy;
  timeoutMs: number;
  /** A fresh download link to the report's file, as its owner would get one (throws a QuireError when there is none). */
  downloadUrl(reportId: string, owner: string): Promise<{ url: string; expiresAt: Date }>;
  log: Logger;
  metrics?: { webhookDelivery(outcome: 'delivered' | 'failed_attempt' | 'given_up'): void };
}

/** What a receiver gets: Standard Webhooks' {type, timestamp, data}. */
export interface WebhookPayload {
  type: 'report.stored' | 'report.replicated' | 'report.failed';
  /** When the report reached the status. */
  timestamp: string;
  data: {
    reportId: string;
    status: PendingWebhook['status'];
    sha256: string | null;
    bytes: number | null;
    download: { url: string; expiresAt: string } | null;
    /** Why the report failed, or why no download link could be made; null otherwise. */
    error: { code: string; message: string } | null;
  };
}

/** Appends racing the report's own stages at the same version: re-decided on the fresh state this many times. */
const APPEND_TRIES = 5;

/**
 * Delivers completion webhooks, one report's queue head at a time: claims reports whose next
 * delivery is due (report_status.webhook_due_at, like every stage: the work is derived from the
 * projection, leased, and retried with backoff), POSTs the signed payload, and records the attempt
 * (WebhookDelivered / WebhookAttemptFailed, then WebhookFailed after the last). Delivery is at least
 * once: a crash between the answer and the append sends the same webhook-id again. An erased
 * report's deliveries are cancelled with its erasure (WebhookCancelled): none is attempted after it.
 */
export function webhookStage(options: WebhookStageOptions) {
  const { store, owner, leaseMs, log } = options;
  const stage = 'webhook';

  function claim(limit: number): Promise<Claim[]> {
    return claimDue(store.db, { stage, owner, limit, leaseMs, due: sql<boolean>`s.webhook_due_at IS NOT NULL`, retryAt: sql<Date | null>`s.webhook_due_at` });
  }

  async function process(claim: Claim, stop?: AbortSignal): Promise<void> {
    await withLease(store.db, { reportId: claim.reportId, stage, owner, leaseMs, log }, stop, (signal) => deliverOne(claim, signal));
  }

  async function payloadFor(state: ReportState, head: PendingWebhook, events: readonly RecordedEvent[]): Promise<WebhookPayload> {
    const reached = events.find((e) => e.streamVersion === head.version);
    let download: WebhookPayload['data']['download'] = null;
    let error: WebhookPayload['data']['error'] = null;
    if (head.status === 'FAILED') {
      error = { code: 'FAILED', message: reached?.type === 'ReportFailed' ? `${reached.data.stage}: ${reached.data.error}` : 'the report failed' };
    } else {
      try {
        const link = await options.downloadUrl(state.reportId, state.owner);
        download = { url: link.url, expiresAt: link.expiresAt.toISOString() };
      } catch (err) {
        if (!(err instanceof QuireError)) throw err;
        error = { code: err.code, message: err.message };
      }
    }
    return {
      type: `report.${head.status.toLowerCase() as 'stored' | 'replicated' | 'failed'}`,
      timestamp: (reached?.recordedAt ?? head.dueAt).toISOString(),
      data: { reportId: state.reportId, status: head.status, sha256: state.sha256, bytes: state.bytes, download, error },
    };
  }

  async function deliverOne(claim: Claim, signal: AbortSignal): Promise<void> {
    const events = await store.readStream(claim.streamId);
    const state = foldReport(events);
    const meta = { actor: `webhooks:${owner.split(':').slice(0, 2).join(':')}` };
    // Erased with deliveries still queued (erased before an erasure cancelled them): cancelled, not attempted.
    if (state?.status === 'ERASED') {
      await appendDecision(store, state, { type: 'CancelWebhooks' }, meta);
      return;
    }
    const head = state?.webhook?.pending[0];
    if (!state?.webhook || !head || head.dueAt.getTime() > Date.now()) return;
    let outcome: DeliveryOutcome;
    try {
      const body = JSON.stringify(await payloadFor(state, head, events));
      const headers = signedHeaders(options.secret(), head.deliveryId, Math.floor(Date.now() / 1000), body);
      outcome = await deliverWebhook(state.webhook.url, body, headers, { policy: options.policy, timeoutMs: options.timeoutMs, signal });
    } catch (err) {
      outcome = { delivered: false, httpStatus: null, error: err instanceof Error ? err.message : String(err), permanent: false };
    }
    // Stopping or lease lost: the attempt did not finish; whoever claims next makes it again.
    if (signal.aborted && !outcome.delivered) return;
    const command = { type: 'RecordWebhookAttempt' as const, deliveryId: head.deliveryId, outcome, timing: timingNow(options.backoff) };
    let current: ReportState | null = state;
    for (let i = 0; i < APPEND_TRIES && current?.webhook?.pending[0]?.deliveryId === head.deliveryId; i++) {
      const appended = await appendDecision(store, current, command, meta);
      if (appended) {
        // Counted from what was recorded, so a given-up delivery is the one decide gave up on.
        const gaveUp = appended.some((e) => e.type === 'WebhookFailed');
        options.metrics?.webhookDelivery(outcome.delivered ? 'delivered' : gaveUp ? 'given_up' : 'failed_attempt');
        break;
      }
      // The report moved on meanwhile (a copy recorded, a retry requested): decide again on what it is now.
      current = foldReport(await store.readStream(claim.streamId));
    }
    const level = outcome.delivered ? 'info' : 'warn';
    log[level]({ reportId: state.reportId, deliveryId: head.deliveryId, attempt: head.attempts + 1, ...outcome }, outcome.delivered ? 'webhook delivered' : 'webhook attempt failed');
  }

  return { claim, process };
}
