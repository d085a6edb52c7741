import type { Actor } from '../../actor.js';
import type { Credential } from '../../auth/user-tokens.js';
import type { ReadScope } from '../../database/read-router.js';
import type { EventHub } from '../../events/event-hub.js';
import type { Runtime } from '../../runtime.js';
import type { Limiter } from '../shared-rate-limiter.js';

/** Per operation: who asks, and the process's services. DataLoaders are attached by Pothos. */
export interface GraphQLContext {
  runtime: Runtime;
  hub: EventHub;
  actor: Actor;
  /** The verified token the actor comes from: live subscriptions end at its expiry or revocation. */
  credential: Credential;
  requestId: string;
  /** Per-viewer limit on requestReport, shared by every instance (counted in the database). */
  requestLimiter: Limiter;
  /** Where this operation's reads that may lag go (read replica or primary, read-your-writes). */
  reads: ReadScope;
}
