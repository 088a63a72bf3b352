// The query log: filtered by the server (time range, name, client address, subnet or
// name, policy, verdict, type, response code, upstream), read a page at a time by cursor
// into a window of at most WINDOW rows (scrolling down loads older pages and drops the
// newest rows above; scrolling back up loads them again), a live tail at the top that
// pauses while the window is scrolled, each row's "why" (rule, list, policy) and one-click
// allow or block for the row's policy or for every policy, and an export of the filtered
// result as CSV or NDJSON. On a primary, "every pod" merges the replicas' logs.
import { useEffect, useRef, useState } from '../vendor/hooks.js';
import { html } from '../lib/html.js';
import { route, navigate, href } from '../lib/route.js';
import { get, post, withQuery, ApiError } from '../lib/api.js';
import { isBlocked, verdict } from '../lib/format.js';
import { readOnly } from '../lib/session.js';

/** Rows asked for at a time. */
const PAGE = 100;
/** Rows in the DOM at most, however far the log is scrolled. */
const WINDOW = 200;
const FILTERS = ['name', 'client', 'policy', 'verdict', 'qtype', 'rcode', 'upstream', 'from', 'to', 'node'];
const VERDICTS = [
  ['', 'any verdict'],
  ['blocked', 'blocked'],
  ['blocked_service', 'blocked service'],
  ['schedule', 'blocked by a schedule'],
  ['safe_search', 'safe search'],
  ['allowlisted', 'allowed by an exception'],
  ['rewritten', 'rewritten'],
  ['processed', 'not filtered'],
];
/** The filters under "More filters", open when one of them is set. */
const MORE = ['qtype', 'rcode', 'upstream', 'from', 'to', 'node'];
const QTYPES = ['A', 'AAAA', 'HTTPS', 'CNAME', 'TXT', 'MX', 'PTR', 'SRV', 'SVCB', 'NS', 'SOA', 'ANY'];
const RCODES = ['', 'NOERROR', 'NXDOMAIN', 'SERVFAIL', 'REFUSED', 'FORMERR'];

/** The filters of the current URL, as the API takes them. */
function filters(params) {
  const f = {};
  for (const k of FILTERS) f[k] = params.get(k) || '';
  return f;
}

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

/**
 * The pages in the window, each with the cursor that reads it (`''`: the newest), the
 * cursors of the pages dropped off its top (read again when scrolled back up), and the
 * cursor of the page after its last (`null`: none). Cursors are the API's own, so this
 * works alike for one pod and for every pod merged.
 */
const EMPTY = { pages: [], above: [], next: null, head: '', loaded: false };

/** At most WINDOW rows: whole pages off the bottom, then rows off the last one. */
function trimBottom(pages, next) {
  let total = pages.reduce((n, p) => n + p.rows.length, 0);
  const kept = [...pages];
  let after = next;
  while (total > WINDOW && kept.length > 1 && total - kept[kept.length - 1].rows.length >= WINDOW) {
    const dropped = kept.pop();
    total -= dropped.rows.length;
    after = dropped.cursor;
  }
  if (total > WINDOW) {
    const last = kept[kept.length - 1];
    const rows = last.rows.slice(0, last.rows.length - (total - WINDOW));
    kept[kept.length - 1] = { ...last, rows };
    after = rows.length ? rows[rows.length - 1].cursor : last.cursor;
  }
  return { pages: kept, next: after };
}

