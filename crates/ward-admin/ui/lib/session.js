// Who is signed in (GET /api/v1/session), shared by the pages: the header shows the user,
// the login page appears when the API answers 401, and write buttons hide where the API
// is read-only (a replica, admin.read_only).
import { signal } from '../vendor/signals.js';
import { get, post, del, onUnauthorized } from './api.js';

/** null while unknown, { user, via, credentials, read_only, primary } once known, or
 * { signedOut: true } when the API wants a sign-in. */
export const session = signal(null);

onUnauthorized(() => {
  session.value = { signedOut: true };
});

/** Asks the server who this is. */
export async function refreshSession() {
  try {
    session.value = await get('/api/v1/session');
  } catch (e) {
    session.value = e.status === 401 ? { signedOut: true } : { error: e.message };
  }
}

/** Signs in with a user and password, or a token. */
export async function signIn(body) {
  await post('/api/v1/session', body);
  await refreshSession();
}

/** Signs out and shows the login page. */
export async function signOut() {
  await del('/api/v1/session');
  session.value = { signedOut: true };
}

/** Whether writes are refused here (the UI then offers none). */
export const readOnly = () => Boolean(session.value && session.value.read_only);
