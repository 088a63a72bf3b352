// Local records as the server answers them: a name's own records if it has any, else those
// of the closest wildcard above it (ward-state's LocalRecords). Pure functions, no DOM.

/** The zone a wildcard name covers (`*.home.example.com` → `home.example.com`), or null. */
export const wildcardZone = (name) => (name.startsWith('*.') ? name.slice(2) : null);

/** The closest of `zones` strictly above `name`, or null: the wildcard that would answer it. */
export function closestZone(name, zones) {
  let rest = name;
  let dot;
  while ((dot = rest.indexOf('.')) >= 0) {
    rest = rest.slice(dot + 1);
    if (zones.has(rest)) return rest;
  }
  return null;
}

/**
 * Which record names shadow which wildcard: `overrides` maps a specific name to the
 * wildcard it takes the place of, `overriddenBy` a wildcard to the specific names that do
 * (each name once, however many records it has).
 */
export function overrides(records) {
  const names = [...new Set(records.map((r) => r.name.toLowerCase()))];
  const zones = new Set(names.map(wildcardZone).filter((z) => z !== null));
  const result = { overrides: new Map(), overriddenBy: new Map() };
  for (const zone of zones) result.overriddenBy.set(`*.${zone}`, []);
  for (const name of names) {
    if (wildcardZone(name) !== null) continue;
    const zone = closestZone(name, zones);
    if (zone === null) continue;
    result.overrides.set(name, `*.${zone}`);
    result.overriddenBy.get(`*.${zone}`).push(name);
  }
  return result;
}

/** The words of a comma- or space-separated list (`corp.example, 10.in-addr.arpa`). */
export const words = (text) => text.split(/[\s,]+/).filter(Boolean);

/** The non-empty lines of a textarea, trimmed. */
export const lines = (text) => text.split('\n').map((l) => l.trim()).filter(Boolean);
