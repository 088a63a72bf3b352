// lib/records.js and the time formats of lib/format.js without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { overrides, closestZone, wildcardZone, words, lines } from '../../lib/records.js';
import { duration, ago } from '../../lib/format.js';

const record = (name) => ({ name, type: 'A', value: '192.0.2.1', ttl: 300 });

test('a specific name overrides the closest wildcard above it, as the server answers', () => {
  const records = ['*.home.example.com', 'auth.home.example.com', 'auth.home.example.com', '*.example.com',
    'a.b.home.example.com', 'home.example.com', 'www.example.com', 'other.example.net', '*.b.home.example.com']
    .map(record);
  const { overrides: over, overriddenBy } = overrides(records);
  assert.equal(over.get('auth.home.example.com'), '*.home.example.com');
  assert.equal(over.get('a.b.home.example.com'), '*.b.home.example.com', 'the closest wildcard');
  assert.equal(over.get('home.example.com'), '*.example.com', 'a wildcard covers names strictly below its zone');
  assert.equal(over.get('www.example.com'), '*.example.com');
  assert.equal(over.has('other.example.net'), false);
  assert.equal(over.has('*.home.example.com'), false, 'wildcards override nothing');
  assert.deepEqual(overriddenBy.get('*.home.example.com'), ['auth.home.example.com'], 'each name once');
  assert.deepEqual(overriddenBy.get('*.example.com'), ['home.example.com', 'www.example.com']);
  assert.deepEqual(overriddenBy.get('*.b.home.example.com'), ['a.b.home.example.com']);
  assert.equal(overriddenBy.has('auth.home.example.com'), false);
});

test('zones, words and lines', () => {
  assert.equal(wildcardZone('*.home.example.com'), 'home.example.com');
  assert.equal(wildcardZone('home.example.com'), null);
  assert.equal(closestZone('x.y.z', new Set(['z', 'y.z'])), 'y.z');
  assert.equal(closestZone('z', new Set(['z'])), null);
  assert.deepEqual(words(' corp.example,10.in-addr.arpa  home.example, '), ['corp.example', '10.in-addr.arpa', 'home.example']);
  assert.deepEqual(lines('1.1.1.1\n\n  tls://9.9.9.9  \n'), ['1.1.1.1', 'tls://9.9.9.9']);
});

test('durations and times ago, rounded down to what a person reads', () => {
  for (const [span, text] of [
    [0, '0 s'], [59_999, '59 s'], [60_000, '1 min'], [3_599_000, '59 min'], [3_600_000, '1 h'],
    [3_660_000, '1 h 1 min'], [86_400_000, '1 d'], [90_000_000, '1 d 1 h'], [-5, '0 s'], [null, '0 s'],
  ]) {
    assert.equal(duration(span), text, String(span));
  }
  assert.equal(ago(1_000, 13_500), '12 s ago');
  assert.equal(ago(1_000, 1_500), 'just now');
  assert.equal(ago(2_000, 1_000), 'just now', 'a clock ahead of the browser');
});
