// The custom rules editor: one policy's own rules, each line checked by the API as it is
// typed (GET /api/v1/rules/check, a moment after the typing stops), saved whole; the
// rules it inherits shown above, read-only.
import { useEffect, useRef, useState } from '../vendor/hooks.js';
import { html } from '../lib/html.js';
import { route, navigate } from '../lib/route.js';
import { get, put } from '../lib/api.js';
import { readOnly } from '../lib/session.js';
import { ancestors } from '../lib/policy.js';

/** The rules a policy inherits, as [policy, rule]: the farthest ancestor's first. */
function inherited(policies, name) {
  return ancestors(policies, name)
    .reverse()
    .flatMap((p) => ((policies[p] && policies[p].rules) || []).map((r) => [p, r]));
}

export function Rules() {
  const [policies, setPolicies] = useState(null);
  const [text, setText] = useState('');
  const [verdicts, setVerdicts] = useState({});
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const cache = useRef(new Map());
  const names = policies ? Object.keys(policies) : [];
  const policy = route.value.params.get('policy') || names[0] || '';

  useEffect(() => {
    get('/api/v1/policies')
      .then(setPolicies)
      .catch((e) => setError(e.message));
  }, []);

  useEffect(() => {
    if (!policy) return;
    get(`/api/v1/policies/${encodeURIComponent(policy)}/rules`)
      .then((rules) => {
        setText(rules.join('\n'));
        setNotice(null);
      })
      .catch((e) => setError(e.message));
  }, [policy]);

  // Each distinct line asked once; the answers kept while the page is open.
  useEffect(() => {
    const timer = setTimeout(async () => {
      const lines = [...new Set(text.split('\n').filter((l) => l.trim()))];
      const missing = lines.filter((l) => !cache.current.has(l));
      try {
        for (const line of missing) cache.current.set(line, await get('/api/v1/rules/check', { rule: line }));
        setVerdicts(Object.fromEntries(lines.map((l) => [l, cache.current.get(l)])));
      } catch (e) {
        setError(e.message);
      }
    }, 250);
    return () => clearTimeout(timer);
  }, [text]);

  const lines = text.split('\n');
  const problems = lines
    .map((l, i) => [i + 1, l, verdicts[l]])
    .filter(([, l, v]) => l.trim() && v && !v.ok);
  const save = async () => {
    try {
      const rules = lines.map((l) => l.trim()).filter(Boolean);
      await put(`/api/v1/policies/${encodeURIComponent(policy)}/rules`, rules);
      setNotice(`saved ${rules.length} rules for ${policy}: serving now`);
      setError(null);
    } catch (e) {
      setError(e.message);
      setNotice(null);
    }
  };

  const from = policies ? inherited(policies, policy) : [];
  return html`
    <section>
      <div class="heading"><h1>Custom rules</h1>
        <label class="pick">Policy <select value=${policy} onChange=${(e) => navigate('rules', { policy: e.currentTarget.value })}>
          ${names.map((n) => html`<option value=${n}>${n}</option>`)}
        </select></label></div>
      ${from.length > 0 && html`<details class="panel inherited"><summary>${from.length === 1 ? "1 rule" : `${from.length} rules`} inherited</summary>
        <ol>${from.map(([p, r]) => html`<li><code>${r}</code> <span class="muted">from ${p}</span></li>`)}</ol></details>`}
      <textarea class="rules" name="rules" rows="14" spellcheck="false" readonly=${readOnly()}
        aria-label=${`Custom rules of ${policy}`} value=${text} onInput=${(e) => setText(e.currentTarget.value)}></textarea>
      <ul class="problems" aria-live="polite">
        ${problems.map(([n, l, v]) => html`<li data-line=${n}>line ${n}: <code>${l}</code>: ${v.problem}</li>`)}
      </ul>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      ${!readOnly() && html`<button type="button" data-action="save" onClick=${save}
        disabled=${problems.length > 0}>Save and apply</button>`}
    </section>`;
}
