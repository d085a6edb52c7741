import type { Checkpoint } from '../../src/events/checkpoint.js';
import type { InlineProjection } from '../../src/events/inline-projection.js';
import type { RecordedEvent } from '../../src/events/recorded-event.js';

/**
 * A projection that, for one chosen stream, keeps the append's transaction open after its INSERT
 * until released: the event has taken its global_position but is not committed.
 */
export function holdingProjection() {
  let held: { streamId: string; entered: () => void; gate: Promise<void> } | undefined;
  const projection: InlineProjection = {
    name: 'holding',
    async apply(_trx, events) {
      if (!held || !events.some((e) => e.streamId === held?.streamId)) return;
      held.entered();
      await held.gate;
    },
  };
  return {
    projection,
    hold(streamId: string) {
      let entered!: () => void;
      let release!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      held = { streamId, entered, gate: new Promise<void>((r) => (release = r)) };
      return { inside, release: () => release() };
    },
  };
}

/** Everything after `after` in the safe order, page by page through `readPage`. */
export async function readEverything(
  readPage: (after: Checkpoint) => Promise<{ events: RecordedEvent[]; checkpoint: Checkpoint }>,
  after: Checkpoint,
): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  let checkpoint = after;
  for (;;) {
    const page = await readPage(checkpoint);
    if (page.events.length === 0) return out;
    out.push(...page.events);
    checkpoint = page.checkpoint;
  }
}
