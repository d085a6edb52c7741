/**
 * subscribeSharingEvents: one execution per (event, document, variables, viewer), its result
 * handed to every subscriber with that key — and never to a subscriber whose viewer, variables or
 * document differ.
 */
import { GraphQLID, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString, parse, type ExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../src/actor.js';
import { subscribeSharingEvents } from '../../src/api/graphql/shared-event-results.js';

describe('subscribeSharingEvents', () => {
  let executions = 0;
  /** Every subscriber's stream yields the same event objects, in order. */
  const events = [{ n: 1 }, { n: 2 }];
  const Event = new GraphQLObjectType<{ n: number }, { actor: Actor }>({
    name: 'Event',
    fields: {
      n: { type: GraphQLString, resolve: (e) => (executions++, String(e.n)) },
      // What only its own viewer may see.
      viewer: { type: GraphQLString, resolve: (_e, _a, ctx) => `${ctx.actor.id}/${ctx.actor.role}` },
      echo: { type: GraphQLString, args: { tag: { type: GraphQLID } }, resolve: (_e, args: { tag?: string }) => args.tag ?? null },
    },
  });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        events: {
          type: new GraphQLNonNull(Event),
          args: { tag: { type: GraphQLID } },
          resolve: (e) => e,
          subscribe: async function* () {
            yield* events;
          },
        },
      },
    }),
  });
  const document = parse('subscription S($tag: ID) { events(tag: $tag) { n viewer echo(tag: $tag) } }');
  const otherDocument = parse('subscription S($tag: ID) { events(tag: $tag) { n viewer echo(tag: $tag) } }');

  const run = async (actor: Actor, variables: Record<string, unknown> = {}, doc = document) => {
    const stream = (await subscribeSharingEvents({ schema, document: doc, variableValues: variables, contextValue: { actor } })) as AsyncIterable<ExecutionResult>;
    const results: ExecutionResult[] = [];
    for await (const result of stream) results.push(result);
    return results;
  };

  it('shares the result between subscribers with the same key, and only between them', async () => {
    const alice: Actor = { id: 'alice', role: 'user' };
    const a1 = await run(alice, { tag: 'x' });
    expect(executions).toBe(2);
    const a2 = await run(alice, { tag: 'x' });
    // Same event objects, same document, variables and viewer: the very same results, nothing executed again.
    expect(executions).toBe(2);
    a2.forEach((r, i) => expect(r).toBe(a1[i]));
    expect(a1.map((r) => r.data)).toEqual([
      { events: { n: '1', viewer: 'alice/user', echo: 'x' } },
      { events: { n: '2', viewer: 'alice/user', echo: 'x' } },
    ]);

    // Another viewer, the same viewer with another role, other variables, another document: each its own.
    const bob = await run({ id: 'bob', role: 'user' }, { tag: 'x' });
    expect(bob.map((r) => (r.data as { events: { viewer: string } }).events.viewer)).toEqual(['bob/user', 'bob/user']);
    const aliceAdmin = await run({ id: 'alice', role: 'admin' }, { tag: 'x' });
    expect(aliceAdmin.map((r) => (r.data as { events: { viewer: string } }).events.viewer)).toEqual(['alice/admin', 'alice/admin']);
    const otherTag = await run(alice, { tag: 'y' });
    expect(otherTag.map((r) => (r.data as { events: { echo: string } }).events.echo)).toEqual(['y', 'y']);
    const otherDoc = await run(alice, { tag: 'x' }, otherDocument);
    for (const results of [bob, aliceAdmin, otherTag, otherDoc]) results.forEach((r, i) => expect(r).not.toBe(a1[i]));
    expect(executions).toBe(10);
  });

  it('answers invalid variables as graphql-tools does, before any stream', async () => {
    const result = (await subscribeSharingEvents({ schema, document, variableValues: { tag: { not: 'an id' } }, contextValue: { actor: { id: 'a', role: 'user' } } })) as ExecutionResult;
    expect(result.errors?.[0]?.message).toMatch(/tag/);
  });
});
