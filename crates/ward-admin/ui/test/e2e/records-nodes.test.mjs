// The records & upstreams page and the nodes page in Chromium against real `ward serve`s:
// a record added on the page answers dig and goes when deleted; each upstream server's
// health as the status reports it; groups and forward rules edited there are what the
// API then serves; a primary lists its replica in sync, and the replica's UI is read-only.
// Screenshots land in target/ui-shots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWard, startUpstream, freePort, launch, watchedPage, shot, fitsAndShot, dig } from './harness.mjs';

// An upstream that answers (default) and one that never does (router), which the forward
// rule sends lan.example to; a wildcard and a specific name under it.
const CONFIG = `dns: { listen: ["127.0.0.1:0"], upstream_timeout: 300ms }
admin: { listen: "127.0.0.1:0" }
upstreams:
  default: { servers: ["{upstream}"] }
  router: { servers: ["{silent}"], strategy: failover }
forward: [ { zones: [lan.example], upstream: router } ]
records:
  - { name: "*.home.example.com", type: A, value: 192.168.1.20 }
  - { name: "auth.home.example.com", type: A, value: 192.168.1.72 }
  - { name: "media.lan.example", type: A, value: 10.0.0.9, managed_by: external-dns }
policies: { main: {} }
default_policy: main
data_dir: "{data_dir}"
`;

let upstream;
let silent;
let silent2;
let ward;
let browser;
const cleanup = [];

before(async () => {
  [upstream, silent, silent2] = await Promise.all([
    startUpstream(),
    startUpstream({ silent: true }),
    startUpstream({ silent: true }),
  ]);
  cleanup.push(() => upstream.stop(), () => silent.stop(), () => silent2.stop());
  ward = await startWard(CONFIG.replace('{upstream}', upstream.address).replace('{silent}', silent.address), 'ui-records');
  cleanup.push(() => ward.stop());
  browser = await launch();
  cleanup.push(() => browser.close());
});

after(async () => {
  for (const f of cleanup.reverse()) await f();
});

async function api(base, path) {
  const response = await fetch(base.url + path);
  assert.equal(response.status, 200, path);
  return response.json();
}

/** A page's problems but the refusals a test asked for (Chromium logs each as an error). */
const unexpected = (problems, statuses) =>
  problems.filter((p) => !statuses.some((s) => p.includes(`the server responded with a status of ${s}`)));

