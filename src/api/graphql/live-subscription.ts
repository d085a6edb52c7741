import { GraphQLError } from 'graphql';
import { UnauthenticatedError } from '../../auth/user-tokens.js';
import { listenerBatches } from '../../events/event-hub.js';
import type { GraphQLContext } from './context.js';

/** What a subscription's body gets: everything it waits on ends when the subscription does. */
export interface Live {
  /** Aborted when the subscription ends, for whatever reason. */
  readonly signal: AbortSignal;
  /**
   * Batches of what `register`'s push receives; registered now, unregistered when the subscription
   * ends. A batch is everything pushed before the next macrotask, or (`untilNextMacrotask: false`,
   * for sources that push whole changes) before the body resumes (listenerBatches).
   */
  listen<T>(register: (push: (value: T) => void) => () => void, options?: { untilNextMacrotask?: boolean }): AsyncIterable<T[]>;
  /** Resolves after `ms`, or at once when the subscription ends. */
  sleep(ms: number): Promise<void>;
}

/** Counts open live subscriptions in this process (tests assert it returns to zero). */
let open = 0;
export function openLiveSubscriptions(): number {
  return open;
}

const DONE = Symbol('done');
/** setTimeout's limit (~24.8 days): a longer wait is taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Builds every live subscription. The body runs on the first `next()` (nothing is registered for
 * a subscription that is never read); everything it registers is tied to one AbortSignal, aborted
 * whenever the subscription ends: the client unsubscribes (`return()` resolves at once, even while
 * the body waits for an event that will never come), the body throws or finishes, the token
 * expires or is revoked. The last two end it with an UNAUTHENTICATED error the client sees.
 */
export function liveSubscription<T>(ctx: GraphQLContext, body: (live: Live) => AsyncIterable<T>): AsyncIterableIterator<T> {
  const controller = new AbortController();
  const { signal } = controller;
  let source: AsyncIterator<T> | undefined;
  let endError: Error | undefined;
  let stopWatching = () => {};
  let counted = false;

  const live: Live = {
    signal,
    listen: (register, options) => listenerBatches(register, signal, options),
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done, { once: true });
      }),
  };

  // What the pending next() waits on settles with DONE when the subscription ends: one abort
  // listener for the subscription's life, not one added and removed per event (paid per delivery
  // at fan-out), nor a Promise.race against one long-lived promise (that would keep a reaction per
  // event until the end).
  const waiting = new Set<(value: typeof DONE) => void>();
  signal.addEventListener('abort', () => waiting.forEach((settle) => settle(DONE)), { once: true });
  /** `pending`, or DONE as soon as the subscription ends (what `pending` becomes then is of no interest). */
  const untilEnded = <R>(pending: Promise<R>): Promise<R | typeof DONE> =>
    new Promise((resolve, reject) => {
      waiting.add(resolve);
      pending.then(
        (value) => {
          waiting.delete(resolve);
          resolve(value);
        },
        (err) => {
          waiting.delete(resolve);
          reject(err);
        },
      );
    });

  const end = (error?: Error) => {
    if (signal.aborted) return;
    endError = error;
    if (counted) open--;
    stopWatching();
    controller.abort();
    // The body's finally runs now if it is paused at a yield, else once its current await settles
    // (every wait it has through `live` settles on abort).
    void source?.return?.()?.catch(() => {});
  };

  const unauthenticated = (message: string) =>
    new GraphQLError(message, { originalError: new UnauthenticatedError(message), extensions: { code: 'UNAUTHENTICATED' } });

  /** Ends the subscription at the token's expiry and when the token is revoked. */
  const watchToken = () => {
    const { credential } = ctx;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      const left = credential.expiresAtMs - Date.now();
      if (left <= 0) return end(unauthenticated('the bearer token has expired'));
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    const checkRevoked = () => {
      if (ctx.runtime.userTokens.isRevoked(credential)) end(unauthenticated('the bearer token has been revoked'));
    };
    const unwatch = ctx.runtime.userTokens.onRevocation(checkRevoked);
    // Assigned before the first check: a check that ends the subscription must undo the watching.
    stopWatching = () => {
      clearTimeout(timer);
      unwatch();
    };
    checkRevoked(); // revoked between the token's verification and now
    if (!signal.aborted) arm();
  };

  const finish = (): IteratorResult<T> => {
    const error = endError;
    endError = undefined;
    if (error) throw error;
    return { done: true, value: undefined };
  };

  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (!source) {
        if (signal.aborted) return finish();
        open++;
        counted = true;
        watchToken();
        if (signal.aborted) return finish();
        source = body(live)[Symbol.asyncIterator]();
      }
      if (signal.aborted) return finish();
      let result: IteratorResult<T> | typeof DONE;
      try {
        result = await untilEnded(source.next());
      } catch (err) {
        end();
        throw err;
      }
      if (result === DONE || signal.aborted) return finish();
      if (result.done) end();
      return result;
    },
    async return() {
      end();
      endError = undefined;
      return { done: true, value: undefined };
    },
    async throw(err?: unknown) {
      end();
      throw err;
    },
  };
}
