// Signing in and out of the web UI against a Ward with a users file, and the read-only
// UI of a Ward whose API refuses writes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWard, launch, watchedPage, shot, dig } from './harness.mjs';

const BASE = `dns: { listen: ["127.0.0.1:0"] }
upstreams: { default: { servers: ["127.0.0.1:9"] } }
policies: { main: { rules: ["||ads.example^"] } }
default_policy: main
data_dir: "{data_dir}"
`;

const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

test('sign in with a user, see the pages, sign out', async () => {
  const ward = await startWard(`${BASE}admin: { listen: "127.0.0.1:0", users_file: "{dir}/users" }\n`, 'ui-login', {
    users: 'alice:s3cret-pass\n',
  });
  cleanup.push(() => ward.stop());
  const browser = await launch();
  cleanup.push(() => browser.close());
  const page = await watchedPage(browser);
  // The API answers 401 before signing in: the browser logs those as console errors.
  const expected401 = (p) => p.includes('401');
  await page.goto(`${ward.url}/ui/`);
  await page.waitForSelector('section.login');
  await shot(page, 'login-light-desktop');
  await page.fill('input[name=user]', 'alice');
  await page.fill('input[name=password]', 'wrong');
  await page.click('button[type=submit]');
  await page.waitForSelector('section.login .error:text("wrong user, password or token")');
  await page.fill('input[name=password]', 's3cret-pass');
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-card=queries] .value');
  assert.match(await page.textContent('header .user'), /^alice\s*Sign out$/);
  // the cookie is HttpOnly: the page cannot read it
  assert.equal(await page.evaluate(() => document.cookie), '');
  // a write from the UI works with the session (a rule added from the log page)
  dig(ward.dns, 'video.example', '127.0.0.2');
  await page.goto(`${ward.url}/ui/log?name=video.example`);
  await page.click('ol.log li >> nth=0 >> button.row');
  await page.click('button[data-action=block-policy]');
  await page.waitForSelector('.notice');
  assert.deepEqual(dig(ward.dns, 'video.example', '127.0.0.2'), ['0.0.0.0']);
  await page.click('header .user button');
  await page.waitForSelector('section.login');
  // signed out for good: a reload asks again
  await page.reload();
  await page.waitForSelector('section.login');
  assert.deepEqual(page.problems.filter((p) => !expected401(p)), []);
});

test('a read-only Ward shows a banner and offers no writes', async () => {
  const ward = await startWard(`${BASE}admin: { listen: "127.0.0.1:0", read_only: true }\n`, 'ui-ro');
  cleanup.push(() => ward.stop());
  const browser = await launch();
  cleanup.push(() => browser.close());
  dig(ward.dns, 'x.ads.example', '127.0.0.2');
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/log`);
  await page.waitForSelector('p.banner:text("Read-only")');
  await page.click('ol.log li >> nth=0 >> button.row');
  await page.waitForSelector('.why');
  assert.equal(await page.locator('.why button').count(), 0, 'no allow or block buttons');
  await shot(page, 'log-readonly-light-desktop');
  assert.deepEqual(page.problems, []);
});