export function Log() {
  const params = route.value.params;
  const f = filters(params);
  const cursor = params.get('cursor') || '';
  const [view, setView] = useState(EMPTY);
  const [policies, setPolicies] = useState([]);
  const [primary, setPrimary] = useState(false);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [open, setOpen] = useState(null);
  const [reload, setReload] = useState(0);
  const [live, setLive] = useState(true);
  const [scrolled, setScrolled] = useState(false);
  const [waiting, setWaiting] = useState(0);
  const busy = useRef(false);
  const viewRef = useRef(view);
  viewRef.current = view;
  const api = toApi(f);

  useEffect(() => {
    get('/api/v1/policies')
      .then((p) => setPolicies(Object.keys(p)))
      .catch(() => {});
    get('/api/v1/status')
      .then((s) => setPrimary(Boolean(s.sync && s.sync.role === 'primary')))
      .catch(() => {});
  }, []);

  // The first page of the filters (from the URL's cursor, to share a place in the log).
  useEffect(() => {
    let current = true;
    setError(null);
    setWaiting(0);
    get('/api/v1/querylog', { ...api, limit: PAGE, cursor })
      .then((p) => {
        if (!current) return;
        setView({ pages: [{ cursor, rows: p.entries }], above: [], next: p.next_cursor, head: p.head, loaded: true });
        window.scrollTo(0, 0);
      })
      .catch((e) => current && setError(e.message));
    return () => {
      current = false;
    };
  }, [params.toString(), reload]);

  // Older rows as the bottom comes into view, newer ones (dropped before) at the top.
  const older = async () => {
    const v = viewRef.current;
    if (busy.current || !v.next) return;
    busy.current = true;
    try {
      const p = await get('/api/v1/querylog', { ...api, limit: PAGE, cursor: v.next });
      const pages = [...v.pages, { cursor: v.next, rows: p.entries }];
      const above = [...v.above];
      let total = pages.reduce((n, x) => n + x.rows.length, 0);
      while (total > WINDOW && pages.length > 1) {
        const dropped = pages.shift();
        total -= dropped.rows.length;
        above.push(dropped.cursor);
      }
      setView({ ...v, pages, above, next: p.next_cursor });
    } catch (e) {
      setError(e.message);
    } finally {
      busy.current = false;
    }
  };
  const newer = async () => {
    const v = viewRef.current;
    if (busy.current || v.above.length === 0) return;
    const from = v.above[v.above.length - 1];
    // The newest page: read afresh (the log has moved on since).
    if (from === '') {
      setReload((r) => r + 1);
      return;
    }
    busy.current = true;
    try {
      const p = await get('/api/v1/querylog', { ...api, limit: PAGE, cursor: from });
      const trimmed = trimBottom([{ cursor: from, rows: p.entries }, ...v.pages], v.next);
      setView({ ...v, ...trimmed, above: v.above.slice(0, -1) });
    } catch (e) {
      setError(e.message);
    } finally {
      busy.current = false;
    }
  };
  const bottom = useRef(null);
  const topEdge = useRef(null);
  useEffect(() => {
    const seen = new IntersectionObserver((items) => {
      for (const item of items) {
        if (!item.isIntersecting) continue;
        if (item.target === bottom.current) older();
        if (item.target === topEdge.current) newer();
      }
    }, { rootMargin: '400px 0px' });
    if (bottom.current) seen.observe(bottom.current);
    if (topEdge.current) seen.observe(topEdge.current);
    return () => seen.disconnect();
    // Again after each change: an edge still in sight after a page was read reads the next.
  }, [view]);

  // The window counts as scrolled once its top row is out of sight: the tail then waits.
  useEffect(() => {
    const onScroll = () => setScrolled(window.scrollY > 80);
    addEventListener('scroll', onScroll, { passive: true });
    return () => removeEventListener('scroll', onScroll);
  }, []);

  // The live tail: only at the newest entries of this pod. The server sends at most four
  // events a second, each rendered once; while scrolled, new entries are only counted.
  const atHead = view.loaded && view.above.length === 0 && view.pages.length > 0 && view.pages[0].cursor === '';
  const tailing = live && atHead && !f.node;
  const paused = useRef(false);
  paused.current = scrolled;
  useEffect(() => {
    if (!tailing || !view.head) return undefined;
    const source = new EventSource(withQuery('/api/v1/querylog/stream', { ...api, since: view.head }));
    source.addEventListener('entries', (event) => {
      const data = JSON.parse(event.data);
      if (paused.current) {
        setWaiting((n) => n + data.entries.length);
        return;
      }
      const v = viewRef.current;
      const [first, ...rest] = v.pages;
      const pages = [{ ...first, rows: [...data.entries, ...first.rows] }, ...rest];
      setView({ ...v, ...trimBottom(pages, v.next) });
    });
    source.onerror = () => {
      // EventSource reconnects by itself with Last-Event-ID; nothing is lost meanwhile.
    };
    return () => source.close();
  }, [tailing, view.head, params.toString()]);

  // Back at the top after a pause: read the newest again.
  useEffect(() => {
    if (!scrolled && waiting > 0) setReload((r) => r + 1);
  }, [scrolled]);

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

  const rows = view.pages.flatMap((p) => p.rows);
  const exportAs = (format) => withQuery('/api/v1/querylog/export', { ...api, node: undefined, format });
  const status = tailing
    ? scrolled
      ? `Live: paused while scrolled${waiting ? ` · ${waiting} new` : ''}`
      : 'Live'
    : '';
  return html`
    <section>
      <div class="heading"><h1>Query log</h1>
        <label class="check"><input type="checkbox" name="live" checked=${live}
          disabled=${Boolean(f.node)} onChange=${(e) => setLive(e.currentTarget.checked)} /> Live</label>
        <button type="button" onClick=${() => setReload(reload + 1)}>Refresh</button></div>
      <form class="inline filters" onSubmit=${submit}>
        <label>Name <input name="name" value=${f.name} placeholder="contains…" autocomplete="off" spellcheck="false" /></label>
        <label>Client <input name="client" value=${f.client} placeholder="address, subnet, name or ClientID" autocomplete="off" spellcheck="false" /></label>
        <label>Policy <select name="policy" value=${f.policy}>
          <option value="">any policy</option>
          ${policies.map((p) => html`<option value=${p}>${p}</option>`)}
        </select></label>
        <label>Verdict <select name="verdict" value=${f.verdict}>
          ${VERDICTS.map(([v, label]) => html`<option value=${v}>${label}</option>`)}
        </select></label>
        <details class="more" open=${MORE.some((k) => f[k])}>
          <summary>More filters${MORE.some((k) => f[k]) ? ` (${MORE.filter((k) => f[k]).length} set)` : ''}</summary>
          <div class="fields">
            <label>Type <input name="qtype" value=${f.qtype} list="qtypes" placeholder="any" autocomplete="off" spellcheck="false" /></label>
            <datalist id="qtypes">${QTYPES.map((t) => html`<option value=${t} />`)}</datalist>
            <label>Response <select name="rcode" value=${f.rcode}>
              ${RCODES.map((r) => html`<option value=${r}>${r || 'any response'}</option>`)}
            </select></label>
            <label>Upstream <input name="upstream" value=${f.upstream} placeholder="address, or none" autocomplete="off" spellcheck="false" /></label>
            <label>From <input name="from" type="datetime-local" step="1" value=${f.from} /></label>
            <label>To <input name="to" type="datetime-local" step="1" value=${f.to} /></label>
            ${primary && html`<label>Pods <select name="node" value=${f.node}>
              <option value="">this pod</option><option value="all">every pod</option></select></label>`}
          </div>
        </details>
        <button type="submit">Search</button>
        <a class="button" href=${href('log')}>Clear</a>
      </form>
      <p class="export">Export these: <a href=${exportAs('csv')} download>CSV</a> · <a href=${exportAs('ndjson')} download>NDJSON</a>
        ${status && html`<span class="live" role="status">${status}</span>`}</p>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      ${view.loaded && rows.length === 0 && html`<p class="muted">No query matches these filters.</p>`}
      ${view.above.length > 0 && html`<p class="muted edge" ref=${topEdge}>Newer entries above…</p>`}
      ${rows.length > 0 && html`
        <ol class="log">
          ${rows.map((e) => html`<${Row} key=${rowKey(e)} entry=${e} open=${open === rowKey(e)}
            toggle=${() => setOpen(open === rowKey(e) ? null : rowKey(e))} act=${act} />`)}
        </ol>`}
      ${view.next && html`<p class="muted edge" ref=${bottom}>Older entries…</p>`}
      <nav class="pager">
        ${cursor && html`<a class="button" href=${href('log', { ...f, cursor: '' })}>Newest</a>`}
      </nav>
    </section>`;
}

