// The query log page in Chromium against a real `ward serve`: scrolling reads older pages
// into a window of at most 200 rows and back again, the live tail adds new entries at the
// top and waits while the window is scrolled, the type/response/upstream filters reach the
// API, and the export gives the filtered entries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWard, launch, watchedPage, dig, burst } from './harness.mjs';

// Every name below ads.example is blocked, so it is answered (and logged) at once.
const CONFIG = `dns: { listen: ["127.0.0.1:0"] }
admin: { listen: "127.0.0.1:0" }
upstreams: { default: { servers: ["127.0.0.1:9"] } }
policies:
  main: { rules: ["||ads.example^"] }
default_policy: main
data_dir: "{data_dir}"
`;
const SEEDED = 650;

let ward;
let browser;

before(async () => {
  ward = await startWard(CONFIG, 'ui-log');
  browser = await launch();
  await burst(ward.dns, Array.from({ length: SEEDED }, (_, i) => `n${i}.ads.example`));
  // Until the recorder has logged them all.
  for (let i = 0; i < 100; i++) {
    const page = await api(`/api/v1/querylog?limit=1000`);
    if (page.entries.length >= SEEDED) break;
    await new Promise((ok) => setTimeout(ok, 50));
  }
});

after(async () => {
  await browser?.close();
  await ward?.stop();
});

async function api(path) {
  const response = await fetch(ward.url + path);
  assert.equal(response.status, 200, path);
  return response.json();
}

const rowNames = (page) => page.$$eval('ol.log > li', (lis) => lis.map((li) => li.dataset.name));

test('scrolling reads older pages and back, never more than 200 rows in the page', async () => {
  const page = await watchedPage(browser, { viewport: { width: 1000, height: 800 } });
  await page.goto(`${ward.url}/ui/log?name=ads.example`);
  await page.waitForFunction(() => document.querySelectorAll('ol.log > li').length === 100);
  const newest = (await rowNames(page))[0];
  assert.equal(newest, `n${SEEDED - 1}.ads.example`);
  let most = 0;
  // To the bottom, a wheel at a time, until the oldest entry is in the page.
  for (let i = 0; i < 200; i++) {
    await page.mouse.wheel(0, 2500);
    await page.waitForTimeout(40);
    const names = await rowNames(page);
    most = Math.max(most, names.length);
    if (names.at(-1) === 'n0.ads.example') break;
  }
  let names = await rowNames(page);
  assert.equal(names.at(-1), 'n0.ads.example', 'the oldest entry reached');
  assert.ok(most <= 200, `at most 200 rows in the DOM, saw ${most}`);
  assert.ok(!names.includes(newest), 'the newest rows were dropped off the top');
  // Consecutive: nothing skipped or repeated across the pages read.
  const numbers = names.map((n) => Number(n.match(/^n(\d+)\./)[1]));
  numbers.forEach((n, i) => i && assert.equal(n, numbers[i - 1] - 1, `row ${i}`));
  // And back up to the newest.
  for (let i = 0; i < 200; i++) {
    await page.mouse.wheel(0, -2500);
    await page.waitForTimeout(40);
    names = await rowNames(page);
    most = Math.max(most, names.length);
    if (names[0] === newest && (await page.evaluate(() => window.scrollY)) === 0) break;
  }
  assert.equal(names[0], newest, 'the newest entry is back on top');
  assert.ok(most <= 200, `at most 200 rows in the DOM, saw ${most}`);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the live tail adds new entries at the top, and waits while the window is scrolled', async () => {
  const page = await watchedPage(browser, { viewport: { width: 1000, height: 800 } });
  await page.goto(`${ward.url}/ui/log`);
  await page.waitForSelector('ol.log > li');
  await page.waitForSelector('p.export .live');
  assert.equal((await page.textContent('p.export .live')).trim(), 'Live');
  dig(ward.dns, 'live-one.ads.example');
  await page.waitForFunction(() => document.querySelector('ol.log > li')?.dataset.name === 'live-one.ads.example',
    null, { timeout: 3000 });
  assert.equal(page.url(), `${ward.url}/ui/log`, 'no reload, no navigation');

  // Scrolled down: new entries are counted, not shown.
  await page.mouse.wheel(0, 1200);
  await page.waitForFunction(() => /paused/.test(document.querySelector('p.export .live')?.textContent));
  dig(ward.dns, 'live-two.ads.example');
  dig(ward.dns, 'live-three.ads.example');
  await page.waitForFunction(() => /2 new/.test(document.querySelector('p.export .live')?.textContent),
    null, { timeout: 3000 });
  assert.equal((await rowNames(page))[0], 'live-one.ads.example');
  // Back at the top: the newest are read.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForFunction(() => document.querySelector('ol.log > li')?.dataset.name === 'live-three.ads.example',
    null, { timeout: 3000 });
  const names = await rowNames(page);
  assert.deepEqual(names.slice(0, 3), ['live-three.ads.example', 'live-two.ads.example', 'live-one.ads.example']);
  assert.ok(names.length <= 200);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('type, response and upstream filters reach the URL and the API; the export is the filtered log', async () => {
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/log`);
  await page.waitForSelector('ol.log > li');
  // The rarer filters are folded away until asked for (or set).
  assert.equal(await page.isVisible('input[name=qtype]'), false);
  await page.click('form.filters details.more summary');
  await page.fill('input[name=qtype]', 'A');
  await page.selectOption('select[name=rcode]', 'NOERROR');
  await page.fill('input[name=upstream]', 'none');
  await page.fill('input[name=name]', 'n1');
  await page.click('form.filters button[type=submit]');
  await page.waitForURL(/\/ui\/log\?name=n1&qtype=A&rcode=NOERROR&upstream=none$/);
  const want = await api('/api/v1/querylog?name=n1&qtype=A&rcode=NOERROR&upstream=none&limit=100');
  await page.waitForFunction((n) => document.querySelectorAll('ol.log > li').length === n
    && [...document.querySelectorAll('ol.log > li')].every((li) => li.dataset.name.startsWith('n1')),
  want.entries.length);
  assert.deepEqual(await rowNames(page), want.entries.map((e) => e.name));
  assert.match(await page.textContent('details.more summary'), /3 set/);
  assert.equal(await page.isVisible('input[name=qtype]'), true);

  // The export link carries the same filters; what it gives is every match.
  const href = await page.getAttribute('p.export a:text-is("CSV")', 'href');
  assert.match(href, /^\/api\/v1\/querylog\/export\?/);
  assert.notEqual(await page.getAttribute('p.export a:text-is("CSV")', 'download'), null);
  const response = await fetch(ward.url + href);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-disposition'), /attachment; filename="ward-querylog-.*\.csv"/);
  const lines = (await response.text()).split('\r\n').filter(Boolean);
  const all = (await api('/api/v1/querylog?name=n1&qtype=A&rcode=NOERROR&upstream=none&limit=1000')).entries;
  assert.equal(lines.length, all.length + 1, 'a header and a row per match');
  assert.match(lines[0], /^time,time_ms,client,/);
  // Nothing else matches: no upstream answered any of these.
  const none = await api('/api/v1/querylog?name=n1&upstream=127.0.0.1:9');
  assert.equal(none.entries.length, 0);
  assert.deepEqual(page.problems, []);
  await page.close();
});
