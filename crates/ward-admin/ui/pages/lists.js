// Lists: each one's source, rules, skipped lines by reason, last download and error, a
// refresh that shows its progress; and which policy uses which list (directly, or through
// the policy it extends).
import { useEffect, useState } from '../vendor/hooks.js';
import { html } from '../lib/html.js';
import { get, post, put } from '../lib/api.js';
import { count } from '../lib/format.js';
import { readOnly } from '../lib/session.js';
import { fromFile, fileTag } from '../lib/writes.js';
import { ancestors } from '../lib/policy.js';

/** The lists a policy names, and those it gets from the policies it extends. */
function listsOf(policies, name) {
  const from = (n) => (policies[n] && policies[n].lists) || [];
  return { own: from(name), inherited: ancestors(policies, name).flatMap(from) };
}

export function Lists() {
  const [status, setStatus] = useState(null);
  const [policies, setPolicies] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    get('/api/v1/policies')
      .then(setPolicies)
      .catch((e) => setError(e.message));
  }, []);

  // The status every 5 s, every second while a download runs.
  const downloading = status && status.lists.some((l) => l.activity && l.activity.state === 'downloading');
  useEffect(() => {
    let live = true;
    get('/api/v1/status')
      .then((s) => live && setStatus(s))
      .catch((e) => live && setError(e.message));
    const timer = setTimeout(() => setTick(tick + 1), downloading ? 1000 : 5000);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [tick]);

  const refresh = async (id) => {
    try {
      await post(`/api/v1/lists/${encodeURIComponent(id)}/refresh`, {});
      setError(null);
      setTick(tick + 1);
    } catch (e) {
      setError(e.message);
    }
  };

  return html`
    <section>
      <h1>Lists</h1>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${status && html`<${Table} lists=${status.lists} refresh=${refresh} />`}
      ${status && policies && html`<${Matrix} lists=${status.lists} policies=${policies} />`}
      ${status && policies && !readOnly() && html`<${FromCatalogue} lists=${status.lists} policies=${policies}
        added=${() => {
          setTick(tick + 1);
          get('/api/v1/policies').then(setPolicies).catch(() => {});
        }} />`}
    </section>`;
}

const CATEGORIES = ['ads', 'trackers', 'malware', 'phishing', 'adult', 'gambling', 'social', 'telemetry'];

/** Adds a list of Ward's catalogue, and if asked puts it in a policy's lists. */
function FromCatalogue({ lists, policies, added }) {
  const [catalogue, setCatalogue] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  useEffect(() => {
    get('/api/v1/catalogue')
      .then(setCatalogue)
      .catch((e) => setError(e.message));
  }, []);
  if (!catalogue) return error ? html`<p class="error" role="alert">${error}</p>` : '';
  const have = new Set(lists.map((l) => l.id));
  const submit = async (event) => {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const entry = catalogue.find((e) => e.id === f.get('catalogue'));
    const id = String(f.get('id') || '').trim() || entry.id;
    const policy = String(f.get('policy') || '');
    try {
      await post('/api/v1/lists', { id, catalogue: entry.id });
      if (policy) {
        const p = await get(`/api/v1/policies/${encodeURIComponent(policy)}`);
        await put(`/api/v1/policies/${encodeURIComponent(policy)}`, { ...p, lists: [...(p.lists || []), id] });
      }
      setError(null);
      setNotice(`added ${entry.name} as ${id}${policy ? ` and put it in ${policy}` : ''}; it downloads now`);
      added();
    } catch (e) {
      setError(e.message);
    }
  };
  return html`<div class="panel catalogue">
    <h2>Add a list from the catalogue</h2>
    <form class="inline" onSubmit=${submit}>
      <label>List <select name="catalogue" required>
        ${CATEGORIES.map((c) => html`<optgroup label=${c}>
          ${catalogue.filter((e) => e.category === c).map((e) => html`<option value=${e.id} disabled=${have.has(e.id)}>
            ${e.name} (${e.format}, ${e.licence})</option>`)}
        </optgroup>`)}
      </select></label>
      <label>Id <input name="id" placeholder="the catalogue's id" autocomplete="off" spellcheck="false" /></label>
      <label>Use in <select name="policy">
        <option value="">no policy yet</option>
        ${Object.keys(policies).map((p) => html`<option value=${p}>${p}</option>`)}
      </select></label>
      <button type="submit">Add</button>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${notice && html`<p class="notice" role="status">${notice}</p>`}
  </div>`;
}