/** How a query arrived, for people. */
const PROTOCOLS = { udp: 'UDP', tcp: 'TCP', dot: 'DNS over TLS', doh: 'DNS over HTTPS' };

/** A row's identity: its pod and its place in that pod's log. */
const rowKey = (e) => `${e.node || ''}/${e.cursor}`;

function Row({ entry: e, open, toggle, act }) {
  const blocked = isBlocked(e.reason);
  const time = new Date(e.time_ms);
  return html`<li class=${blocked ? 'blocked' : ''} data-name=${e.name} data-policy=${e.policy} data-node=${e.node}>
    <button type="button" class="row" aria-expanded=${open} onClick=${toggle}>
      <time datetime=${e.time}>${time.toLocaleTimeString()}</time>
      <span class="name">${e.name}</span>
      <span class="qtype">${e.qtype}</span>
      <span class="verdict">${verdict(e.reason)}</span>
      <span class="client">${e.client_name || e.client_id ? `${e.client_name || e.client_id} (${e.client})` : e.client}</span>
      <span class="policy">${e.policy}</span>
    </button>
    ${open && html`<div class="why">
      <dl>
        <dt>When</dt><dd>${time.toLocaleString()}</dd>
        <dt>Client</dt><dd>${e.client}${e.client_id ? ` · ClientID ${e.client_id}` : ''} · ${PROTOCOLS[e.protocol] || e.protocol}</dd>
        <dt>Policy</dt><dd>${e.policy}</dd>
        <dt>Verdict</dt><dd>${verdict(e.reason)}</dd>
        ${e.service && html`<dt>${e.reason === 'FilteredSafeSearch' ? 'Search engine' : 'Service'}</dt><dd>${e.service}</dd>`}
        ${e.schedule && html`<dt>Schedule</dt><dd>${e.schedule}${e.reason === 'NotFilteredNotFound' ? ' (lets it through now)' : ''}</dd>`}
        ${e.rule && html`<dt>Rule</dt><dd><code>${e.rule}</code></dd>`}
        ${e.list && html`<dt>List</dt><dd>${e.list}</dd>`}
        <dt>Answer</dt><dd>${e.rcode}${e.answer ? ` ${e.answer}` : ''}</dd>
        <dt>From</dt><dd>${e.cached ? 'the cache' : e.upstream || 'Ward'} · ${(e.elapsed_us / 1000).toFixed(2)} ms</dd>
        ${e.node && html`<dt>Pod</dt><dd>${e.node}</dd>`}
      </dl>
      <div class="actions">
        <a href=${href('check', { name: e.name, client: e.client })}>Check under every policy</a>
        ${readOnly() || e.reason === 'FilteredSchedule' ? '' : blocked
          ? html`<button type="button" data-action="allow-policy" onClick=${() => act(e, true, false)}>Allow for ${e.policy}</button>
              <button type="button" data-action="allow-all" onClick=${() => act(e, true, true)}>Allow for all</button>`
          : html`<button type="button" data-action="block-policy" onClick=${() => act(e, false, false)}>Block for ${e.policy}</button>
              <button type="button" data-action="block-all" onClick=${() => act(e, false, true)}>Block for all</button>`}
      </div>
    </div>`}
  </li>`;
}
