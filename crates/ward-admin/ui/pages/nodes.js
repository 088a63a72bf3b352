// Nodes: this pod and, on a primary, each replica pod: its role, sync revision,
// generation, last reload and uptime; for a replica whether it serves the primary's
// revision, the primary's last push to it and its own last pull. Asked again every 5 s.
import { useEffect, useState } from '../vendor/hooks.js';
import { html } from '../lib/html.js';
import { get } from '../lib/api.js';
import { count, ago, duration, localTime } from '../lib/format.js';
import { session } from '../lib/session.js';

/** A Unix time in ms as "12 s ago", the local time on hover. */
const when = (at) => html`<time datetime=${new Date(at).toISOString()} title=${localTime(at)}>${ago(at)}</time>`;

/** A revision as its first 8 characters, the whole on hover. */
const short = (revision) => (revision ? html`<code title=${revision}>${revision.slice(0, 8)}</code>` : html`<span class="muted">none</span>`);

/** The primary's nodes page, from `sync.primary` (its admin URL). */
function primaryNodes(primary) {
  try {
    return new URL('/ui/nodes', primary).href;
  } catch {
    return '#';
  }
}

export function Nodes() {
  const [nodes, setNodes] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    get('/api/v1/nodes')
      .then((answer) => {
        if (!live) return;
        setNodes(answer.nodes);
        setError(null);
      })
      .catch((e) => live && setError(e.message));
    const timer = setTimeout(() => setTick(tick + 1), 5000);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [tick]);

  const primary = session.value && session.value.primary;
  return html`
    <section>
      <h1>Nodes</h1>
      ${primary && html`<p class="replica-of" role="note">This pod is a replica: it serves its primary's
        config and takes no changes. The primary lists every pod: <a href=${primaryNodes(primary)}>${primary}</a>.</p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${nodes && html`<div class="nodes">${nodes.map((n) => html`<${Node} key=${n.address} node=${n} />`)}</div>`}
    </section>`;
}

function Node({ node: n }) {
  const replica = n.role === 'replica';
  return html`<article class=${`panel node${n.ok ? '' : ' failing'}`} data-node=${n.node} data-address=${n.address}>
    <h2>${n.node} ${n.self ? html`<span class="tag">this pod</span>` : ''}
      ${n.ok && n.ready === false ? html` <span class="badge failing">not ready</span>` : ''}</h2>
    ${!n.ok && html`<p class="error" role="alert">Did not answer: ${n.error || 'no reason given'}</p>`}
    <dl>
      ${!n.self && html`<dt>Address</dt><dd><code>${n.replica || n.address}</code></dd>`}
      ${n.ok && html`
        <dt>Role</dt><dd data-field="role">${n.role}</dd>
        <dt>Revision</dt><dd data-field="revision">${short(n.revision)}</dd>
        <dt>Generation</dt><dd data-field="generation">${n.generation}</dd>
        <dt>Config</dt><dd data-field="config-revision">${short(n.config_revision)}</dd>
        <dt>List rules</dt><dd>${count(n.rules)}</dd>
        <dt>Last change</dt><dd data-field="last-reload">${reload(n.last_change || n.last_reload)}</dd>
        <dt>Up</dt><dd data-field="up">${n.started_ms
          ? html`<span title=${`since ${localTime(n.started_ms)}`}>${duration(Date.now() - n.started_ms)}</span>`
          : ''}</dd>
        <dt>Version</dt><dd>${n.version}</dd>`}
      ${'in_sync' in n && html`
        <dt>Sync</dt><dd data-field="sync">${sync(n)}</dd>
        <dt>Last push</dt><dd data-field="last-push">${push(n.last_push)}</dd>`}
      ${n.ok && replica && html`
        <dt>Last pull</dt><dd data-field="last-pull">${n.last_sync_ms ? when(n.last_sync_ms) : html`<span class="muted">none yet</span>`}
          ${n.last_sync_error && html`<span class="error"> ${n.last_sync_error}</span>`}</dd>`}
    </dl>
  </article>`;
}

// behind_ms is the time since the primary's revision changed: how long a replica that
// answers with another revision has been behind. One that does not answer may or may not be.
function sync(n) {
  if (n.in_sync) return html`<span class="badge healthy">in sync ✓</span>`;
  if (!n.ok) return html`<span class="badge failing">not known</span>`;
  return html`<span class="badge failing">${typeof n.behind_ms === 'number' ? `behind for ${duration(n.behind_ms)}` : 'behind'}</span>`;
}

function reload(r) {
  if (!r) return html`<span class="muted">none since the start</span>`;
  const outcome = r.outcome === 'rejected'
    ? html`<span class="error" title=${r.trigger || ''}>rejected: ${r.reason}</span>`
    : html`<span title=${r.trigger || ''}>${r.outcome}</span>`;
  return r.finished_at_ms ? html`<span>${outcome} · ${when(r.finished_at_ms)}</span>` : outcome;
}

function push(p) {
  if (!p) return html`<span class="muted">none yet</span>`;
  return html`<span>${when(p.at_ms)} · ${p.ok
    ? html`<span class="ok">accepted ${short(p.revision)}</span>`
    : html`<span class="error">${p.error || 'refused'}</span>`}</span>`;
}
