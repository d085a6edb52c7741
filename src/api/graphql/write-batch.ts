import type { Socket } from 'node:net';

/**
 * Holds the frames written to many sockets during one turn of the event loop and writes them
 * together at its end, one socket after the other.
 *
 * Why: a fan-out (one event, thousands of subscribers) otherwise interleaves each socket's write
 * with the next subscriber's JavaScript, so every frame lands on a receiver that has gone back to
 * sleep and each write pays for waking it (on loopback, and across vCPUs on a VM, that wake-up is
 * most of the syscall). Written back to back, the same frames cost the kernel about half as much
 * (bench:subscriptions, issue 18). Nothing is held longer than the current turn: the sockets are
 * uncorked by a setImmediate scheduled when the first one is held.
 */
export class WriteBatch {
  private held = new Set<Socket>();
  private scheduled = false;

  /** Corks `socket` until the end of this turn (once per turn, however many frames it gets). */
  hold(socket: Socket): void {
    if (socket.destroyed || this.held.has(socket)) return;
    socket.cork();
    this.held.add(socket);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Sockets held now (tests). */
  get size(): number {
    return this.held.size;
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const sockets = this.held;
    this.held = new Set();
    for (const socket of sockets) socket.uncork();
  };
}
