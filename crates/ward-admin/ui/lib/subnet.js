// Addresses and subnets, for the policies page: which entry of `clients` an address falls
// in (the longest prefix wins, as in the server) and which entries overlap. Pure
// functions, no DOM.

/** An address as { v: 4 | 6, n: BigInt }, or null when it is not one. */
export function parseIp(text) {
  const s = String(text).trim();
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    const parts = s.split('.').map(Number);
    if (parts.some((p) => p > 255)) return null;
    return { v: 4, n: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) };
  }
  if (!s.includes(':') || !/^[0-9a-fA-F:.]+$/.test(s)) return null;
  let text6 = s;
  // an IPv4 tail (::ffff:192.0.2.1) as two groups
  const v4 = text6.match(/(\d{1,3}(\.\d{1,3}){3})$/);
  if (v4) {
    const ip = parseIp(v4[1]);
    if (!ip) return null;
    text6 = text6.slice(0, -v4[1].length) + `${(ip.n >> 16n).toString(16)}:${(ip.n & 0xffffn).toString(16)}`;
  }
  const halves = text6.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  const n = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  // an IPv4-mapped address is the IPv4 address, as the server sees it
  if (n >> 32n === 0xffffn) return { v: 4, n: n & 0xffffffffn };
  return { v: 6, n };
}

/** A subnet `a.b.c.d/len` (or an address: a host route) as { v, n, len }, or null. */
export function parseSubnet(text) {
  const [addr, len] = String(text).split('/');
  const ip = parseIp(addr);
  if (!ip) return null;
  const bits = ip.v === 4 ? 32 : 128;
  const prefix = len === undefined ? bits : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return null;
  return { ...ip, len: prefix, n: ip.n & mask(ip.v, prefix) };
}

function mask(v, len) {
  const bits = BigInt(v === 4 ? 32 : 128);
  const all = (1n << bits) - 1n;
  return len === 0 ? 0n : (all << (bits - BigInt(len))) & all;
}

/** Whether the address `ip` is inside `subnet` (both parsed). */
export function contains(subnet, ip) {
  return subnet.v === ip.v && (ip.n & mask(ip.v, subnet.len)) === subnet.n;
}

/** The entry of `clients` the address `text` falls in (the longest prefix), or null. */
export function entryFor(clients, text) {
  const ip = parseIp(text);
  if (!ip) return null;
  let best = null;
  for (const c of clients) {
    const net = parseSubnet(c.subnet);
    if (net && contains(net, ip) && (!best || net.len > best.net.len)) best = { entry: c, net };
  }
  return best && best.entry;
}

/**
 * What a person should know about `clients`: an entry whose subnet another entry repeats
 * (the first one serves, the later one never), and a subnet inside another one with a
 * different policy (its addresses get the inner one's: the longer prefix wins).
 */
export function warnings(clients) {
  const parsed = clients.map((c) => ({ c, net: parseSubnet(c.subnet) })).filter((x) => x.net);
  const out = [];
  for (let i = 0; i < parsed.length; i++) {
    for (let j = 0; j < parsed.length; j++) {
      if (i === j) continue;
      const a = parsed[i];
      const b = parsed[j];
      if (a.net.v !== b.net.v) continue;
      if (a.net.len === b.net.len && a.net.n === b.net.n) {
        if (i < j) out.push({ kind: 'shadowed', subnet: b.c.subnet, text: `${b.c.subnet} (${b.c.policy}) repeats the subnet of an entry above it (${a.c.policy}): it never decides` });
      } else if (b.net.len > a.net.len && contains(a.net, { v: b.net.v, n: b.net.n }) && a.c.policy !== b.c.policy) {
        out.push({ kind: 'inside', subnet: b.c.subnet, text: `${b.c.subnet} (${b.c.policy}) is inside ${a.c.subnet} (${a.c.policy}): its addresses get ${b.c.policy}` });
      }
    }
  }
  return out;
}