test('the records page shows which name overrides which wildcard; a record added there answers dig and goes when deleted', async () => {
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/records`);
  const part = page.locator('[data-part=records]');
  const row = (name) => part.locator(`tr[data-name="${name}"]`);
  await row('auth.home.example.com').waitFor();
  assert.equal(await row('auth.home.example.com').locator('td.shadow').textContent(), 'overrides *.home.example.com');
  assert.equal(await row('*.home.example.com').locator('td.shadow').textContent(), '1 specific name overrides it');
  // nas has no record of its own yet: the wildcard answers it
  assert.deepEqual(dig(ward.dns, 'nas.home.example.com'), ['192.168.1.20']);

  const form = part.locator('form.add-record');
  await form.locator('input[name=name]').fill('NAS.home.example.com');
  await form.locator('select[name=type]').selectOption('A');
  await form.locator('input[name=value]').fill('10.0.0.5');
  await form.locator('input[name=ttl]').fill('60');
  await form.locator('button[type=submit]').click();
  // the API keeps names lowercase: the row is the one it answers with
  await row('nas.home.example.com').waitFor();
  assert.match(await part.locator('p.notice').textContent(), /^added NAS\.home\.example\.com A 10\.0\.0\.5: serving now$/);
  assert.deepEqual(dig(ward.dns, 'nas.home.example.com'), ['10.0.0.5']);
  assert.deepEqual(await row('nas.home.example.com').locator('td').allTextContents(),
    ['nas.home.example.com', 'A', '10.0.0.5', '60 s', 'overrides *.home.example.com', 'Delete']);
  assert.equal(await row('*.home.example.com').locator('td.shadow').textContent(), '2 specific names override it');
  assert.equal(await form.locator('input[name=name]').inputValue(), '', 'the form is emptied');

  // a value the API refuses: its message, and nothing added
  await form.locator('input[name=name]').fill('printer.home.example.com');
  await form.locator('input[name=value]').fill('not-an-address');
  await form.locator('button[type=submit]').click();
  const alert = part.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.textContent(), /value "not-an-address": an A record needs an IPv4 address/);
  assert.equal(await row('printer.home.example.com').count(), 0);

  await row('nas.home.example.com').locator('button[data-action=delete]').click();
  await row('nas.home.example.com').waitFor({ state: 'detached' });
  assert.equal(await alert.count(), 0, 'the error went with the next write');
  assert.deepEqual(dig(ward.dns, 'nas.home.example.com'), ['192.168.1.20'], 'the wildcard again');
  const records = await api(ward, '/api/v1/records');
  assert.deepEqual(records.map((r) => r.name), ['*.home.example.com', 'auth.home.example.com', 'media.lan.example']);
  // external-dns's record says whose it is; the others do not
  assert.equal(await row('media.lan.example').locator('span.tag.managed').textContent(), 'external-dns');
  assert.equal(await row('auth.home.example.com').locator('span.tag.managed').count(), 0);
  assert.deepEqual(unexpected(page.problems, [400]), []);
  await page.close();
});

test('the upstreams section shows each server answering or failing, and edits groups', async () => {
  assert.deepEqual(dig(ward.dns, 'www.example'), ['127.1.0.1'], 'forwarded to default');
  assert.deepEqual(dig(ward.dns, 'nas.lan.example'), [], 'forwarded to router, which does not answer');
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/records`);
  const part = page.locator('[data-part=upstreams]');
  const group = (name) => part.locator(`article[data-group="${name}"]`);
  const status = await api(ward, '/api/v1/status');

  const answering = group('default').locator(`tr[data-server="${upstream.address}"]`);
  await answering.locator('.badge.healthy').waitFor();
  const cells = await answering.locator('td').allTextContents();
  const health = status.upstreams.find((h) => h.group === 'default');
  assert.equal(cells[0], upstream.address);
  assert.equal(cells[1], 'healthy');
  assert.ok(Number(cells[2]) >= 1, `answered: ${cells[2]}`);
  assert.equal(cells[3], '0');
  assert.match(cells[4], /^\d+(\.\d+)? ms$/);
  assert.equal(cells[5], 'none');
  assert.ok(health.answered >= 1);

  const failing = group('router').locator(`tr[data-server="${silent.address}"]`);
  await failing.locator('.badge.failing').waitFor();
  const error = await failing.locator('td.last-error').textContent();
  const down = status.upstreams.find((h) => h.group === 'router');
  assert.match(down.last_error, /timed out/);
  assert.ok(error.startsWith(`${down.last_error} · `), error);
  assert.match(error, / · (just now|\d+ s ago)$/);

  // edit: two servers, round robin
  await group('router').locator('button[data-action=edit]').click();
  await group('router').locator('textarea[name=servers]').fill(`${silent.address}\n\n  ${silent2.address}  \n`);
  await group('router').locator('select[name=strategy]').selectOption('round_robin');
  await group('router').locator('button[type=submit]').click();
  await part.locator('p.notice').waitFor();
  assert.equal(await part.locator('p.notice').textContent(), 'saved upstream group router: serving now');
  assert.deepEqual(await group('router').locator('ul.servers li').allTextContents(), [silent.address, silent2.address]);
  assert.equal(await group('router').locator('h3 .tag').textContent(), 'round robin');
  const groups = await api(ward, '/api/v1/upstreams');
  assert.deepEqual(groups.router, { servers: [silent.address, silent2.address], strategy: 'round_robin' });
  // health follows the group's servers: the new one has not been asked
  await group('router').locator(`tr[data-server="${silent2.address}"] .badge.idle`).waitFor();

  // a group a forward rule uses is not removed: the API's 409 says why
  await group('router').locator('button[data-action=delete-group]').click();
  const alert = part.getByRole('alert');
  await alert.waitFor();
  assert.equal(await alert.textContent(), 'upstream group "router" is used by forward[0] (lan.example); change them first');
  assert.ok((await api(ward, '/api/v1/upstreams')).router);

  // add a group, then remove it
  await part.locator('button[data-action=add-group]').click();
  const adding = part.locator('form.group-form');
  await adding.locator('input[name=name]').fill('spare');
  await adding.locator('textarea[name=servers]').fill(upstream.address);
  await adding.locator('select[name=strategy]').selectOption('failover');
  await adding.locator('button[type=submit]').click();
  await group('spare').waitFor();
  assert.deepEqual((await api(ward, '/api/v1/upstreams')).spare, { servers: [upstream.address], strategy: 'failover' });
  await group('spare').locator('button[data-action=delete-group]').click();
  await group('spare').waitFor({ state: 'detached' });
  assert.equal((await api(ward, '/api/v1/upstreams')).spare, undefined);
  assert.deepEqual(unexpected(page.problems, [409]), []);
  await page.close();
});

