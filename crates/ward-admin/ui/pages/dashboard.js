// The dashboard: totals, queries and blocked over time, top names, blocked names, clients,
// policies and upstreams of a range (24 h per minute, 7 or 30 days per hour).
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
  const range = RANGES.find((r) => r.id === route.value.params.get('range')) || RANGES[0];
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    let live = true;
    const load = () =>
      get('/api/v1/stats', { range: range.id, resolution: range.resolution })
        .then((r) => {
          if (live) {
            setReport(r);
            setError(null);
          }
        })
        .catch((e) => live && setError(e.message));
    load();
    const timer = setInterval(load, 10000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [range.id]);

  return html`
    <section>
      <div class="heading">
        <h1>Dashboard</h1>
        <div class="segmented" role="group" aria-label="Range">
          ${RANGES.map(
            (r) => html`<button type="button" aria-pressed=${r.id === range.id}
              onClick=${() => navigate('dashboard', { range: r.id === '24h' ? '' : r.id })}>${r.label}</button>`,
          )}
        </div>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${report && html`<${Report} report=${report} />`}
    </section>`;
}

function Report({ report }) {
  const t = report.totals;
  return html`
    <div class="cards">
      <${Card} label="Queries" value=${count(t.queries)} id="queries" />
      <${Card} label="Blocked" value=${count(t.blocked)} note=${percent(report.blocked_ratio)} id="blocked" />
      <${Card} label="From the cache" value=${count(t.cached)} id="cached" />
      <${Card} label="Average answer" value=${ms(report.avg_processing_ms)} id="avg" />
    </div>
    <${Chart} series=${report.series} />
    <div class="grid">
      <${Top} title="Top names" rows=${report.top_names.map((r) => [r.name, r.count, href('check', { name: r.name })])} />
      <${Top} title="Top blocked" rows=${report.top_blocked.map((r) => [r.name, r.count, href('check', { name: r.name })])} />
      <${Top} title="Top clients" rows=${report.top_clients.map((r) => [r.name ? `${r.name} (${r.client})` : r.client, r.count])} />
      <${Top} title="Policies" rows=${report.policies.map((r) => [r.policy, r.queries])} />
      <${Upstreams} rows=${report.upstreams} />
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

function Upstreams({ rows }) {
  return html`<div class="panel"><h2>Upstreams</h2>
    ${rows.length === 0
      ? html`<p class="muted">No upstream answers in this range.</p>`
      : html`<table class="top-list"><thead><tr><th>Server</th><th class="num">Answers</th><th class="num">Average</th></tr></thead><tbody>
          ${rows.map((u) => html`<tr><td class="name">${u.upstream}</td><td class="num">${count(u.queries)}</td>
            <td class="num">${ms(u.avg_ms)}</td></tr>`)}
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
