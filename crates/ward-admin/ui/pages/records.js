// Records & upstreams: the local records (which specific name overrides which wildcard),
// the upstream groups with how each server has been answering since the start, and
// conditional forwarding (zones → group). Each write saves the config and applies it;
// the section then asks again for what it shows.
import { useEffect, useRef, useState } from '../vendor/hooks.js';
import { html } from '../lib/html.js';
import { get, post, put, del } from '../lib/api.js';
import { count, ms, ago, localTime } from '../lib/format.js';
import { readOnly } from '../lib/session.js';
import { fromFile, fileTag } from '../lib/writes.js';
import { overrides, words, lines } from '../lib/records.js';

const TYPES = ['A', 'AAAA', 'CNAME', 'TXT', 'PTR', 'MX', 'SRV', 'NS'];
const STRATEGIES = ['parallel', 'round_robin', 'failover'];

/** What `load` answers (null until it has), its error, and a reload that resolves once done. */
function useLoaded(load) {
  const [state, setState] = useState({ data: null, error: null });
  const live = useRef(true);
  const reload = () =>
    load().then(
      (data) => live.current && setState({ data, error: null }),
      (e) => live.current && setState((s) => ({ ...s, error: e.message })),
    );
  useEffect(() => {
    reload();
    return () => {
      live.current = false;
    };
  }, []);
  return [state.data, state.error, reload];
}

/** A write's error and notice, shown where the section says. */
function useWrite(reload) {
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const write = async (call, done) => {
    try {
      await call();
      setError(null);
      setNotice(done);
      await reload();
      return true;
    } catch (e) {
      setError(e.message);
      setNotice(null);
      return false;
    }
  };
  const messages = (loadError) => html`
    ${(error || loadError) && html`<p class="error" role="alert">${error || loadError}</p>`}
    ${notice && html`<p class="notice" role="status">${notice}</p>`}`;
  return { write, messages, setError };
}

/** A Unix time in ms as "12 s ago", the local time on hover. */
const when = (at) => html`<time datetime=${new Date(at).toISOString()} title=${localTime(at)}>${ago(at)}</time>`;

export function Records() {
  const [groups, groupsError, reloadGroups] = useLoaded(() => get('/api/v1/upstreams'));
  return html`
    <section>
      <h1>Records & upstreams</h1>
      <${LocalRecords} />
      <${Upstreams} groups=${groups} loadError=${groupsError} reload=${reloadGroups} />
      <${Forwarding} groups=${groups} />
    </section>`;
}

function LocalRecords() {
  const [records, loadError, reload] = useLoaded(() => get('/api/v1/records'));
  const { write, messages } = useWrite(reload);
  const add = async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const f = new FormData(form);
    const type = f.get('type');
    const record = { name: f.get('name').trim(), type, value: type === 'TXT' ? f.get('value') : f.get('value').trim() };
    const ttl = f.get('ttl').trim();
    if (ttl) record.ttl = Number(ttl);
    const what = `${record.name} ${type} ${record.value}`;
    if (await write(() => post('/api/v1/records', record), `added ${what}: serving now`)) form.reset();
  };
  const remove = (r) =>
    write(() => del('/api/v1/records', { name: r.name, type: r.type, value: r.value }), `removed ${r.name} ${r.type} ${r.value}`);
  const shadows = records ? overrides(records) : null;
  return html`<div class="part" data-part="records">
    <h2>Local records</h2>
    ${messages(loadError)}
    ${records && records.length === 0 && html`<p class="muted">No local records: every name goes upstream.</p>`}
    ${records && records.length > 0 && html`<div class="scroll"><table class="verdicts records">
      <thead><tr><th>Name</th><th>Type</th><th>Value</th><th class="num">TTL</th><th>Wildcard</th><th></th></tr></thead>
      <tbody>
        ${records.map((r) => html`<tr data-name=${r.name} data-type=${r.type} data-value=${r.value}>
          <td data-label="Name"><code>${r.name}</code>${fromFile('records', `${r.name} ${r.type}`) && fileTag()}${r.managed_by && html` <span class="tag managed" title="kept by ${r.managed_by}">${r.managed_by}</span>`}</td>
          <td data-label="Type">${r.type}</td>
          <td data-label="Value"><code>${r.value}</code></td>
          <td data-label="TTL" class="num">${count(r.ttl)} s</td>
          <td data-label="Wildcard" class="shadow">${shadow(r.name, shadows)}</td>
          <td data-label="">${!readOnly() && !fromFile('records', `${r.name} ${r.type}`) && html`<button type="button" data-action="delete"
            aria-label=${`Delete ${r.name} ${r.type} ${r.value}`} onClick=${() => remove(r)}>Delete</button>`}</td>
        </tr>`)}
      </tbody>
    </table></div>`}
    ${!readOnly() && html`<form class="inline add-record" onSubmit=${add}>
      <label>Name <input name="name" required placeholder="nas.home.example.com or *.home.example.com"
        autocomplete="off" spellcheck="false" /></label>
      <label>Type <select name="type">${TYPES.map((t) => html`<option value=${t}>${t}</option>`)}</select></label>
      <label>Value <input name="value" required placeholder="192.168.1.20" autocomplete="off" spellcheck="false" /></label>
      <label class="ttl">TTL (s) <input name="ttl" type="number" min="0" placeholder="300" /></label>
      <button type="submit">Add record</button>
    </form>`}
  </div>`;
}

