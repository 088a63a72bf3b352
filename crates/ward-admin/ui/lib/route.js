// The UI's own addresses: /ui/<page>?<filters>. A page reads its filters from the URL and
// writes them back, so a link shares a view and the back button undoes a filter.
// From signals.js, not signals-core.js: it hooks signals into Preact's rendering, so a
// component that reads a signal renders again when it changes.
import { signal } from '../vendor/signals.js';

export const BASE = '/ui/';

function current() {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '';
  return { page: path.replace(/\/+$/, '') || 'dashboard', params: new URLSearchParams(location.search) };
}

/** The page and its URL parameters, updated on every navigation. */
export const route = signal(current());

/** The address of `page` with `params` (an object; empty values left out). */
export function href(page, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return BASE + (page === 'dashboard' ? '' : page) + (s ? `?${s}` : '');
}

/** Goes to `page` with `params`; `replace` keeps the history entry (a filter being typed). */
export function navigate(page, params = {}, replace = false) {
  const url = href(page, params);
  if (url !== location.pathname + location.search) {
    history[replace ? 'replaceState' : 'pushState'](null, '', url);
  }
  route.value = current();
}

addEventListener('popstate', () => {
  route.value = current();
});

// Links inside the UI navigate without reloading the page.
addEventListener('click', (event) => {
  const a = event.target.closest && event.target.closest('a[href]');
  if (!a || a.target || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(BASE)) return;
  event.preventDefault();
  history.pushState(null, '', url.pathname + url.search);
  route.value = current();
});
