// The query log: filtered by the server (time range, name, client address, subnet or
// name, policy, verdict), a page of at most PAGE rows in the DOM at a time with newer and
// older pages by cursor, each row's "why" (rule, list, policy) and one-click allow or
// block for the row's policy or for every policy.
import { useEffect, useState } from '../vendor/hooks.js';
import { html } from '../lib/html.js';
import { route, navigate, href } from '../lib/route.js';
import { get, post, ApiError } from '../lib/api.js';
import { verdict } from '../lib/format.js';
import { readOnly } from '../lib/session.js';

const PAGE = 100;
const FILTERS = ['name', 'client', 'policy', 'verdict', 'from', 'to'];
const VERDICTS = [
  ['', 'any verdict'],
  ['blocked', 'blocked'],
  ['allowlisted', 'allowed by an exception'],
  ['rewritten', 'rewritten'],
  ['processed', 'not filtered'],
];

/** The filters of the current URL, as the API takes them. */
function filters(params) {
  const f = {};
  for (const k of FILTERS) f[k] = params.get(k) || '';
  return f;
}

export function Log() {
  const params = route.value.params;
  const f = filters(params);
  const cursor = params.get('cursor') || '';
  const [page, setPage] = useState(null);
  const [policies, setPolicies] = useState([]);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [open, setOpen] = useState(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    get('/api/v1/policies')
      .then((p) => setPolicies(Object.keys(p)))
      .catch(() => {});
  }, []);

  useEffect(() => {
    let live = true;
    setError(null);
    get('/api/v1/querylog', { ...toApi(f), limit: PAGE, cursor })
      .then((p) => live && setPage(p))
      .catch((e) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [params.toString(), reload]);

  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const next = {};
    for (const k of FILTERS) next[k] = String(form.get(k) || '').trim();
    navigate('log', next);
  };

  // One rule for one policy, or for each policy; the answer says what happened.
  const act = async (entry, allow, everywhere) => {
    const rule = `${allow ? '@@' : ''}||${entry.name}^`;
    const targets = everywhere ? policies : [entry.policy];
    const done = [];
    const already = [];
    try {
      for (const p of targets) {
        try {
          await post(`/api/v1/policies/${encodeURIComponent(p)}/rules`, { rule });
          done.push(p);
        } catch (e) {
          if (e instanceof ApiError && e.status === 409) already.push(p);
          else throw e;
        }
      }
      const parts = [];
      if (done.length) parts.push(`added ${rule} to ${done.join(', ')}`);
      if (already.length) parts.push(`${already.join(', ')} had it already`);
      setNotice(parts.join('; '));
      setError(null);
    } catch (e) {
      setError(e.message);
    }
  };

  const older = page && page.next_cursor;
  return html`
    <section>
      <div class="heading"><h1>Query log</h1>
        <button type="button" onClick=${() => setReload(reload + 1)}>Refresh</button></div>
      <form class="inline filters" onSubmit=${submit}>
        <label>Name <input name="name" value=${f.name} placeholder="contains…" autocomplete="off" spellcheck="false" /></label>
        <label>Client <input name="client" value=${f.client} placeholder="address, subnet or name" autocomplete="off" spellcheck="false" /></label>
        <label>Policy <select name="policy" value=${f.policy}>
          <option value="">any policy</option>
          ${policies.map((p) => html`<option value=${p}>${p}</option>`)}
        </select></label>
        <label>Verdict <select name="verdict" value=${f.verdict}>
          ${VERDICTS.map(([v, label]) => html`<option value=${v}>${label}</option>`)}
        </select></label>
        <label>From <input name="from" type="datetime-local" step="1" value=${f.from} /></label>
        <label>To <input name="to" type="datetime-local" step="1" value=${f.to} /></label>
        <button type="submit">Search</button>
        <a class="button" href=${href('log')}>Clear</a>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      ${page && page.entries.length === 0 && html`<p class="muted">No query matches these filters.</p>`}
      ${page && page.entries.length > 0 && html`
        <ol class="log">
          ${page.entries.map((e, i) => html`<${Row} entry=${e} open=${open === key(e, i)}
            toggle=${() => setOpen(open === key(e, i) ? null : key(e, i))} act=${act} />`)}
        </ol>`}
      <nav class="pager">
        ${cursor && html`<a class="button" href=${href('log', f)}>Newest</a>`}
        ${older && html`<a class="button" rel="next" href=${href('log', { ...f, cursor: older })}>Older</a>`}
      </nav>
    </section>`;
}

const key = (e, i) => `${e.time_ms}-${i}`;

/** The URL's filters as the API wants them: local date-times become RFC 3339. */
function toApi(f) {
  const api = { ...f };
  for (const k of ['from', 'to']) {
    if (f[k]) {
      const t = new Date(f[k]);
      api[k] = Number.isNaN(t.getTime()) ? f[k] : t.toISOString();
    }
  }
  return api;
}

function Row({ entry: e, open, toggle, act }) {
  const blocked = e.reason === 'FilteredBlockList';
  const time = new Date(e.time_ms);
  return html`<li class=${blocked ? 'blocked' : ''} data-name=${e.name} data-policy=${e.policy}>
    <button type="button" class="row" aria-expanded=${open} onClick=${toggle}>
      <time datetime=${e.time}>${time.toLocaleTimeString()}</time>
      <span class="name">${e.name}</span>
      <span class="qtype">${e.qtype}</span>
      <span class="verdict">${verdict(e.reason)}</span>
      <span class="client">${e.client_name ? `${e.client_name} (${e.client})` : e.client}</span>
      <span class="policy">${e.policy}</span>
    </button>
    ${open && html`<div class="why">
      <dl>
        <dt>When</dt><dd>${time.toLocaleString()}</dd>
        <dt>Policy</dt><dd>${e.policy}</dd>
        <dt>Verdict</dt><dd>${verdict(e.reason)}</dd>
        ${e.rule && html`<dt>Rule</dt><dd><code>${e.rule}</code></dd>`}
        ${e.list && html`<dt>List</dt><dd>${e.list}</dd>`}
        <dt>Answer</dt><dd>${e.rcode}${e.answer ? ` ${e.answer}` : ''}</dd>
        <dt>From</dt><dd>${e.cached ? 'the cache' : e.upstream || 'Ward'} · ${(e.elapsed_us / 1000).toFixed(2)} ms</dd>
      </dl>
      <div class="actions">
        <a href=${href('check', { name: e.name, client: e.client })}>Check under every policy</a>
        ${readOnly() ? '' : blocked
          ? html`<button type="button" data-action="allow-policy" onClick=${() => act(e, true, false)}>Allow for ${e.policy}</button>
              <button type="button" data-action="allow-all" onClick=${() => act(e, true, true)}>Allow for all</button>`
          : html`<button type="button" data-action="block-policy" onClick=${() => act(e, false, false)}>Block for ${e.policy}</button>
              <button type="button" data-action="block-all" onClick=${() => act(e, false, true)}>Block for all</button>`}
      </div>
    </div>`}
  </li>`;
}
