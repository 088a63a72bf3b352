// The web UI in Chromium against a real `ward serve`: pages load without console errors
// or CSP violations, show what the API says, keep their filters in the URL, and fit a
// 360 px phone in both themes. Screenshots land in target/ui-shots/.
import { test, before, after } from 'node:test';
import { createServer } from 'node:http';
import assert from 'node:assert/strict';
import { startWard, launch, watchedPage, fitsAndShot, dig } from './harness.mjs';

// Two policies, the kids' VLAN as 127.0.0.3; an upstream that is not there, so only the
// blocked queries are answered (the others fail), which is all the statistics need.
const CONFIG = `dns: { listen: ["127.0.0.1:0"] }
admin: { listen: "127.0.0.1:0" }
upstreams: { default: { servers: ["127.0.0.1:9"] } }
lists:
  - { id: local, path: "{dir}/local.txt" }
  - { id: remote, url: "{list_url}" }
  - { id: keep, path: "{dir}/keep.txt", allow: true }
policies:
  main: { lists: [local], rules: ["||ads.example^"] }
  kids: { extends: main, lists: [remote], rules: ["||games.example^"] }
clients:
  - { subnet: 127.0.0.0/24, policy: main }
  - { subnet: 127.0.0.3/32, policy: kids, name: tablet }
default_policy: main
data_dir: "{data_dir}"
`;

// The local list: one rule, a cosmetic line and an unknown modifier (skipped, by reason).
const LOCAL_LIST = '||tracker.example^\n##.banner\n||x.example^$nosuchmodifier\n';

let ward;
let browser;
let lists;
let downloads = 0;

before(async () => {
  // The remote list, from a server of the test's own; each download counted.
  lists = createServer((req, res) => {
    downloads += 1;
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('||remote-blocked.example^\n');
  });
  await new Promise((ok) => lists.listen(0, '127.0.0.1', ok));
  const listUrl = `http://127.0.0.1:${lists.address().port}/list.txt`;
  ward = await startWard(CONFIG.replace('{list_url}', listUrl), 'ui', { 'local.txt': LOCAL_LIST, 'keep.txt': '||kept.example^\n' });
  browser = await launch();
  // Some traffic for the dashboard: blocked names from both VLANs.
  for (let i = 0; i < 3; i++) dig(ward.dns, `x${i}.ads.example`, '127.0.0.2');
  dig(ward.dns, 'games.example', '127.0.0.3');
  dig(ward.dns, 'games.example', '127.0.0.3');
});

after(async () => {
  await browser?.close();
  await ward?.stop();
  lists?.close();
});

async function api(path) {
  const response = await fetch(ward.url + path);
  assert.equal(response.status, 200, path);
  return response.json();
}

