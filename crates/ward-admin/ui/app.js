// The admin UI: a header with the pages, the theme switch, and the current page.
import { render } from './vendor/preact.js';
import { useEffect } from './vendor/hooks.js';
import { signal } from './vendor/signals.js';
import { html } from './lib/html.js';
import { route, href } from './lib/route.js';
import { get } from './lib/api.js';
import { Dashboard } from './pages/dashboard.js';
import { Check } from './pages/check.js';
import { Log } from './pages/log.js';
import { Policies } from './pages/policies.js';
import { Lists } from './pages/lists.js';
import { Login } from './pages/login.js';
import { Rules } from './pages/rules.js';
import { session, refreshSession, signOut } from './lib/session.js';

const PAGES = [
  { id: 'dashboard', title: 'Dashboard', view: Dashboard },
  { id: 'log', title: 'Query log', view: Log },
  { id: 'policies', title: 'Policies', view: Policies },
  { id: 'lists', title: 'Lists', view: Lists },
  { id: 'rules', title: 'Rules', view: Rules },
  { id: 'check', title: 'Check a name', view: Check },
];

// auto (the system's), light or dark; kept in this browser.
const THEMES = ['auto', 'light', 'dark'];
const theme = signal(localStorage.getItem('ward.theme') || 'auto');

function applyTheme(value) {
  if (value === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = value;
}
applyTheme(theme.value);

function ThemeSwitch() {
  const next = () => {
    const value = THEMES[(THEMES.indexOf(theme.value) + 1) % THEMES.length];
    theme.value = value;
    localStorage.setItem('ward.theme', value);
    applyTheme(value);
  };
  return html`<button class="theme" type="button" onClick=${next}
    title="Theme: auto, light or dark" aria-label=${`Theme: ${theme.value}`}>${theme.value}</button>`;
}

// What the server says of itself, for the header: version, read-only replica.
const status = signal(null);

function App() {
  useEffect(() => {
    refreshSession();
  }, []);
  const s = session.value;
  useEffect(() => {
    if (!s || s.signedOut) return;
    get('/api/v1/status')
      .then((v) => {
        status.value = v;
      })
      .catch(() => {});
  }, [s && s.user, s && s.signedOut]);
  if (!s) return html`<main></main>`;
  if (s.error) return html`<main><p class="error" role="alert">${s.error}</p></main>`;
  if (s.signedOut) return html`<main><${Login} /></main>`;
  const { page } = route.value;
  const current = PAGES.find((p) => p.id === page);
  const View = current ? current.view : NotFound;
  useEffect(() => {
    document.title = current ? `${current.title} · Ward` : 'Ward';
  }, [page]);
  return html`
    <header class="top">
      <a class="brand" href=${href('dashboard')}>Ward</a>
      <nav>
        ${PAGES.map(
          (p) => html`<a href=${href(p.id)} aria-current=${p.id === page ? 'page' : undefined}>${p.title}</a>`,
        )}
      </nav>
      ${s.via === 'session' && html`<span class="user">${s.user}
        <button type="button" class="link" onClick=${() => signOut().catch(() => {})}>Sign out</button></span>`}
      <${ThemeSwitch} />
    </header>
    ${s.read_only && html`<p class="banner" role="status">Read-only: ${s.primary
      ? html`this is a replica; change things on its primary, <a href=${primaryUrl(s.primary)}>${s.primary}</a>.`
      : 'the config file is the source of truth here (admin.read_only).'}</p>`}
    <main><${View} /></main>
    <footer>${status.value ? `Ward ${status.value.version}` : ''}</footer>`;
}

/** The primary's UI, from `sync.primary` (its admin URL). */
function primaryUrl(primary) {
  try {
    return new URL('/ui/', primary).href;
  } catch {
    return '#';
  }
}

function NotFound() {
  return html`<section><h1>Not found</h1><p>No page is called “${route.value.page}”.
    <a href=${href('dashboard')}>The dashboard</a>.</p></section>`;
}

render(html`<${App} />`, document.getElementById('app'));
