import { QuireError } from './errors.js';

/** Who is asking: every command and query checks this. */
export type Role = 'user' | 'auditor' | 'admin';

export interface Actor {
  /** The user id (JWT `sub`), or a service name such as `worker:iad`. */
  id: string;
  role: Role;
}

/** The actor's role does not allow what it asked (the API's scopes and the commands both say so with this). */
export class ForbiddenError extends QuireError {
  readonly code = 'FORBIDDEN';
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

/** Auditors read everything and change nothing. */
export function mayChange(actor: Actor): boolean {
  return actor.role !== 'auditor';
}

/** Refuses an auditor's command: `what` completes "auditors read; they cannot …". */
export function assertMayChange(actor: Actor, what: string): void {
  if (!mayChange(actor)) throw new ForbiddenError(`auditors read; they cannot ${what}`);
}

/** Refuses whoever is not an admin: `what` completes "only admins can …". */
export function assertAdmin(actor: Actor, what: string): void {
  if (actor.role !== 'admin') throw new ForbiddenError(`only admins can ${what}`);
}
