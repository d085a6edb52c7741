import { z } from 'zod';
import { ConfigError } from '../config.js';
import type { Runtime } from '../runtime.js';
import { DEFAULT_SEAL_EVENTS, sealPending } from './seal.js';

export interface SealerOptions {
  /** Seal as soon as this many events are unsealed (and never more in one seal). */
  everyEvents: number;
  /** …or when the oldest unsealed event is this old, whichever comes first. */
  everySeconds: number;
  /** Look for work this often even without an event notification. */
  pollMs: number;
  enabled: boolean;
}

const Env = z.object({
  SEALER_ENABLED: z.enum(['true', 'false', '1', '0']).default('true').transform((v) => v === 'true' || v === '1'),
  SEAL_EVERY_EVENTS: z.coerce.number().int().min(1).max(1_000_000).default(DEFAULT_SEAL_EVENTS),
  SEAL_EVERY_SECONDS: z.coerce.number().min(0.01).max(86_400).default(60),
});

/** SEALER_ENABLED, SEAL_EVERY_EVENTS, SEAL_EVERY_SECONDS, validated like the rest of the configuration. */
export function sealerOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SealerOptions {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const { SEALER_ENABLED, SEAL_EVERY_EVENTS, SEAL_EVERY_SECONDS } = parsed.data;
  return {
    enabled: SEALER_ENABLED,
    everyEvents: SEAL_EVERY_EVENTS,
    everySeconds: SEAL_EVERY_SECONDS,
    pollMs: Math.min(1000, SEAL_EVERY_SECONDS * 1000),
  };
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
  const o = { ...sealerOptionsFromEnv(), ...options };
  const { db, notifier } = runtime.database;
  const log = runtime.log.child({ component: 'sealer' });
  let running = o.enabled;
  let wake: (() => void) | undefined;
  let woken = false;
  let current: Promise<number> | undefined;

  const tick = (): Promise<number> => {
    // One pass at a time in this process.
    current ??= sealPending(db, { maxEvents: o.everyEvents, minAgeMs: o.everySeconds * 1000 })
      .then((seals) => {
        const last = seals.at(-1);
        if (last) log.debug({ seals: seals.length, seq: last.seq, total: last.total }, 'log sealed');
        return seals.length;
      })
      .finally(() => (current = undefined));
    return current;
  };

  const unlisten = running
    ? notifier.on('quire_events', () => {
        woken = true;
        wake?.();
      })
    : () => {};

  const loop = (async () => {
    while (running) {
      woken = false;
      try {
        await tick();
      } catch (err) {
        log.warn({ err }, 'sealing failed; will retry');
      }
      if (!running) break;
      // Woken by events meanwhile: look again soon, but not once per append under load.
      const delay = woken ? Math.min(200, o.pollMs) : o.pollMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        if (woken) return;
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  })();

  return {
    tick,
    async stop() {
      running = false;
      unlisten();
      wake?.();
      await loop;
      await current?.catch(() => undefined);
    },
  };
}
