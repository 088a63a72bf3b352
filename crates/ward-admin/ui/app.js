// The admin UI: a header with the pages, the theme switch, and the current page.
import { render } from './vendor/preact.js';
import { useEffect } from './vendor/hooks.js';
import { signal } from './vendor/signals.js';
import { html } from './lib/html.js';
import { route, href } from './lib/route.js';
import { get } from './lib/api.js';
import { Dashboard } from './pages/dashboard.js';
import { Login } from './pages/login.js';
import { session, refreshSession, signOut } from './lib/session.js';
import { writes } from './lib/writes.js';

// The dashboard (where the UI opens) and the sign-in page come with the app; the other
// pages are fetched the first time they are opened, so the first load stays small.
const PAGES = [
  { id: 'dashboard', title: 'Dashboard', view: Dashboard },
  { id: 'log', title: 'Query log', load: () => import('./pages/log.js'), name: 'Log' },
  { id: 'policies', title: 'Policies', load: () => import('./pages/policies.js'), name: 'Policies' },
  { id: 'lists', title: 'Lists', load: () => import('./pages/lists.js'), name: 'Lists' },
  { id: 'rules', title: 'Rules', load: () => import('./pages/rules.js'), name: 'Rules' },
  { id: 'check', title: 'Check a name', load: () => import('./pages/check.js'), name: 'Check' },
  { id: 'records', title: 'Records & upstreams', load: () => import('./pages/records.js'), name: 'Records' },
  { id: 'nodes', title: 'Nodes', load: () => import('./pages/nodes.js'), name: 'Nodes' },
];

// The pages fetched so far, by id; a failed fetch is said, with a button to try again.
const views = signal({});
const viewError = signal(null);
const fetching = new Set();

function Page({ page }) {
  const view = page.view || views.value[page.id];
  if (view) return html`<${view} />`;
  const failed = viewError.value;
  if (failed && failed.id === page.id) {
    return html`<p class="error" role="alert">The page could not be loaded: ${failed.message}
      <button type="button" onClick=${() => (viewError.value = null)}>Try again</button></p>`;
  }
  if (fetching.has(page.id)) return html`<p class="muted">Loading…</p>`;
  fetching.add(page.id);
  page
    .load()
    .then((module) => {
      viewError.value = null;
      views.value = { ...views.value, [page.id]: module[page.name] };
    })
    .catch((e) => {
      viewError.value = { id: page.id, message: e.message };
    })
    .finally(() => fetching.delete(page.id));
  return html`<p class="muted">Loading…</p>`;
}

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

// Whether the pages' menu is open (a phone shows it folded).
const menuOpen = signal(false);

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
        writes.value = v.writes || null;
      })
      .catch(() => {});
  }, [s && s.user, s && s.signedOut]);
  if (!s) return html`<main></main>`;
  if (s.error) return html`<main><p class="error" role="alert">${s.error}</p></main>`;
  if (s.signedOut) return html`<main><${Login} /></main>`;
  const { page } = route.value;
  const current = PAGES.find((p) => p.id === page);

  useEffect(() => {
    document.title = current ? `${current.title} · Ward` : 'Ward';
  }, [page]);
  return html`
    <header class="top">
      <a class="brand" href=${href('dashboard')}>Ward</a>
      <button type="button" class="menu" aria-expanded=${menuOpen.value} aria-controls="pages"
        onClick=${() => (menuOpen.value = !menuOpen.value)}>${current ? current.title : 'Menu'} ▾</button>
      <nav id="pages" class=${menuOpen.value ? 'open' : ''} aria-label="Pages">
        ${PAGES.map(
          (p) => html`<a href=${href(p.id)} aria-current=${p.id === page ? 'page' : undefined}
            onClick=${() => (menuOpen.value = false)}>${p.title}</a>`,
        )}
      </nav>
      ${s.via === 'session' && html`<span class="user">${s.user}
        <button type="button" class="link" onClick=${() => signOut().catch(() => {})}>Sign out</button></span>`}
      <${ThemeSwitch} />
    </header>
    ${s.read_only && html`<p class="banner" role="status">Read-only: ${s.primary
      ? html`this is a replica; change things on its primary, <a href=${primaryUrl(s.primary)}>${s.primary}</a>.`
      : 'the config file is the source of truth here (admin.read_only).'}</p>`}
    <main>${current ? html`<${Page} key=${current.id} page=${current} />` : html`<${NotFound} />`}</main>
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
