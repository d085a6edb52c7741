// The token's side of the page: why a token was refused, signing out (by hand or on a 401 from
// anywhere), and how every panel reports a failed request.
import { $, input, button, show } from './dom';
import { UiMeDocument } from './gql/graphql';
import { closeSocket } from './connection';
import { call, state } from './state';
import { AuthError } from './transport';

/** Where the token survives a reload (this tab only). */
export const TOKEN_KEY = 'quire.token';

export function describeAuthFailure(message: string): string {
  if (/expired/i.test(message)) {
    return 'Your token has expired. Get a new one (npm start prints a dev token; npx quire token --sub <you> makes one) and paste it above.';
  }
  if (!state.token) return 'A bearer token is required: paste one above.';
  return `This token was not accepted (${message}). Check that you copied all of it, and that it was made for this deployment.`;
}

/** A 401 anywhere signs the page out, with the reason next to the token field. */
function handleAuthError(err: AuthError): void {
  const text = describeAuthFailure(err.message);
  signOut(false);
  show('auth-message', text);
  input('token').focus();
}

/** A failed request: sign out on a refused token, else the error in the panel's message. */
export function handleFailure(err: unknown, messageId: string): void {
  if (err instanceof AuthError) return handleAuthError(err);
  show(messageId, err instanceof Error ? err.message : String(err));
}

/** After the socket refused the token: ask over HTTP for the exact reason, then sign out. */
export async function recheckToken(): Promise<void> {
  try {
    await call(UiMeDocument, {});
    $('status').textContent = 'Live updates were refused by the server.';
  } catch (err) {
    handleFailure(err, 'auth-message');
  }
}

export function signOut(clearField = true): void {
  closeSocket();
  state.token = null;
  state.viewer = null;
  sessionStorage.removeItem(TOKEN_KEY);
  if (clearField) input('token').value = '';
  $('viewer').textContent = '';
  $('sign-out').hidden = true;
  $<HTMLFieldSetElement>('request-fields').disabled = true;
  button('refresh-list').disabled = true;
  $('more').hidden = true;
  $('reports-table').hidden = true;
  $('reports-body').replaceChildren();
  $('report').hidden = true;
  $('audit').hidden = true;
  $('events-body').replaceChildren();
  $('digest').replaceChildren();
  state.reportId = null;
  state.report = null;
}
