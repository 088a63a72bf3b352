// Policies as the server reads them: each one extends at most one other.

/** The policies `name` extends, its parent first; a cycle stops the walk. */
export function ancestors(policies, name) {
  const out = [];
  const seen = new Set([name]);
  let p = policies[name];
  while (p && p.extends && !seen.has(p.extends)) {
    seen.add(p.extends);
    out.push(p.extends);
    p = policies[p.extends];
  }
  return out;
}
