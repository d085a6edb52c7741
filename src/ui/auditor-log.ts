// Auditors and admins: the global event log with hashes (relay pagination), and the current digest.
import { $, dateTimeFormat, el, fact, hashCode, show, timeEl } from './dom';
import { UiEventsDocument, UiLogDigestDocument } from './gql/graphql';
import { handleFailure } from './auth';
import { call, isStaff, state } from './state';

const EVENTS_PAGE_SIZE = 25;

export async function loadAudit(reset: boolean): Promise<void> {
  if (!state.token || !isStaff()) return;
  if (reset) {
    state.eventsCursor = null;
    void loadDigest();
  }
  try {
    const { events } = await call(UiEventsDocument, { first: EVENTS_PAGE_SIZE, after: state.eventsCursor });
    const body = $('events-body');
    if (reset) body.replaceChildren();
    for (const { node: e } of events.edges) {
      const tr = el(
        'tr',
        {},
        el('td', {}, String(e.globalPosition)),
        el('td', {}, e.type),
        el('td', {}, el('code', {}, e.streamId)),
        el('td', {}, String(e.streamVersion)),
        el('td', {}, timeEl(e.recordedAt, dateTimeFormat)),
        el('td', {}, hashCode(e.hash)),
        el('td', {}, hashCode(e.prevHash)),
      );
      tr.dataset.position = String(e.globalPosition);
      body.append(tr);
    }
    state.eventsCursor = events.pageInfo.endCursor ?? state.eventsCursor;
    $('more-events').hidden = !events.pageInfo.hasNextPage;
    $('events-table').hidden = body.children.length === 0;
    show('events-message', body.children.length === 0 ? 'The log is empty.' : `${body.children.length} event${body.children.length === 1 ? '' : 's'} shown.`, 'info');
  } catch (err) {
    handleFailure(err, 'events-message');
  }
}

async function loadDigest(): Promise<void> {
  try {
    const { logDigest: d } = await call(UiLogDigestDocument, {});
    const dl = $('digest');
    dl.replaceChildren();
    if (!d) return show('digest-message', 'No seal yet: the sealer seals the log every few events or seconds.', 'info');
    show('digest-message', '', 'info');
    fact(dl, 'Seal hash', hashCode(d.sealHash));
    fact(dl, 'Seal', `#${d.seq}, ${d.eventCount.toLocaleString()} events, through position ${d.position}`);
    fact(dl, 'Merkle root', hashCode(d.merkleRoot));
    fact(dl, 'Checkpoint', el('code', {}, d.checkpoint));
    fact(dl, 'Sealed', timeEl(d.sealedAt, dateTimeFormat));
  } catch (err) {
    handleFailure(err, 'digest-message');
  }
}
