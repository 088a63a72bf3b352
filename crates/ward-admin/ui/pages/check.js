// Check a name: its verdict under every policy side by side (rule, list, service,
// schedule, answer), with the client's name and tags when a client address is given,
// now or at another time ("would YouTube be blocked at 21:30?").
import { useEffect, useState } from '../vendor/hooks.js';
import { html } from '../lib/html.js';
import { route, navigate } from '../lib/route.js';
import { get } from '../lib/api.js';
import { verdict } from '../lib/format.js';

const QTYPES = ['A', 'AAAA', 'HTTPS', 'CNAME', 'MX', 'TXT', 'PTR', 'SRV'];

export function Check() {
  const params = route.value.params;
  const name = params.get('name') || '';
  const qtype = params.get('qtype') || 'A';
  const client = params.get('client') || '';
  const at = params.get('at') || '';
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    if (!name) {
      setRows(null);
      return;
    }
    let live = true;
    setError(null);
    (async () => {
      const policies = Object.keys(await get('/api/v1/policies'));
      const checks = await Promise.all(
        policies.map((policy) => get('/api/v1/check', { name, qtype, client, policy, at })),
      );
      // The client's own policy, when a client is given: which one its subnet picks.
      const own = client ? await get('/api/v1/check', { name, qtype, client, at }) : null;
      if (live) setRows({ checks, own: own && own.policy });
    })().catch((e) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [name, qtype, client, at]);

  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    navigate('check', {
      name: form.get('name').trim(),
      qtype: form.get('qtype'),
      client: form.get('client').trim(),
      at: form.get('at').trim(),
    });
  };

  return html`
    <section>
      <h1>Check a name</h1>
      <form class="inline" onSubmit=${submit}>
        <label>Name <input name="name" required value=${name} placeholder="ads.example.com"
          autocomplete="off" spellcheck="false" /></label>
        <label>Type <select name="qtype" value=${qtype}>
          ${QTYPES.map((t) => html`<option value=${t}>${t}</option>`)}
        </select></label>
        <label>Client <input name="client" value=${client} placeholder="192.168.20.31 (optional)"
          autocomplete="off" spellcheck="false" /></label>
        <label>When <input name="at" value=${at} placeholder="now, 21:30, fri 21:30"
          autocomplete="off" spellcheck="false" /></label>
        <button type="submit">Check</button>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${rows && html`<${Verdicts} rows=${rows} />`}
    </section>`;
}

function Verdicts({ rows }) {
  return html`
    <div class="scroll">
      <table class="verdicts">
        <thead><tr><th>Policy</th><th>Verdict</th><th>Rule</th><th>List</th><th>Line</th><th>Schedule</th><th>Answer</th></tr></thead>
        <tbody>
          ${rows.checks.map((c) => {
            const rule = c.rules[0];
            return html`<tr class=${c.filtered ? 'blocked' : ''} data-policy=${c.policy}>
              <td data-label="Policy">${c.policy}${rows.own === c.policy ? html` <span class="tag">this client's</span>` : ''}</td>
              <td data-label="Verdict">${verdict(c.reason)}${c.service ? ` (${c.service.name})` : ''}${c.safe_search ? ` (${c.safe_search.name})` : ''}</td>
              <td data-label="Rule">${rule ? html`<code>${rule.text}</code>` : ''}</td>
              <td data-label="List">${rule ? rule.list : ''}</td>
              <td data-label="Line">${rule && rule.line ? rule.line : ''}</td>
              <td data-label="Schedule">${c.schedule || ''}</td>
              <td data-label="Answer">${answer(c)}</td>
            </tr>`;
          })}
        </tbody>
      </table>
    </div>`;
}

function answer(c) {
  if (c.rewrite) return c.rewrite.cname ? `CNAME ${c.rewrite.cname}` : c.rewrite.rcode;
  if (c.ip_addrs && c.ip_addrs.length) return c.ip_addrs.join(', ');
  if (c.local_record) return 'local record';
  if (c.filtered) return 'the policy’s blocking answer';
  return 'forwarded';
}
