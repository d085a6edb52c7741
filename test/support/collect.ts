import type { RecordedEvent } from '../../src/events/recorded-event.js';

/** Drains a subscription in the background into `events` until stopped. */
export function collect(iterator: AsyncGenerator<RecordedEvent>, controller: AbortController) {
  const events: RecordedEvent[] = [];
  const done = (async () => {
    for await (const event of iterator) events.push(event);
  })();
  return {
    events,
    async stop() {
      controller.abort();
      await done;
    },
  };
}

/** Polls `condition` until it holds or `timeoutMs` passes. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
