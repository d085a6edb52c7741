// quire's progress page: sign in with a bearer token, request a report (the form is generated from
// the template's params schema), follow its life live over graphql-ws (reportStatus +
// reportProgress), download it, retry it when it failed; auditors also read the event log and the
// current digest. Built by Vite (vite.config.ts) into dist/ui, which quire serves.
//
// This file signs in (which starts every panel) and wires the page's controls. The panels:
// connection.ts and auth.ts (socket, token), request-form.ts, report-timeline.ts, report-list.ts,
// auditor-log.ts; their shared state is in state.ts.
import './style.css';
import { ANY_CASE_UUID } from '../shared/report-input';
import { $, button, el, input, show, value } from './dom';
import { UiMeDocument } from './gql/graphql';
import { describeAuthFailure, signOut, TOKEN_KEY } from './auth';
import { loadAudit } from './auditor-log';
import { markSignedIn, showObjectStore, startSocket } from './connection';
import { followList, loadReports } from './report-list';
import { deleteFollowed, download, eraseFollowed, follow, retry } from './report-timeline';
import { loadTemplates, submitRequest, syncTemplate } from './request-form';
import { call, isStaff, state } from './state';
import { AuthError } from './transport';

async function signIn(token: string): Promise<void> {
  state.token = token;
  show('auth-message', '');
  button('sign-in').disabled = true;
  try {
    const { me } = await call(UiMeDocument, {});
    state.viewer = me;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('viewer').textContent = `Signed in as ${me.id} (${me.role.toLowerCase()}).`;
    $('sign-out').hidden = false;
    const canRequest = me.role === 'USER' || me.role === 'ADMIN';
    $<HTMLFieldSetElement>('request-fields').disabled = !canRequest;
    show('request-message', canRequest ? '' : 'Your role can read reports but not request them.', 'info');
    button('refresh-list').disabled = false;
    $('list-heading').textContent = me.role === 'USER' ? 'Your reports' : 'All reports';
    startSocket();
    markSignedIn();
    void loadTemplates();
    // Live first, then the first page: a change in between arrives by the feed, not lost.
    followList();
    void loadReports(true);
    $('audit').hidden = !isStaff();
    if (isStaff()) void loadAudit(true);
    const fromHash = location.hash.slice(1);
    if (ANY_CASE_UUID.test(fromHash)) follow(fromHash);
  } catch (err) {
    show('auth-message', err instanceof AuthError ? describeAuthFailure(err.message) : err instanceof Error ? err.message : String(err));
    state.token = null;
    state.viewer = null;
    sessionStorage.removeItem(TOKEN_KEY);
    input('token').focus();
  } finally {
    button('sign-in').disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Wiring

function start(): void {
  $('auth-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = value('token').replace(/^bearer\s+/i, '');
    if (!token) {
      show('auth-message', 'Paste a bearer token first.');
      input('token').focus();
      return;
    }
    void signIn(token);
  });
  $('sign-out').addEventListener('click', () => {
    signOut();
    show('auth-message', 'Token forgotten.', 'info');
  });
  $('template').addEventListener('change', syncTemplate);
  $<HTMLFormElement>('request-form').addEventListener('submit', (e) => void submitRequest(e));
  $('download').addEventListener('click', () => void download());
  $('retry').addEventListener('click', () => void retry());
  $('delete').addEventListener('click', () => void deleteFollowed());
  $('erase').addEventListener('click', () => void eraseFollowed());
  $('refresh-list').addEventListener('click', () => void loadReports(true));
  $('more').addEventListener('click', () => void loadReports(false));
  $('refresh-audit').addEventListener('click', () => void loadAudit(true));
  $('more-events').addEventListener('click', () => void loadAudit(false));
  window.addEventListener('hashchange', () => {
    const id = location.hash.slice(1);
    if (state.token && ANY_CASE_UUID.test(id) && id !== state.reportId) follow(id);
  });
  document.body.dataset.ready = 'true';

  // In development, on loopback only, quire puts the dev token `npm start` printed into the page.
  const devToken = document.querySelector<HTMLMetaElement>('meta[name="quire-dev-token"]')?.content;
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    input('token').value = saved;
    void signIn(saved);
  } else if (devToken) {
    // Filled in by quire for a browser on its own machine: connect at once, nothing to press.
    input('token').value = devToken;
    $('token-hint').append(' ', el('strong', {}, 'Signed in with the dev token of this development server.'));
    void signIn(devToken);
  }
  void showObjectStore();
}

start();
