// lib/policy.js without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ancestors } from '../../lib/policy.js';

test('ancestors are the extends chain, parent first, and a cycle ends it', () => {
  const policies = { base: {}, main: { extends: 'base' }, kids: { extends: 'main' }, a: { extends: 'b' }, b: { extends: 'a' } };
  assert.deepEqual(ancestors(policies, 'kids'), ['main', 'base']);
  assert.deepEqual(ancestors(policies, 'base'), []);
  assert.deepEqual(ancestors(policies, 'a'), ['b']);
  assert.deepEqual(ancestors(policies, 'missing'), []);
});
