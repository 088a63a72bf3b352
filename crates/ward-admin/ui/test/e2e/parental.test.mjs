// Parental control in Chromium against a real `ward serve`: the query log says which
// service, schedule or safe-search provider decided and filters on them, and the check
// page answers "would it be blocked at 21:30?" with the schedule that decides.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWard, launch, watchedPage, dig, startUpstream } from './harness.mjs';

let ward;
let upstream;
let browser;

/** `hh:mm` of UTC now plus `minutes`, wrapped into the day. */
function hhmm(minutes) {
  const now = new Date();
  const m = (((now.getUTCHours() * 60 + now.getUTCMinutes() + minutes) % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

before(async () => {
  upstream = await startUpstream();
  // Kids (127.0.0.3): TikTok blocked, safe search; bedtime from two hours from now.
  const config = `dns: { listen: ["127.0.0.1:0"] }
admin: { listen: "127.0.0.1:0" }
time_zone: UTC
upstreams: { default: { servers: ["${upstream.address}"] } }
policies:
  main: {}
  kids:
    safe_search: true
    blocked_services: [tiktok]
    schedules:
      - { name: bedtime, days: all, from: "${hhmm(120)}", to: "${hhmm(180)}", block_all: true }
clients:
  - { subnet: 127.0.0.3/32, policy: kids, name: tablet }
default_policy: main
data_dir: "{data_dir}"
`;
  ward = await startWard(config, 'ui-parental');
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await ward?.stop();
  await upstream?.stop();
});

async function api(path) {
  const response = await fetch(ward.url + path);
  assert.equal(response.status, 200, path);
  return response.json();
}

test('the log says which service decided, and filters on blocked services', async () => {
  assert.deepEqual(dig(ward.dns, 'www.tiktok.com', '127.0.0.3'), ['0.0.0.0']);
  dig(ward.dns, 'www.example.org', '127.0.0.3');
  for (let i = 0; i < 100; i++) {
    const page = await api('/api/v1/querylog?client=127.0.0.3');
    if (page.entries.length >= 2) break;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/log?verdict=blocked_service`);
  await page.waitForSelector('ol.log > li[data-name="www.tiktok.com"]');
  const names = await page.$$eval('ol.log > li', (lis) => lis.map((li) => li.dataset.name));
  assert.deepEqual(names, ['www.tiktok.com']);
  const row = page.locator('ol.log > li[data-name="www.tiktok.com"]');
  assert.equal(await row.locator('.verdict').textContent(), 'blocked service');
  await row.locator('button.row').click();
  const why = await row.locator('.why dl').textContent();
  assert.match(why, /Service\s*tiktok/);
  assert.match(why, /List\s*service tiktok/);
  // The policy's own allow rule decides before its services: offered, as for any block.
  assert.equal(await row.locator('[data-action=allow-policy]').count(), 1);
});

test('check at a time shows the schedule that decides, and safe search as such', async () => {
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/check`);
  await page.fill('input[name=name]', 'www.google.com');
  await page.fill('input[name=client]', '127.0.0.3');
  await page.click('form button[type=submit]');
  const kids = page.locator('tr[data-policy=kids]');
  await kids.waitFor();
  assert.match(await kids.locator('[data-label=Verdict]').textContent(), /^safe search \(Google\)$/);
  assert.equal(await kids.locator('[data-label=Answer]').textContent(), 'CNAME forcesafesearch.google.com');
  assert.equal(await page.locator('tr[data-policy=main] [data-label=Verdict]').textContent(), 'not filtered');

  // At bedtime: everything is blocked for the kids, and the table says by what.
  const at = hhmm(150);
  await page.fill('input[name=at]', at);
  await page.click('form button[type=submit]');
  await page.waitForURL((url) => url.searchParams.get('at') === at);
  await page.waitForFunction(() =>
    document.querySelector('tr[data-policy=kids] [data-label=Schedule]')?.textContent === 'bedtime');
  assert.equal(await kids.locator('[data-label=Verdict]').textContent(), 'blocked by a schedule');
  assert.equal(await page.locator('tr[data-policy=main] [data-label=Schedule]').textContent(), '');
  // A time that is not one says so.
  await page.fill('input[name=at]', 'teatime');
  await page.click('form button[type=submit]');
  await page.waitForSelector('p.error[role=alert]');
  assert.match(await page.locator('p.error').textContent(), /expected a time/);
});