test('forwarding: rules edited on the page are saved whole, normalised, and serve', async () => {
  assert.deepEqual(dig(ward.dns, 'www.corp.example'), ['127.1.0.1'], 'the default group before');
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/records`);
  const part = page.locator('[data-part=forward]');
  await part.locator('tr[data-zones="lan.example"]').waitFor();
  assert.deepEqual(await part.locator('tr[data-zones="lan.example"] td').allTextContents(), ['lan.example', 'router', 'Remove']);
  const form = part.locator('form.add-forward');
  // a bad zone: the API names the field
  await form.locator('input[name=zones]').fill('bad!zone.example');
  await form.locator('select[name=upstream]').selectOption('router');
  await form.locator('button[type=submit]').click();
  await part.locator('button[data-action=save-forward]').click();
  const alert = part.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.textContent(), /^forward\[1\]\.zones\[0\]: invalid name "bad!zone\.example": '!' is not allowed in a name$/);
  await part.locator('tr[data-zones="bad!zone.example"] button[data-action=remove]').click();
  // comma and space separated, in mixed case with a trailing dot
  await form.locator('input[name=zones]').fill('Corp.Example, 10.in-addr.arpa.');
  await form.locator('select[name=upstream]').selectOption('router');
  await form.locator('button[type=submit]').click();
  await part.locator('button[data-action=save-forward]').click();
  await part.locator('p.notice').waitFor();
  assert.equal(await part.locator('p.notice').textContent(), 'saved 2 forward rules: serving now');
  await part.locator('tr[data-zones="corp.example 10.in-addr.arpa"]').waitFor();
  assert.equal(await part.locator('button[data-action=save-forward]').count(), 0, 'nothing left unsaved');
  assert.deepEqual(await api(ward, '/api/v1/forward'), [
    { zones: ['lan.example'], upstream: 'router' },
    { zones: ['corp.example', '10.in-addr.arpa'], upstream: 'router' },
  ]);
  assert.deepEqual(dig(ward.dns, 'www.corp.example'), [], 'now the router, which does not answer');
  assert.deepEqual(unexpected(page.problems, [400]), []);
  await page.close();
});

test('the nodes page of a standalone Ward shows this pod, and asks again every 5 s', async () => {
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/nodes`);
  const card = page.locator('article.node[data-address=self]');
  await card.waitFor();
  const [self] = (await api(ward, '/api/v1/nodes')).nodes;
  const field = (f) => card.locator(`dd[data-field=${f}]`).textContent();
  assert.equal(await card.locator('h2 .tag').textContent(), 'this pod');
  assert.equal(await field('role'), 'standalone');
  assert.equal(await field('generation'), String(self.generation));
  assert.equal(await field('revision'), 'none');
  // The last change is the API write, not the watcher's echo of its save.
  assert.match(await field('last-reload'), /^applied · (just now|\d+ s ago)$/);
  assert.match(await field('up'), /^\d+ (s|min)$/);
  assert.equal(await card.locator('dd[data-field=sync]').count(), 0, 'no sync on a standalone node');
  // a write elsewhere: the page shows its generation within a refresh
  const response = await fetch(`${ward.url}/api/v1/records`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Ward-UI': '1' },
    body: JSON.stringify({ name: 'tv.home.example.com', type: 'A', value: '10.0.0.9' }),
  });
  assert.equal(response.status, 200);
  const { outcome } = await response.json();
  assert.equal(outcome.generation, self.generation + 1);
  await page.waitForFunction((g) => document.querySelector('article.node dd[data-field=generation]')?.textContent === g,
    String(outcome.generation), { timeout: 8000 });
  assert.deepEqual(page.problems, []);
  await page.close();
});