/** What a row says of wildcards: the one it overrides, or how many names override it. */
function shadow(name, shadows) {
  const by = shadows.overriddenBy.get(name);
  if (by) {
    const n = by.length;
    const text = n === 0 ? 'no specific name overrides it' : `${n} specific ${n === 1 ? 'name overrides' : 'names override'} it`;
    return html`<span class="muted" title=${by.join(', ')}>${text}</span>`;
  }
  const over = shadows.overrides.get(name);
  return over ? html`<span>overrides <code>${over}</code></span>` : '';
}

function Upstreams({ groups, loadError, reload }) {
  const [health, setHealth] = useState(null);
  const [healthError, setHealthError] = useState(null);
  const [tick, setTick] = useState(0);
  const { write, messages } = useWrite(async () => {
    await reload();
    setTick((t) => t + 1);
  });
  const [adding, setAdding] = useState(false);

  // The servers' health from the status, every 5 s.
  useEffect(() => {
    let live = true;
    get('/api/v1/status')
      .then((s) => {
        if (!live) return;
        setHealth(s.upstreams || []);
        setHealthError(null);
      })
      .catch((e) => live && setHealthError(e.message));
    const timer = setTimeout(() => setTick((t) => t + 1), 5000);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [tick]);

  const save = (name, group) =>
    write(() => put(`/api/v1/upstreams/${encodeURIComponent(name)}`, group), `saved upstream group ${name}: serving now`);
  const remove = (name) => write(() => del(`/api/v1/upstreams/${encodeURIComponent(name)}`), `removed upstream group ${name}`);
  const add = async (name, group) => {
    const ok = await write(() => post('/api/v1/upstreams', { name, ...group }), `added upstream group ${name}: serving now`);
    if (ok) setAdding(false);
    return ok;
  };

  return html`<div class="part" data-part="upstreams">
    <div class="heading"><h2>Upstreams</h2>
      ${!readOnly() && !adding && html`<button type="button" data-action="add-group" onClick=${() => setAdding(true)}>Add a group</button>`}</div>
    ${messages(loadError || healthError)}
    ${adding && html`<div class="panel group"><h3>A new group</h3>
      <${GroupForm} group=${{ servers: [], strategy: 'parallel' }} named=${true} submit="Add group"
        onSave=${({ name, ...group }) => add(name, group)} onCancel=${() => setAdding(false)} /></div>`}
    ${groups && html`<div class="groups">
      ${Object.entries(groups).map(([name, group]) => html`<${Group} key=${name} name=${name} group=${group}
        health=${health && health.filter((h) => h.group === name)} save=${save} remove=${remove} />`)}
    </div>`}
  </div>`;
}

function Group({ name, group, health, save, remove }) {
  const [editing, setEditing] = useState(false);
  return html`<article class="panel group" data-group=${name}>
    <div class="heading"><h3>${name} <span class="tag">${group.strategy.replaceAll('_', ' ')}</span>${fromFile('upstreams', name) && fileTag()}</h3>
      ${!readOnly() && !editing && !fromFile('upstreams', name) && html`<div class="actions">
        <button type="button" data-action="edit" onClick=${() => setEditing(true)}>Edit</button>
        <button type="button" data-action="delete-group" onClick=${() => remove(name)}>Delete</button></div>`}</div>
    ${editing
      ? html`<${GroupForm} group=${group} submit="Save and apply" onCancel=${() => setEditing(false)}
          onSave=${async (g) => (await save(name, g)) && setEditing(false)} />`
      : html`<ul class="servers">${group.servers.map((s) => html`<li><code>${s}</code></li>`)}</ul>`}
    ${health && html`<${Health} rows=${health} />`}
  </article>`;
}

function GroupForm({ group, named, submit, onSave, onCancel }) {
  const [name, setName] = useState('');
  const [servers, setServers] = useState(group.servers.join('\n'));
  const [strategy, setStrategy] = useState(group.strategy);
  const send = (event) => {
    event.preventDefault();
    const g = { servers: lines(servers), strategy };
    onSave(named ? { name: name.trim(), ...g } : g);
  };
  return html`<form class="group-form" onSubmit=${send}>
    ${named && html`<label>Name <input name="name" required value=${name} onInput=${(e) => setName(e.currentTarget.value)}
      placeholder="router" autocomplete="off" spellcheck="false" /></label>`}
    <label>Servers, one a line <textarea class="servers" name="servers" rows="3" spellcheck="false"
      placeholder=${'192.168.1.1\ntls://dns.quad9.net\nhttps://dns.quad9.net/dns-query'}
      value=${servers} onInput=${(e) => setServers(e.currentTarget.value)}></textarea></label>
    <label>Strategy <select name="strategy" value=${strategy} onChange=${(e) => setStrategy(e.currentTarget.value)}>
      ${STRATEGIES.map((s) => html`<option value=${s}>${s.replaceAll('_', ' ')}</option>`)}
    </select></label>
    <div class="actions"><button type="submit">${submit}</button>
      <button type="button" data-action="cancel" onClick=${onCancel}>Cancel</button></div>
  </form>`;
}

// The servers as /metrics labels them (no DoH path): in the group's order, not matched to
// the config's strings.
function Health({ rows }) {
  if (rows.length === 0) return html`<p class="muted">No health yet.</p>`;
  return html`<div class="scroll"><table class="verdicts server-health">
    <thead><tr><th>Server</th><th>State</th><th class="num">Answered</th><th class="num">Failed</th><th class="num">Mean</th><th>Last error</th></tr></thead>
    <tbody>
      ${rows.map((h) => html`<tr data-server=${h.server} class=${h.healthy ? '' : 'failing'}>
        <td data-label="Server"><code>${h.server}</code></td>
        <td data-label="State">${badge(h)}</td>
        <td data-label="Answered" class="num">${count(h.answered)}</td>
        <td data-label="Failed" class="num">${count(h.failed)}</td>
        <td data-label="Mean" class="num">${h.mean_ms === null ? '–' : ms(h.mean_ms)}</td>
        <td data-label="Last error" class="last-error">${h.last_error
          ? html`<span><span class="error">${h.last_error}</span>${h.last_error_ms && html` · ${when(h.last_error_ms)}`}</span>`
          : html`<span class="muted">none</span>`}</td>
      </tr>`)}
    </tbody>
  </table></div>`;
}

function badge(h) {
  if (h.answered === 0 && h.failed === 0) return html`<span class="badge idle">not asked yet</span>`;
  return h.healthy
    ? html`<span class="badge healthy" title=${h.last_ok_ms ? `last answer ${localTime(h.last_ok_ms)}` : ''}>healthy</span>`
    : html`<span class="badge failing">failing</span>`;
}

function Forwarding({ groups }) {
  const [rules, loadError, reload] = useLoaded(() => get('/api/v1/forward'));
  // The list as edited, until it is saved (null: as the server has it).
  const [draft, setDraft] = useState(null);
  const { write, messages, setError } = useWrite(reload);
  const shown = draft || rules;
  const names = groups ? Object.keys(groups) : [];
  const add = (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const f = new FormData(form);
    const zones = words(f.get('zones'));
    if (zones.length === 0) {
      setError('zones: name at least one, e.g. corp.example');
      return;
    }
    setDraft([...shown, { zones, upstream: f.get('upstream') }]);
    setError(null);
    form.reset();
  };
  const save = async () => {
    const n = draft.length;
    if (await write(() => put('/api/v1/forward', draft), `saved ${n === 1 ? '1 forward rule' : `${n} forward rules`}: serving now`)) {
      setDraft(null);
    }
  };
  return html`<div class="part" data-part="forward">
    <h2>Forwarding</h2>
    <p class="muted">Names in these zones (and each zone itself) go to their group instead of the policy's; the longest zone wins.</p>
    ${messages(loadError)}
    ${shown && shown.length === 0 && html`<p class="muted">No forward rules.</p>`}
    ${shown && shown.length > 0 && html`<div class="scroll"><table class="verdicts forward">
      <thead><tr><th>Zones</th><th>Upstream group</th><th></th></tr></thead>
      <tbody>
        ${shown.map((r, i) => html`<tr data-zones=${r.zones.join(' ')} data-upstream=${r.upstream}>
          <td data-label="Zones"><span>${r.zones.map((z, j) => html`${j > 0 && ', '}<code>${z}</code>`)}</span>${r.zones.some((z) => fromFile('forward', z)) && fileTag()}</td>
          <td data-label="Upstream group">${r.upstream}${groups && !groups[r.upstream] ? html` <span class="tag">no such group</span>` : ''}</td>
          <td data-label="">${!readOnly() && !r.zones.some((z) => fromFile('forward', z)) && html`<button type="button" data-action="remove"
            aria-label=${`Remove the rule for ${r.zones.join(', ')}`} onClick=${() => setDraft(shown.filter((_, j) => j !== i))}>Remove</button>`}</td>
        </tr>`)}
      </tbody>
    </table></div>`}
    ${!readOnly() && html`
      <form class="inline add-forward" onSubmit=${add}>
        <label>Zones <input name="zones" required placeholder="home.example.com, 168.192.in-addr.arpa"
          autocomplete="off" spellcheck="false" /></label>
        <label>Group <select name="upstream">${names.map((n) => html`<option value=${n}>${n}</option>`)}</select></label>
        <button type="submit" disabled=${names.length === 0}>Add rule</button>
      </form>
      ${draft && html`<div class="actions unsaved"><span class="muted">Not saved yet.</span>
        <button type="button" data-action="save-forward" class="primary" onClick=${save}>Save and apply</button>
        <button type="button" data-action="discard" onClick=${() => setDraft(null)}>Discard</button></div>`}`}
  </div>`;
}
