// Policies and subnets: each policy's lists, custom rules, blocking mode and upstream; the
// subnet and ClientID → policy table with its overlaps and shadowed entries; and which policy an
// address gets, and why (the entry whose subnet is the longest that holds it).
import { useEffect, useState } from '../vendor/hooks.js';
import { html } from '../lib/html.js';
import { fromFile, fileTag } from '../lib/writes.js';
import { route, navigate, href } from '../lib/route.js';
import { get } from '../lib/api.js';
import { entryFor, parseIp, warnings } from '../lib/subnet.js';

export function Policies() {
  const ip = route.value.params.get('ip') || '';
  const [config, setConfig] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    get('/api/v1/config')
      .then((c) => setConfig(c.config))
      .catch((e) => setError(e.message));
  }, []);

  if (error) return html`<section><h1>Policies and subnets</h1><p class="error" role="alert">${error}</p></section>`;
  if (!config) return html`<section><h1>Policies and subnets</h1></section>`;
  const clients = config.clients || [];
  const notes = warnings(clients);
  const submit = (event) => {
    event.preventDefault();
    navigate('policies', { ip: new FormData(event.currentTarget).get('ip').trim() });
  };
  const entry = ip ? entryFor(clients, ip) : null;
  return html`
    <section>
      <h1>Policies and subnets</h1>
      <form class="inline" onSubmit=${submit}>
        <label>Which policy does this address get? <input name="ip" value=${ip}
          placeholder="192.168.20.31" autocomplete="off" spellcheck="false" /></label>
        <button type="submit">Show</button>
      </form>
      ${ip && html`<${Answer} ip=${ip} entry=${entry} fallback=${config.default_policy} />`}

      <h2>Policies</h2>
      <div class="scroll"><table class="verdicts policies">
        <thead><tr><th>Policy</th><th>Extends</th><th>Lists</th><th>Own rules</th><th>Blocking</th><th>Upstream</th></tr></thead>
        <tbody>
          ${Object.entries(config.policies).map(([name, p]) => html`<tr data-policy=${name}>
            <td data-label="Policy">${name}${name === config.default_policy ? html` <span class="tag">default</span>` : ''}${fromFile('policies', name) && fileTag()}</td>
            <td data-label="Extends">${p.extends || ''}</td>
            <td data-label="Lists">${(p.lists || []).join(', ')}</td>
            <td data-label="Own rules">${(p.rules || []).length}</td>
            <td data-label="Blocking">${p.blocking_mode || html`<span class="muted">${config.dns.blocking_mode} (global)</span>`}</td>
            <td data-label="Upstream">${p.upstream || html`<span class="muted">default</span>`}</td>
          </tr>`)}
        </tbody>
      </table></div>

      <h2>Subnets</h2>
      ${notes.length > 0 && html`<ul class="warnings">${notes.map((w) => html`<li class=${w.kind} data-subnet=${w.subnet}>${w.text}</li>`)}</ul>`}
      <div class="scroll"><table class="verdicts subnets">
        <thead><tr><th>Subnet</th><th>ClientIDs</th><th>Policy</th><th>Name</th><th>Tags</th></tr></thead>
        <tbody>
          ${clients.map((c) => html`<tr data-subnet=${c.subnet || ''} data-client-ids=${(c.client_ids || []).join(' ')}>
            <td data-label="Subnet">${c.subnet ? html`<a href=${href('log', { client: c.subnet })}>${c.subnet}</a>` : html`<span class="muted">any address</span>`}</td>
            <td data-label="ClientIDs">${(c.client_ids || []).map((id, i) => html`${i ? ', ' : ''}<a href=${href('log', { client: id })}>${id}</a>`)}</td>
            <td data-label="Policy">${c.policy}</td>
            <td data-label="Name">${c.name || ''}</td>
            <td data-label="Tags">${(c.tags || []).join(', ')}</td>
          </tr>`)}
          <tr><td data-label="Subnet" class="muted">any other address</td><td></td><td data-label="Policy">${config.default_policy}</td><td></td><td></td></tr>
        </tbody>
      </table></div>
    </section>`;
}

function Answer({ ip, entry, fallback }) {
  if (!parseIp(ip)) return html`<p class="error" role="alert">${ip} is not an IP address.</p>`;
  const policy = entry ? entry.policy : fallback;
  const why = entry
    ? html`its longest matching subnet is <strong>${entry.subnet}</strong>${entry.name ? ` (${entry.name})` : ''}`
    : html`no subnet of <code>clients</code> holds it, so it gets <code>default_policy</code>`;
  return html`<p class="answer" data-policy=${policy}>
    <strong>${ip}</strong> gets <strong>${policy}</strong>: ${why}.
    <a href=${href('check', { client: ip })}>Check a name for it</a>.
  </p>`;
}
