// The page's graphql-ws socket, the indicator that says how it is, and the live subscriptions it
// carries (stopped together when it closes); also the object store's state from /readyz.
import type { Client } from 'graphql-ws';
import { $ } from './dom';
import { state } from './state';
import { isFatalClose, openSocket } from './transport';

function connection(text: string, kind: string): void {
  const node = $('connection');
  node.textContent = text;
  node.dataset.state = kind;
}

/** After sign-in: the socket opens with the first subscription (lazy), so until then say what is true. */
export function markSignedIn(): void {
  if ($('connection').dataset.state === 'idle') connection('Signed in', 'idle');
}

export function startSocket(): Client {
  closeSocket();
  // Events of a client that was replaced (sign-out, new token) must not touch the indicator.
  const client: Client = openSocket(state.token ?? '', {
    connecting: (isRetry) => {
      if (state.ws === client) connection(isRetry ? 'Reconnecting…' : 'Connecting…', 'connecting');
    },
    connected: () => {
      if (state.ws === client) connection('Live', 'live');
    },
    closed: (event) => {
      if (state.ws !== client) return;
      if (isFatalClose(event)) connection('Disconnected: the token was refused', 'down');
      else if (state.stopStatus || state.stopList) connection('Connection lost, reconnecting…', 'connecting');
      else connection('Idle', 'idle');
    },
  });
  state.ws = client;
  return client;
}

export function closeSocket(): void {
  stopFollowing();
  state.stopList?.();
  state.stopList = null;
  void state.ws?.dispose();
  state.ws = null;
  connection('Not connected', 'idle');
}

export const socket = (): Client => state.ws ?? startSocket();

/** Ends the followed report's live status and progress. */
export function stopFollowing(): void {
  state.stopStatus?.();
  state.stopStatus = null;
  stopProgress();
}

export function stopProgress(): void {
  state.stopProgress?.();
  state.stopProgress = null;
  $('progress').hidden = true;
}

/**
 * The object store's state, from /readyz (no token needed): quire serves on without it, so the
 * page says when downloads come from volumes and copies wait.
 */
export async function showObjectStore(): Promise<void> {
  const shown = $('object-store');
  try {
    const res = await fetch('/readyz', { cache: 'no-store' });
    const body = (await res.json()) as { objectStore?: { kind: string; bucket: string; state: string; detail?: string } };
    const store = body.objectStore;
    if (!store) return;
    const name = store.kind === 's3' ? `S3 bucket ${store.bucket}` : 'disk store';
    shown.textContent = store.state === 'up' ? `Object store: ${name}, answering` : `Object store: ${name} not answering — downloads come from volumes, copies wait`;
    shown.dataset.state = store.state === 'up' ? 'live' : 'down';
    if (store.detail) shown.title = store.detail;
    shown.hidden = false;
  } catch {
    shown.hidden = true;
  }
}
