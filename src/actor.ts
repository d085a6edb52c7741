/** Who is asking: every command and query checks this. */
export type Role = 'user' | 'auditor' | 'admin';

export interface Actor {
  /** The user id (JWT `sub`), or a service name such as `worker:iad`. */
  id: string;
  role: Role;
}

/** Auditors and admins read every report; a user only their own. */
export function canRead(actor: Actor, owner: string): boolean {
  return actor.role === 'auditor' || actor.role === 'admin' || actor.id === owner;
}
