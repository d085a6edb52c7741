import type { RateLimiterMemory } from 'rate-limiter-flexible';
import type { Actor } from '../../actor.js';
import type { EventHub } from '../../events/event-hub.js';
import type { Runtime } from '../../runtime.js';

/** Per operation: who asks, and the process's services. DataLoaders are attached by Pothos. */
export interface GraphQLContext {
  runtime: Runtime;
  hub: EventHub;
  actor: Actor;
  requestId: string;
  /** Per-viewer limit on requestReport (an in-memory budget per instance). */
  requestLimiter: RateLimiterMemory;
}
