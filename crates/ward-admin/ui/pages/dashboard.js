// The dashboard: totals, queries and blocked over time, top names, blocked names, clients,
// policies and upstreams of a range (24 h per minute, 7 or 30 days per hour), for
// everything or one scope (a policy, a subnet, a client), for this pod or (on a primary)
// every pod; each row leads to the query log filtered on it. Upstream health (answers,
// failures, the last error) comes from the status.
import { useEffect, useRef, useState } from '../vendor/hooks.js';
import { html } from '../lib/html.js';
import { route, navigate, href } from '../lib/route.js';
import { get } from '../lib/api.js';
import { count, percent, ms } from '../lib/format.js';

const RANGES = [
  { id: '24h', label: '24 hours', resolution: 'minute' },
  { id: '7d', label: '7 days', resolution: 'hour' },
  { id: '30d', label: '30 days', resolution: 'hour' },
];

export function Dashboard() {
  const params = route.value.params;
  const range = RANGES.find((r) => r.id === params.get('range')) || RANGES[0];
  const scope = { policy: params.get('policy') || '', client: params.get('client') || '', node: params.get('node') || '' };
  const [report, setReport] = useState(null);
  const [status, setStatus] = useState(null);
  const [policies, setPolicies] = useState([]);
  const [clients, setClients] = useState([]);
  const [error, setError] = useState(null);

  useEffect(() => {
    get('/api/v1/policies')
      .then((p) => setPolicies(Object.keys(p)))
      .catch(() => {});
    get('/api/v1/clients')
      .then(setClients)
      .catch(() => {});
  }, []);

  useEffect(() => {
    let live = true;
    const load = () => {
      get('/api/v1/stats', { range: range.id, resolution: range.resolution, ...scope })
        .then((r) => {
          if (live) {
            setReport(r);
            setError(null);
          }
        })
        .catch((e) => live && setError(e.message));
      get('/api/v1/status')
        .then((s) => live && setStatus(s))
        .catch(() => {});
    };
    load();
    const timer = setInterval(load, 10000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [params.toString()]);

  const go = (changes) => navigate('dashboard', { range: range.id === '24h' ? '' : range.id, ...scope, ...changes });
  const primary = status && status.sync && status.sync.role === 'primary';
  return html`
    <section>
      <div class="heading">
        <h1>Dashboard</h1>
        <div class="segmented" role="group" aria-label="Range">
          ${RANGES.map(
            (r) => html`<button type="button" aria-pressed=${r.id === range.id}
              onClick=${() => go({ range: r.id === '24h' ? '' : r.id })}>${r.label}</button>`,
          )}
        </div>
      </div>
      <${Scope} scope=${scope} policies=${policies} clients=${clients} primary=${primary} go=${go} />
      ${report && report.scope && report.scope.since_ms && report.scope.since_ms > report.from_ms
        && html`<p class="muted" role="note">Counted from the query log, which reaches back to
          ${new Date(report.scope.since_ms).toLocaleString()}.</p>`}
      ${report && report.nodes && report.nodes.filter((n) => !n.ok).map(
        (n) => html`<p class="error" role="alert">Pod ${n.node} is missing from these figures: ${n.error}</p>`,
      )}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${status && status.warnings && status.warnings.length > 0 && html`<ul class="warnings" role="alert">
        ${status.warnings.map((w) => html`<li>${w}</li>`)}</ul>`}
      ${report && html`<${Report} report=${report} scope=${scope} health=${status && status.upstreams} />`}
    </section>`;
}

/** Everything, one policy, or one client (an address, a subnet, a name); one pod or all. */
function Scope({ scope, policies, clients, primary, go }) {
  const kind = scope.policy ? 'policy' : scope.client ? 'client' : '';
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const which = String(form.get('kind') || '');
    const value = String(form.get(which === 'policy' ? 'policy' : 'client') || '').trim();
    go({
      policy: which === 'policy' ? value : '',
      client: which === 'client' ? value : '',
      node: String(form.get('node') || ''),
    });
  };
  const [shown, setShown] = useState(kind);
  useEffect(() => setShown(kind), [kind]);
  const subnets = clients.flatMap((c) => [c.subnet, ...(c.client_ids || [])]).filter(Boolean);
  const names = clients.map((c) => c.name).filter(Boolean);
  return html`<form class="inline scope" onSubmit=${submit} aria-label="Scope">
    <label>Scope <select name="kind" value=${shown} onChange=${(e) => setShown(e.currentTarget.value)}>
      <option value="">everything</option>
      <option value="policy">one policy</option>
      <option value="client">one subnet or client</option>
    </select></label>
    ${shown === 'policy' && html`<label>Policy <select name="policy" value=${scope.policy}>
      ${policies.map((p) => html`<option value=${p}>${p}</option>`)}</select></label>`}
    ${shown === 'client' && html`<label>Subnet or client <input name="client" value=${scope.client} list="scope-clients"
      placeholder="10.0.20.0/24, an address or a name" autocomplete="off" spellcheck="false" /></label>
      <datalist id="scope-clients">${[...subnets, ...names].map((v) => html`<option value=${v} />`)}</datalist>`}
    ${primary && html`<label>Pods <select name="node" value=${scope.node}>
      <option value="">this pod</option><option value="all">every pod</option></select></label>`}
    <button type="submit">Show</button>
  </form>`;
}

function Report({ report, scope, health }) {
  const t = report.totals;
  // The query log filtered on a row, within the dashboard's scope.
  const log = (filter) => href('log', { policy: scope.policy, client: scope.client, node: scope.node, ...filter });
  return html`
    <div class="cards">
      <${Card} label="Queries" value=${count(t.queries)} id="queries" />
      <${Card} label="Blocked" value=${count(t.blocked)} id="blocked"
        note=${percent(report.blocked_ratio) + (t.blocked_services ? ` · ${count(t.blocked_services)} by services` : '')} />
      ${t.safe_search > 0 && html`<${Card} label="Safe search" value=${count(t.safe_search)} id="safe-search" />`}
      <${Card} label="From the cache" value=${count(t.cached)} id="cached" />
      <${Card} label="Average answer" value=${ms(report.avg_processing_ms)} id="avg" />
    </div>
    <${Chart} series=${report.series} />
    <div class="grid">
      <${Top} title="Top names" rows=${report.top_names.map((r) => [r.name, r.count, log({ name: r.name })])} />
      <${Top} title="Top blocked" rows=${report.top_blocked.map((r) => [r.name, r.count, log({ name: r.name, verdict: 'blocked' })])} />
      <${Top} title="Top clients" rows=${report.top_clients.map((r) => [r.name ? `${r.name} (${r.client})` : r.client, r.count, log({ client: r.client })])} />
      <${Top} title="Policies" rows=${report.policies.map((r) => [r.policy, r.queries, log({ policy: r.policy })])} />
      <${Upstreams} rows=${report.upstreams} health=${health || []} log=${log} />
    </div>`;
}

function Card({ label, value, note, id }) {
  return html`<div class="card" data-card=${id}><div class="label">${label}</div>
    <div class="value">${value}</div>${note && html`<div class="note">${note}</div>`}</div>`;
}

function Top({ title, rows }) {
  return html`<div class="panel"><h2>${title}</h2>
    ${rows.length === 0
      ? html`<p class="muted">Nothing in this range.</p>`
      : html`<table class="top-list"><tbody>
          ${rows.map(([label, n, link]) => html`<tr><td class="name">${link ? html`<a href=${link}>${label}</a>` : label}</td>
            <td class="num">${count(n)}</td></tr>`)}
        </tbody></table>`}
  </div>`;
}

function Upstreams({ rows, health, log }) {
  return html`<div class="panel"><h2>Upstreams</h2>
    ${rows.length === 0
      ? html`<p class="muted">No upstream answers in this range.</p>`
      : html`<table class="top-list"><thead><tr><th>Server</th><th class="num">Answers</th><th class="num">Average</th></tr></thead><tbody>
          ${rows.map((u) => html`<tr><td class="name"><a href=${log({ upstream: u.upstream })}>${u.upstream}</a></td><td class="num">${count(u.queries)}</td>
            <td class="num">${ms(u.avg_ms)}</td></tr>`)}
        </tbody></table>`}
    ${health.length > 0 && html`<h3>Since this pod started</h3>
      <table class="top-list health"><thead><tr><th>Group · server</th><th class="num">Answered</th><th class="num">Failed</th></tr></thead><tbody>
        ${health.map((h) => html`<tr class=${h.healthy ? '' : 'failing'} data-server=${h.server}>
          <td class="name">${h.group} · ${h.server}${!h.healthy && h.last_error
            && html`<div class="note">failing: ${h.last_error}</div>`}</td>
          <td class="num">${count(h.answered)}</td><td class="num">${count(h.failed)}</td></tr>`)}
      </tbody></table>`}
  </div>`;
}

// Queries and blocked per bucket, drawn by uPlot (loaded with the first chart).
function Chart({ series }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    let gone = false;
    const data = [
      series.map((p) => p.time_ms / 1000),
      series.map((p) => p.queries),
      series.map((p) => p.blocked),
    ];
    import('../vendor/uplot.js').then(({ default: uPlot }) => {
      if (gone || !box.current) return;
      const width = box.current.clientWidth;
      if (plot.current) {
        plot.current.setData(data);
        return;
      }
      const style = getComputedStyle(document.documentElement);
      plot.current = new uPlot(
        {
          width,
          height: 220,
          series: [
            {},
            { label: 'Queries', stroke: style.getPropertyValue('--accent').trim(), width: 1.5 },
            { label: 'Blocked', stroke: style.getPropertyValue('--blocked').trim(), width: 1.5 },
          ],
          axes: [
            { stroke: style.getPropertyValue('--muted').trim() },
            { stroke: style.getPropertyValue('--muted').trim() },
          ],
          legend: { live: false },
        },
        data,
        box.current,
      );
    });
    return () => {
      gone = true;
    };
  }, [series]);
  useEffect(() => () => plot.current && plot.current.destroy(), []);
  return html`<div class="panel chart" ref=${box} aria-label="Queries and blocked over time"></div>`;
}