// A primary on 127.0.0.1 and its replica on 127.0.0.2, as tests/sync_e2e.rs runs them.
let primary;
let replica;
let replicaAddress;

async function cluster() {
  const [primaryPort, replicaPort] = [await freePort('127.0.0.1'), await freePort('127.0.0.2')];
  replicaAddress = `127.0.0.2:${replicaPort}`;
  const token = { 'sync-token': 'a-shared-ui-sync-token\n' };
  const filtering = `upstreams: { default: { servers: ["${upstream.address}"] } }
policies: { main: { rules: [] } }
default_policy: main
`;
  [primary, replica] = await Promise.all([
    startWard(`dns: { listen: ["127.0.0.1:0"] }
admin: { listen: "127.0.0.1:${primaryPort}" }
data_dir: "{data_dir}"
sync:
  role: primary
  replicas: ["http://${replicaAddress}"]
  token_file: "{dir}/sync-token"
${filtering.replace('rules: []', 'rules: ["||ads.example^"]')}`, 'ui-primary', token, { env: { HOSTNAME: 'ward-primary' } }),
    startWard(`dns: { listen: ["127.0.0.2:0"] }
admin: { listen: "${replicaAddress}" }
data_dir: "{data_dir}"
sync:
  role: replica
  primary: "http://127.0.0.1:${primaryPort}"
  token_file: "{dir}/sync-token"
  interval: 1s
${filtering}`, 'ui-replica', token, { env: { HOSTNAME: 'ward-replica' } }),
  ]);
  cleanup.push(() => primary.stop(), () => replica.stop());
}

