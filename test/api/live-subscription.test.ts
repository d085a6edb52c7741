import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { liveSubscription, openLiveSubscriptions, type Live } from '../../src/api/graphql/live-subscription.js';
import type { GraphQLContext } from '../../src/api/graphql/context.js';
import { UserTokens } from '../../src/auth/user-tokens.js';
import { waitFor } from '../support/collect.js';

/** The helper reads only the credential and the token service from the context. */
function context(expiresAtMs = Date.now() + 3_600_000): GraphQLContext {
  const userTokens = new UserTokens({ key: new Uint8Array(32) });
  return { runtime: { userTokens }, credential: { actor: { id: 'alice', role: 'user' }, expiresAtMs } } as unknown as GraphQLContext;
}

/** A source of pushes, counting its registered listeners. */
function source() {
  const listeners = new Set<(n: number) => void>();
  return {
    listeners,
    register: (push: (n: number) => void) => {
      listeners.add(push);
      return () => listeners.delete(push);
    },
    push: (n: number) => listeners.forEach((l) => l(n)),
  };
}

describe('liveSubscription', () => {
  it('registers nothing until read; return() resolves at once while the body waits for a push that never comes', async () => {
    const s = source();
    let finallyRan = false;
    const sub = liveSubscription(context(), async function* (live) {
      try {
        for await (const batch of live.listen(s.register)) yield batch;
      } finally {
        finallyRan = true;
      }
    });
    expect(s.listeners.size).toBe(0);
    const pending = sub.next();
    await waitFor(() => s.listeners.size === 1, 5_000, 'the body to listen');
    expect(openLiveSubscriptions()).toBe(1);
    await expect(sub.return!()).resolves.toEqual({ done: true, value: undefined });
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
    expect(s.listeners.size).toBe(0);
    await waitFor(() => finallyRan, 5_000, 'the body’s finally');
    expect(openLiveSubscriptions()).toBe(0);
    await expect(sub.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('a body that throws before its first yield leaves no listener', async () => {
    const s = source();
    const sub = liveSubscription(context(), async function* (live) {
      live.listen(s.register);
      throw new Error('not found');
      yield 1; // eslint-disable-line no-unreachable
    });
    await expect(sub.next()).rejects.toThrow('not found');
    expect(s.listeners.size).toBe(0);
    expect(openLiveSubscriptions()).toBe(0);
  });

  it('a subscription returned before it was ever read never runs its body', async () => {
    let ran = false;
    const sub = liveSubscription(context(), async function* () {
      ran = true;
      yield 1;
    });
    await sub.return!();
    await expect(sub.next()).resolves.toMatchObject({ done: true });
    expect(ran).toBe(false);
    expect(openLiveSubscriptions()).toBe(0);
  });

  it('delivers pushes in batches; a long stream does not pile up abort listeners', async () => {
    const s = source();
    let signal: AbortSignal | undefined;
    const sub = liveSubscription(context(), async function* (live: Live) {
      signal = live.signal;
      yield* live.listen(s.register);
    });
    const first = sub.next();
    await waitFor(() => s.listeners.size === 1, 5_000, 'the body to listen');
    let received = 0;
    s.push(0);
    received += (await first).value!.length;
    for (let i = 1; i < 2_000; i++) {
      const next = sub.next();
      s.push(i);
      received += (await next).value!.length;
    }
    expect(received).toBe(2_000);
    // One for listenerBatches' unregistering, at most one for the pending wait.
    expect(getEventListeners(signal!, 'abort').length).toBeLessThanOrEqual(2);
    await sub.return!();
    expect(s.listeners.size).toBe(0);
  });

  it('ends with UNAUTHENTICATED at the token’s expiry, also when it expired before the first read', async () => {
    const s = source();
    const sub = liveSubscription(context(Date.now() + 300), async function* (live) {
      yield* live.listen(s.register);
    });
    const pending = sub.next();
    await waitFor(() => s.listeners.size === 1, 5_000, 'the body to listen');
    await expect(pending).rejects.toMatchObject({ message: 'the bearer token has expired', extensions: { code: 'UNAUTHENTICATED' } });
    expect(s.listeners.size).toBe(0);
    await expect(sub.next()).resolves.toMatchObject({ done: true });

    let ran = false;
    const expired = liveSubscription(context(Date.now() - 1), async function* () {
      ran = true;
      yield 1;
    });
    await expect(expired.next()).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    expect(ran).toBe(false);
    expect(openLiveSubscriptions()).toBe(0);
  });
});