function Table({ lists, refresh }) {
  if (lists.length === 0) return html`<p class="muted">No lists in the config.</p>`;
  return html`<div class="scroll"><table class="verdicts lists">
    <thead><tr><th>List</th><th>Source</th><th class="num">Rules</th><th class="num">Skipped</th><th>Last download</th><th>State</th><th></th></tr></thead>
    <tbody>
      ${lists.map((l) => html`<tr data-list=${l.id} class=${l.error ? 'failing' : ''}>
        <td data-label="List">${l.id}${l.allow ? html` <span class="tag">allowlist</span>` : ''}${l.enabled ? '' : html` <span class="tag">disabled</span>`}${fromFile('lists', l.id) && fileTag()}</td>
        <td data-label="Source"><code>${l.location}</code></td>
        <td data-label="Rules" class="num">${count(l.rules)}</td>
        <td data-label="Skipped" class="num"><${Skipped} list=${l} /></td>
        <td data-label="Last download">${downloaded(l)}</td>
        <td data-label="State" class="state">${state(l)}</td>
        <td data-label="">${l.source !== 'path' && l.enabled && !readOnly()
          ? html`<button type="button" data-action="refresh" onClick=${() => refresh(l.id)}
              disabled=${l.activity && l.activity.state === 'downloading'}>Refresh</button>`
          : ''}</td>
      </tr>`)}
    </tbody>
  </table></div>`;
}

function Skipped({ list }) {
  const reasons = Object.entries(list.skipped_by_reason || {});
  if (list.skipped === 0) return '0';
  return html`<details><summary>${count(list.skipped)}</summary>
    <ul class="reasons">${reasons.map(([r, n]) => html`<li data-reason=${r}>${r.replaceAll('_', ' ')}: ${count(n)}</li>`)}</ul>
  </details>`;
}

function downloaded(l) {
  if (l.source === 'path') return html`<span class="muted">a file</span>`;
  if (!l.copy) return html`<span class="muted">never</span>`;
  return `${new Date(l.copy.fetched_at * 1000).toLocaleString()} · ${count(l.copy.bytes)} bytes`;
}

function state(l) {
  const a = l.activity;
  if (a && a.state === 'downloading') return `downloading… ${count(a.bytes)} bytes`;
  if (l.error) return html`<span class="error">${l.error}</span>`;
  if (a && a.last_error) return html`<span class="error">${a.last_error}</span>`;
  return html`<span class="ok">serving</span>`;
}

function Matrix({ lists, policies }) {
  const names = Object.keys(policies);
  const of = Object.fromEntries(names.map((n) => [n, listsOf(policies, n)]));
  return html`<h2>Which policy uses which list</h2>
    <div class="scroll"><table class="matrix">
      <thead><tr><th>List</th>${names.map((n) => html`<th>${n}</th>`)}</tr></thead>
      <tbody>
        ${lists.map((l) => html`<tr data-list=${l.id}><th>${l.id}</th>
          ${names.map((n) => {
            const mark = of[n].own.includes(l.id) ? 'own' : of[n].inherited.includes(l.id) ? 'inherited' : '';
            return html`<td data-policy=${n} data-use=${mark} title=${mark ? `${n}: ${mark}` : `${n} does not use it`}>
              ${mark === 'own' ? '●' : mark === 'inherited' ? '○' : ''}</td>`;
          })}
        </tr>`)}
      </tbody>
    </table></div>
    <p class="muted">● the policy names the list · ○ it gets it from the policy it extends</p>`;
}