test('a primary lists its replica in sync; the replica says it is one and offers no writes', async () => {
  await cluster();
  // The primary's first push may come before the replica has loaded a config (503); a
  // rule written on the primary once both serve is pushed and accepted.
  const nodesOnce = async (done) => {
    let nodes;
    for (let i = 0; i < 100; i++) {
      nodes = (await api(primary, '/api/v1/nodes')).nodes;
      if (nodes[1] && done(nodes)) break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    return nodes;
  };
  let nodes = await nodesOnce((n) => n[1].in_sync);
  assert.equal(nodes[1].in_sync, true, JSON.stringify(nodes[1]));
  const write = await fetch(`${primary.url}/api/v1/policies/main/rules`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json', 'X-Ward-UI': '1' },
    body: JSON.stringify(['||ads.example^', '||more.example^']),
  });
  assert.equal(write.status, 200, await write.text());
  const before = nodes[0].revision;
  nodes = await nodesOnce((n) => n[0].revision !== before && n[1].in_sync && n[1].last_push
    && n[1].last_push.ok && n[1].last_push.revision === n[0].revision);
  assert.equal(nodes.length, 2);
  assert.equal(nodes[1].in_sync, true, JSON.stringify(nodes[1]));
  assert.equal(nodes[1].last_push.revision, nodes[0].revision, JSON.stringify(nodes[1]));
  assert.deepEqual(dig(replica.dns, 'x.more.example', '127.0.0.2'), ['0.0.0.0'], "the replica serves the primary's rule");

  const page = await watchedPage(browser);
  await page.goto(`${primary.url}/ui/nodes`);
  const self = page.locator('article.node[data-node=ward-primary]');
  const other = page.locator('article.node[data-node=ward-replica]');
  await other.locator('dd[data-field=sync] .badge.healthy').waitFor();
  assert.equal(await page.locator('article.node').count(), 2);
  assert.equal(await self.locator('h2 .tag').textContent(), 'this pod');
  assert.equal(await self.locator('dd[data-field=role]').textContent(), 'primary');
  assert.equal(await other.locator('h2 .tag').count(), 0);
  assert.equal(await other.locator('dd[data-field=role]').textContent(), 'replica');
  assert.equal(await other.locator('dd[data-field=sync]').textContent(), 'in sync ✓');
  assert.equal(await other.getAttribute('data-address'), replicaAddress);
  const revision = nodes[0].revision.slice(0, 8);
  assert.equal(await self.locator('dd[data-field=revision]').textContent(), revision);
  assert.equal(await other.locator('dd[data-field=revision]').textContent(), revision);
  assert.match(await other.locator('dd[data-field=last-push]').textContent(), new RegExp(`^(just now|\\d+ s ago) · accepted ${revision}$`));
  assert.match(await other.locator('dd[data-field=last-pull]').textContent(), /^(just now|\d+ s ago)$/);
  assert.match(await other.locator('dd[data-field=last-reload]').textContent(), /^applied · /);
  assert.equal(await page.locator('p.banner').count(), 0, 'the primary takes writes');
  assert.deepEqual(page.problems, []);

  // The replica's own UI: the banner, a link to the primary, no write buttons.
  const primaryUi = primary.url.replace(/\/?$/, '/ui/');
  await page.goto(`${replica.url}/ui/nodes`);
  const banner = page.locator('p.banner');
  await banner.waitFor();
  assert.match(await banner.textContent(), /^Read-only: this is a replica; change things on its primary/);
  assert.equal(await banner.locator('a').getAttribute('href'), primaryUi);
  assert.equal(await page.locator('p.replica-of a').getAttribute('href'), `${primaryUi}nodes`);
  const own = page.locator('article.node[data-address=self]');
  await own.waitFor();
  assert.equal(await own.locator('dd[data-field=role]').textContent(), 'replica');
  assert.match(await own.locator('dd[data-field=last-pull]').textContent(), /^(just now|\d+ s ago)$/);
  await shot(page, 'nodes-replica-light-desktop');
  await page.goto(`${replica.url}/ui/records`);
  await page.locator('[data-part=upstreams] article[data-group=default]').waitFor();
  await page.locator('[data-part=forward] p.muted').first().waitFor();
  assert.equal(await page.locator('main form').count(), 0, 'no forms');
  assert.equal(await page.locator('main button').count(), 0, 'no buttons');
  assert.deepEqual(page.problems, []);
  await page.close();
});

for (const colorScheme of ['light', 'dark']) {
  for (const [device, viewport] of [
    ['desktop', { width: 1280, height: 900 }],
    ['phone', { width: 360, height: 780 }],
  ]) {
    test(`records and nodes in ${colorScheme} on a ${device}: themed, no horizontal scroll`, async () => {
      const page = await watchedPage(browser, { viewport, colorScheme });
      for (const [name, url, ready] of [
        ['records', `${ward.url}/ui/records`, '[data-part=upstreams] .badge.failing'],
        ['nodes', `${primary.url}/ui/nodes`, 'article.node[data-node=ward-replica] .badge.healthy'],
      ]) {
        await page.goto(url);
        await page.waitForSelector(ready);
        await fitsAndShot(page, name, colorScheme, device);
      }
      assert.deepEqual(page.problems, []);
      await page.close();
    });
  }
}

test('a replica that does not answer is shown with the reason', async () => {
  await replica.stop();
  const page = await watchedPage(browser);
  await page.goto(`${primary.url}/ui/nodes`);
  const card = page.locator(`article.node[data-address="${replicaAddress}"]`);
  const alert = card.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.textContent(), new RegExp(`^Did not answer: error sending request for url \\(http://${replicaAddress}/api/v1/status\\)`));
  assert.equal(await card.getAttribute('class'), 'panel node failing');
  assert.equal(await card.locator('dd[data-field=sync]').textContent(), 'not known');
  assert.equal(await card.locator('dd[data-field=role]').count(), 0, 'nothing it did not say');
  await shot(page, 'nodes-replica-down-light-desktop');
  assert.deepEqual(page.problems, []);
  await page.close();
});