test('the dashboard shows the figures the API gives', async () => {
  // the recorder counts a moment after the answer
  let stats;
  for (let i = 0; i < 50; i++) {
    stats = await api('/api/v1/stats?range=24h&resolution=minute');
    if (stats.totals.blocked >= 5) break;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  assert.equal(stats.totals.blocked, 5);
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/`);
  await page.waitForSelector('[data-card=blocked] .value');
  const text = async (card) => (await page.textContent(`[data-card=${card}] .value`)).replace(/\D/g, '');
  assert.equal(await text('queries'), String(stats.totals.queries));
  assert.equal(await text('blocked'), String(stats.totals.blocked));
  const topBlocked = await page.locator('.panel:has(h2:text-is("Top blocked")) td.name').allTextContents();
  assert.deepEqual(topBlocked, stats.top_blocked.map((r) => r.name));
  // the chart is drawn
  await page.waitForSelector('.chart canvas');
  // the range lives in the URL
  await page.click('button:text-is("7 days")');
  await page.waitForURL(/\/ui\/\?range=7d$/);
  await page.waitForSelector('[data-card=queries] .value');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('check a name shows its verdict under every policy, from the URL', async () => {
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/check`);
  await page.fill('input[name=name]', 'games.example');
  await page.fill('input[name=client]', '127.0.0.3');
  await page.click('button[type=submit]');
  await page.waitForURL(/\/ui\/check\?name=games\.example&qtype=A&client=127\.0\.0\.3$/);
  await page.waitForSelector('tr[data-policy=kids]');
  const row = async (policy) => page.locator(`tr[data-policy=${policy}] td`).allTextContents();
  const kids = await row('kids');
  const main = await row('main');
  assert.match(kids[0], /^kids this client's$/);
  assert.equal(kids[1], 'blocked');
  assert.equal(kids[2], '||games.example^');
  assert.equal(kids[3], 'policy kids rules');
  assert.equal(main[0], 'main');
  assert.equal(main[1], 'not filtered');
  // the same view from its link alone, after a reload
  await page.reload();
  await page.waitForSelector('tr[data-policy=kids]');
  assert.equal((await row('kids'))[1], 'blocked');
  assert.equal(await page.inputValue('input[name=name]'), 'games.example');
  // back undoes the check
  await page.goBack();
  await page.waitForURL(/\/ui\/check$/);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the dashboard narrows to a policy or a client, links rows to the log, and shows a failing upstream', async () => {
  // A name that is not blocked goes to the upstream, which is not there.
  try {
    dig(ward.dns, 'www.unblocked.example', '127.0.0.2');
  } catch {
    // dig exits non-zero on SERVFAIL in some versions; the query was made.
  }
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/?policy=kids`);
  await page.waitForSelector('[data-card=blocked] .value');
  const text = async (card) => (await page.textContent(`[data-card=${card}] .value`)).replace(/\D/g, '');
  const kids = await api('/api/v1/stats?range=24h&resolution=minute&policy=kids');
  assert.equal(kids.totals.blocked, 2);
  assert.equal(await text('blocked'), '2');
  assert.equal(await page.inputValue('form.scope select[name=kind]'), 'policy');
  // A subnet, chosen in the form: into the URL, and the figures follow.
  await page.selectOption('form.scope select[name=kind]', 'client');
  await page.fill('form.scope input[name=client]', '127.0.0.2');
  await page.click('form.scope button[type=submit]');
  await page.waitForURL(/\/ui\/\?client=127\.0\.0\.2$/);
  await page.waitForFunction(() => document.querySelector('[data-card=blocked] .value')?.textContent.trim() === '3');
  // A row leads to the query log filtered on it.
  await page.click('.panel:has(h2:text-is("Top blocked")) td.name a >> nth=0');
  await page.waitForURL(/\/ui\/log\?client=127\.0\.0\.2&name=x\d\.ads\.example&verdict=blocked$/);
  await page.waitForSelector('ol.log > li');
  // The upstream that is not there is shown failing, with why.
  await page.goto(`${ward.url}/ui/`);
  await page.waitForSelector('table.health tr.failing');
  const failing = await page.textContent('table.health tr.failing');
  assert.match(failing, /default · 127\.0\.0\.1:9/);
  assert.match(failing, /failing: /);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the query log filters on the server, keeps its filters in the URL and explains a row', async () => {
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/log`);
  await page.waitForSelector('ol.log li');
  await page.fill('input[name=name]', 'games');
  await page.selectOption('select[name=policy]', 'kids');
  await page.click('button[type=submit]');
  await page.waitForURL(/\/ui\/log\?name=games&policy=kids$/);
  await page.waitForFunction(() => [...document.querySelectorAll('ol.log li')].every((li) => li.dataset.name === 'games.example'));
  const rows = await page.locator('ol.log li').count();
  const api = await fetch(`${ward.url}/api/v1/querylog?name=games&policy=kids`).then((r) => r.json());
  assert.equal(rows, api.entries.length);
  assert.equal(rows, 2);
  // the why of a row
  await page.click('ol.log li >> nth=0 >> button.row');
  const why = await page.textContent('ol.log li .why');
  assert.match(why, /Rule\|\|games\.example\^/);
  assert.match(why, /Listpolicy kids rules/);
  // a filter matching nothing says so at once
  await page.goto(`${ward.url}/ui/log?name=nothing-matches-this`);
  await page.waitForSelector('text=No query matches these filters.');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('"block for this policy" from a log row blocks the name for that policy only', async () => {
  // video.example, asked from both VLANs: not filtered anywhere (the upstream is gone)
  assert.deepEqual(dig(ward.dns, 'video.example', '127.0.0.2'), []);
  assert.deepEqual(dig(ward.dns, 'video.example', '127.0.0.3'), []);
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/log?name=video.example&policy=kids`);
  await page.waitForSelector('ol.log li[data-policy=kids]');
  await page.click('ol.log li >> nth=0 >> button.row');
  await page.click('button[data-action=block-policy]');
  await page.waitForSelector('.notice:text("added ||video.example^ to kids")');
  // dig from the kids' VLAN is blocked; from the main LAN it is not
  assert.deepEqual(dig(ward.dns, 'video.example', '127.0.0.3'), ['0.0.0.0']);
  assert.deepEqual(dig(ward.dns, 'video.example', '127.0.0.2'), []);
  const rules = await fetch(`${ward.url}/api/v1/policies/kids/rules`).then((r) => r.json());
  assert.ok(JSON.stringify(rules).includes('||video.example^'), JSON.stringify(rules));
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the policies page says which policy an address gets and why, as the server decides', async () => {
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/policies`);
  await page.waitForSelector('table.policies tr[data-policy=kids]');
  const kids = await page.locator('table.policies tr[data-policy=kids] td').allTextContents();
  const policies = await api('/api/v1/policies');
  assert.deepEqual(kids.slice(0, 4), ['kids', 'main', 'remote', String(policies.kids.rules.length)]);
  // the /32 inside the /24 with another policy is pointed out
  const warning = await page.textContent('ul.warnings li[data-subnet="127.0.0.3/32"]');
  assert.match(warning, /127\.0\.0\.3\/32 \(kids\) is inside 127\.0\.0\.0\/24 \(main\)/);
  for (const [ip, policy, why] of [
    ['127.0.0.3', 'kids', /127\.0\.0\.3\/32 \(tablet\)/],
    ['127.0.0.9', 'main', /127\.0\.0\.0\/24/],
    ['10.1.2.3', 'main', /default_policy/],
  ]) {
    await page.fill('input[name=ip]', ip);
    await page.click('button[type=submit]');
    await page.waitForURL(new RegExp(`/ui/policies\\?ip=${ip.replaceAll('.', '\\.')}$`));
    const answer = page.locator(`p.answer[data-policy=${policy}]`);
    await answer.waitFor();
    assert.match(await answer.textContent(), why);
    const served = await api(`/api/v1/check?name=x.example&client=${ip}`);
    assert.equal(served.policy, policy, `the server's policy for ${ip}`);
  }
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the lists page shows rules, skipped lines by reason, downloads and the policy matrix', async () => {
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/lists`);
  await page.waitForSelector('table.lists tr[data-list=remote] .state span.ok');
  const status = await api('/api/v1/status');
  const local = status.lists.find((l) => l.id === 'local');
  assert.deepEqual(local.skipped_by_reason, { cosmetic: 1, unsupported_modifier: 1 });
  const cells = await page.locator('table.lists tr[data-list=local] td').allTextContents();
  assert.equal(cells[2], String(local.rules));
  await page.click('table.lists tr[data-list=local] summary');
  const reasons = await page.locator('table.lists tr[data-list=local] ul.reasons li').allTextContents();
  assert.deepEqual(reasons, ['cosmetic: 1', 'unsupported modifier: 1']);
  // an allowlist says so
  const keep = await page.locator('table.lists tr[data-list=keep] td').first().textContent();
  assert.match(keep, /allowlist/);
  const plain = await page.locator('table.lists tr[data-list=local] td').first().textContent();
  assert.doesNotMatch(plain, /allowlist/);
  // the matrix: main names local; kids names remote and gets local from main
  const use = (list, policy) => page.getAttribute(`table.matrix tr[data-list=${list}] td[data-policy=${policy}]`, 'data-use');
  assert.equal(await use('local', 'main'), 'own');
  assert.equal(await use('local', 'kids'), 'inherited');
  assert.equal(await use('remote', 'kids'), 'own');
  assert.equal(await use('remote', 'main'), '');
  // a refresh downloads the list again (a conditional request, still a request)
  const before = downloads;
  await page.click('table.lists tr[data-list=remote] button[data-action=refresh]');
  for (let i = 0; i < 50 && downloads === before; i++) await new Promise((ok) => setTimeout(ok, 100));
  assert.ok(downloads > before, 'the refresh reached the list server');
  await page.waitForSelector('table.lists tr[data-list=remote] .state span.ok');
  assert.deepEqual(dig(ward.dns, 'remote-blocked.example', '127.0.0.3'), ['0.0.0.0']);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the rules editor checks each line as it is typed and saves what serves', async () => {
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/rules?policy=kids`);
  await page.waitForFunction(() => document.querySelector('textarea.rules')?.value.includes('||games.example^'));
  // main's rule is shown as inherited
  assert.match(await page.textContent('details.inherited'), /\|\|ads\.example\^/);
  const area = page.locator('textarea.rules');
  const before = await area.inputValue();
  await area.fill(`${before}\n||typed.example^$nosuchmodifier`);
  const problem = page.locator('ul.problems li');
  await problem.waitFor();
  assert.match(await problem.textContent(), /^line \d+: \|\|typed\.example\^\$nosuchmodifier: not a rule Ward applies \(unsupported_modifier\)$/);
  assert.equal(await page.isDisabled('button[data-action=save]'), true);
  await area.fill(`${before}\n||typed.example^`);
  await page.waitForFunction(() => document.querySelectorAll('ul.problems li').length === 0);
  await page.click('button[data-action=save]');
  await page.waitForSelector('.notice:text("serving now")');
  assert.deepEqual(dig(ward.dns, 'typed.example', '127.0.0.3'), ['0.0.0.0']);
  assert.deepEqual(dig(ward.dns, 'typed.example', '127.0.0.2'), []);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the lists page offers the catalogue, and adds a list of it to a policy', async () => {
  const page = await watchedPage(browser);
  // The writes are answered here, not by Ward: a catalogue list would be downloaded from
  // the internet, and tests send nothing past loopback.
  const writes = [];
  await page.route('**/api/v1/lists', (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    writes.push(['POST', '/api/v1/lists', route.request().postDataJSON()]);
    return route.fulfill({ status: 200, contentType: 'application/json', body: '{"revision":"x","outcome":{}}' });
  });
  await page.route('**/api/v1/policies/kids', (route) => {
    if (route.request().method() !== 'PUT') return route.continue();
    writes.push(['PUT', '/api/v1/policies/kids', route.request().postDataJSON()]);
    return route.fulfill({ status: 200, contentType: 'application/json', body: '{"revision":"x","outcome":{}}' });
  });
  await page.goto(`${ward.url}/ui/lists`);
  await page.waitForSelector('.catalogue select[name=catalogue] option[value=hagezi-pro]', { state: 'attached' });
  const catalogue = await api('/api/v1/catalogue');
  const groups = await page.$$eval('.catalogue optgroup', (gs) => gs.map((g) => g.label));
  assert.deepEqual(groups, ['ads', 'trackers', 'malware', 'phishing', 'adult', 'gambling', 'social', 'telemetry']);
  assert.equal(await page.locator('.catalogue select[name=catalogue] option').count(), catalogue.length);
  await page.selectOption('.catalogue select[name=catalogue]', 'hagezi-pro');
  await page.selectOption('.catalogue select[name=policy]', 'kids');
  await page.click('.catalogue button[type=submit]');
  await page.waitForSelector('.catalogue .notice');
  const kids = await api('/api/v1/policies/kids');
  assert.deepEqual(writes, [
    ['POST', '/api/v1/lists', { id: 'hagezi-pro', catalogue: 'hagezi-pro' }],
    ['PUT', '/api/v1/policies/kids', { ...kids, lists: [...kids.lists, 'hagezi-pro'] }],
  ]);
  assert.match(await page.textContent('.catalogue .notice'), /HaGeZi Multi PRO as hagezi-pro and put it in kids/);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('an unknown page says so, and the UI serves it from the index', async () => {
  const page = await watchedPage(browser);
  const response = await page.goto(`${ward.url}/ui/nowhere`);
  assert.equal(response.status(), 200);
  await page.waitForSelector('h1:text-is("Not found")');
  assert.deepEqual(page.problems, []);
  await page.close();
});

for (const colorScheme of ['light', 'dark']) {
  for (const [device, viewport] of [
    ['desktop', { width: 1280, height: 900 }],
    ['phone', { width: 360, height: 780 }],
  ]) {
    test(`every page in ${colorScheme} on a ${device}: themed, no horizontal scroll`, async () => {
      const page = await watchedPage(browser, { viewport, colorScheme });
      for (const [name, path, ready] of [
        ['dashboard', '/ui/', '.chart canvas'],
        ['check', '/ui/check?name=games.example&client=127.0.0.3', 'tr[data-policy=kids]'],
        ['log', '/ui/log', 'ol.log li'],
        ['policies', '/ui/policies?ip=127.0.0.3', 'p.answer'],
        ['lists', '/ui/lists', 'table.matrix'],
        ['rules', '/ui/rules?policy=kids', 'details.inherited'],
      ]) {
        await page.goto(ward.url + path);
        await page.waitForSelector(ready);
        await fitsAndShot(page, name, colorScheme, device);
      }
      assert.deepEqual(page.problems, []);
      await page.close();
    });
  }
}

test('on a phone the pages fold into a menu and the header stays one line', async () => {
  const page = await watchedPage(browser, { viewport: { width: 360, height: 780 } });
  await page.goto(`${ward.url}/ui/lists`);
  await page.waitForSelector('table.matrix');
  const header = () => page.evaluate(() => document.querySelector('header.top').getBoundingClientRect().height);
  assert.ok(await header() < 60, `header ${await header()} px high`);
  assert.equal(await page.isVisible('header nav'), false);
  assert.match(await page.textContent('header button.menu'), /Lists/);
  await page.click('header button.menu');
  assert.equal(await page.getAttribute('header button.menu', 'aria-expanded'), 'true');
  await page.click('header nav a:text-is("Query log")');
  await page.waitForURL(/\/ui\/log$/);
  assert.equal(await page.isVisible('header nav'), false, 'closed after a choice');
  // A desktop shows the pages, not the menu button.
  await page.setViewportSize({ width: 1280, height: 900 });
  assert.equal(await page.isVisible('header nav'), true);
  assert.equal(await page.isVisible('header button.menu'), false);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the theme switch overrides the system and is remembered', async () => {
  const page = await watchedPage(browser, { colorScheme: 'light' });
  await page.goto(`${ward.url}/ui/`);
  const theme = () => page.evaluate(() => document.documentElement.dataset.theme || 'auto');
  await page.click('button.theme'); // auto → light
  await page.click('button.theme'); // light → dark
  assert.equal(await theme(), 'dark');
  await page.reload();
  await page.waitForSelector('button.theme');
  assert.equal(await theme(), 'dark');
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(background, 'rgb(21, 23, 26)');
  await page.click('button.theme'); // dark → auto
  assert.equal(await theme(), 'auto');
  assert.deepEqual(page.problems, []);
  await page.close();
});
