// Sign in: a user of admin.users_file and its password, or the admin token. The answer
// is an HttpOnly session cookie the page never sees.
import { useState } from '../vendor/hooks.js';
import { html } from '../lib/html.js';
import { signIn } from '../lib/session.js';

export function Login() {
  const [useToken, setUseToken] = useState(false);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body = useToken
      ? { token: form.get('token') }
      : { user: form.get('user'), password: form.get('password') };
    setBusy(true);
    try {
      await signIn(body);
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="login">
    <h1>Sign in to Ward</h1>
    <form onSubmit=${submit}>
      ${useToken
        ? html`<label>Token <input name="token" type="password" required autocomplete="off" /></label>`
        : html`<label>User <input name="user" required autocomplete="username" /></label>
            <label>Password <input name="password" type="password" required autocomplete="current-password" /></label>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" disabled=${busy}>Sign in</button>
      <button type="button" class="link" onClick=${() => setUseToken(!useToken)}>
        ${useToken ? 'Sign in with a user' : 'Sign in with the token'}</button>
    </form>
  </section>`;
}
