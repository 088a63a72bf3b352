// lib/subnet.js, without a browser: parsing, longest prefix, warnings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIp, parseSubnet, entryFor, warnings } from '../../lib/subnet.js';

test('addresses parse as the server reads them', () => {
  assert.deepEqual(parseIp('192.168.20.31'), { v: 4, n: 0xc0a8141fn });
  assert.equal(parseIp('256.1.1.1'), null);
  assert.equal(parseIp('1.2.3'), null);
  assert.deepEqual(parseIp('::1'), { v: 6, n: 1n });
  assert.deepEqual(parseIp('fd00::71'), { v: 6, n: (0xfd00n << 112n) | 0x71n });
  assert.deepEqual(parseIp('::ffff:10.0.0.1'), parseIp('10.0.0.1'), 'IPv4-mapped is IPv4');
  assert.equal(parseIp('fd00::1::2'), null);
  assert.equal(parseIp('hello'), null);
  assert.deepEqual(parseSubnet('10.0.20.7/24'), { v: 4, n: 0x0a001400n, len: 24 });
  assert.equal(parseSubnet('10.0.0.0/33'), null);
});

test('the longest prefix that holds an address decides', () => {
  const clients = [
    { subnet: '192.168.0.0/16', policy: 'main' },
    { subnet: '192.168.20.0/24', policy: 'kids' },
    { subnet: '192.168.20.31/32', policy: 'parents' },
    { subnet: 'fd00:20::/64', policy: 'kids' },
  ];
  assert.equal(entryFor(clients, '192.168.20.31').policy, 'parents');
  assert.equal(entryFor(clients, '192.168.20.32').policy, 'kids');
  assert.equal(entryFor(clients, '192.168.1.5').policy, 'main');
  assert.equal(entryFor(clients, 'fd00:20::9').policy, 'kids');
  assert.equal(entryFor(clients, '10.0.0.1'), null);
  assert.equal(entryFor(clients, 'not an address'), null);
});

test('repeated subnets and subnets inside others are reported', () => {
  const w = warnings([
    { subnet: '192.168.0.0/16', policy: 'main' },
    { subnet: '192.168.20.0/24', policy: 'kids' },
    { subnet: '192.168.20.0/24', policy: 'guest' },
    { subnet: '192.168.30.0/24', policy: 'main' },
  ]);
  const kinds = w.map((x) => `${x.kind} ${x.subnet}`).sort();
  assert.deepEqual(kinds, [
    'inside 192.168.20.0/24',
    'inside 192.168.20.0/24',
    'shadowed 192.168.20.0/24',
  ]);
  assert.match(w.find((x) => x.kind === 'shadowed').text, /\(guest\) repeats the subnet of an entry above it \(kids\)/);
  // the same policy inside a wider subnet is nothing to warn about
  assert.deepEqual(warnings([{ subnet: '10.0.0.0/8', policy: 'a' }, { subnet: '10.1.0.0/16', policy: 'a' }]), []);
});
