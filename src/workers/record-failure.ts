import type { AppendMetadata } from '../events/append.js';
import { WrongExpectedVersionError } from '../events/errors.js';
import type { EventStore } from '../events/event-store.js';
import type { EventData } from '../events/types.js';

/**
 * Appends ReportFailed at the version the worker read. If the report moved on meanwhile (another
 * worker finished it, a retry was requested), the failure is stale and nothing is written.
 */
export async function recordFailure(
  store: EventStore,
  streamId: string,
  version: number,
  failure: { stage: EventData<'ReportFailed'>['stage']; error: unknown; attempt: number; retryAt: Date | null },
  meta: AppendMetadata,
): Promise<void> {
  const message = failure.error instanceof Error ? failure.error.message : String(failure.error);
  try {
    await store.append(
      streamId,
      version,
      [
        {
          type: 'ReportFailed',
          data: { stage: failure.stage, error: message.slice(0, 4000), attempt: failure.attempt, retryAt: failure.retryAt?.toISOString() ?? null },
        },
      ],
      meta,
    );
  } catch (err) {
    if (!(err instanceof WrongExpectedVersionError)) throw err;
  }
}
