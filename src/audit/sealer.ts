import type { Config } from '../config.js';
import type { Runtime } from '../runtime.js';
import { SealPublisher } from './published-seals.js';
import { sealPending } from './seal.js';
import { Poller } from '../events/poller.js';

export interface SealerOptions {
  /** Seal as soon as this many events are unsealed (and never more in one seal). */
  everyEvents: number;
  /** …or when the oldest unsealed event is this old, whichever comes first. */
  everySeconds: number;
  /** Look for work this often even without an event notification. */
  pollMs: number;
  enabled: boolean;
}

/** The sealer's settings from the configuration (SEALER_ENABLED, SEAL_EVERY_EVENTS, SEAL_EVERY_SECONDS). */
export function sealerOptions(config: Config): SealerOptions {
  const { enabled, everyEvents, everySeconds } = config.sealer;
  return { enabled, everyEvents, everySeconds, pollMs: Math.min(1000, everySeconds * 1000) };
}

export interface Sealer {
  /** Seals whatever is due now (tests, shutdown). */
  tick(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The sealer loop of one instance: wakes on every event notification and every `pollMs`, and
 * appends seals (seal.ts) every `everyEvents` events or `everySeconds`, whichever first. Any number
 * of instances may run it: a transaction-scoped advisory lock lets one seal at a time, and the
 * others find nothing left to do.
 */
export function startSealer(runtime: Runtime, options: Partial<SealerOptions> = {}): Sealer {
  const o = { ...sealerOptions(runtime.config), ...options };
  const { db, notifier } = runtime.database;
  const log = runtime.log.child({ component: 'sealer' });
  let running = o.enabled;
  const poller = new Poller(running ? notifier : null);
  let current: Promise<number> | undefined;
  // Digests go to the object store after each seal; a failed publish (store down) is retried on
  // the next tick, and the first tick publishes whatever an earlier process left unpublished.
  const publisher = runtime.config.seals.publish ? new SealPublisher(db, runtime.objectStore, log) : undefined;
  let publishDue = true;
  const publish = async () => {
    if (!publisher || !publishDue) return;
    try {
      const { published } = await publisher.publishPending();
      publishDue = false;
      if (published.length > 0) log.debug({ through: published.at(-1) }, 'seal digests published');
    } catch (err) {
      log.warn({ err }, 'publishing seal digests failed; will retry');
    }
  };

  const tick = (): Promise<number> => {
    // One pass at a time in this process.
    current ??= sealPending(db, { signer: runtime.sealKeys.signer, maxEvents: o.everyEvents, minAgeMs: o.everySeconds * 1000 })
      .then(async (seals) => {
        const last = seals.at(-1);
        if (last) log.debug({ seals: seals.length, seq: last.seq, total: last.total }, 'log sealed');
        if (seals.length > 0) publishDue = true;
        await publish();
        return seals.length;
      })
      .finally(() => (current = undefined));
    return current;
  };

  const loop = (async () => {
    while (running) {
      poller.reset();
      try {
        await tick();
      } catch (err) {
        log.warn({ err }, 'sealing failed; will retry');
      }
      if (!running) break;
      // Woken by events meanwhile: look again soon, but not once per append under load.
      if (poller.woken) await poller.sleep(Math.min(200, o.pollMs), { wakeable: false });
      else await poller.sleep(o.pollMs);
    }
  })();

  return {
    tick,
    async stop() {
      running = false;
      poller.close();
      poller.wake();
      await loop;
      await current?.catch(() => undefined);
    },
  };
}
