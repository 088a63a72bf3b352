// Issue 15: with the API's writes a layer over a config file Git owns, the pages mark
// what the file defines and offer no change to it; what the API added they may change.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWard, launch, watchedPage, dig } from './harness.mjs';

const CONFIG = `dns: { listen: ["127.0.0.1:0"] }
admin: { listen: "127.0.0.1:0", write_to: data_dir }
upstreams: { default: { servers: ["127.0.0.1:9"] } }
lists:
  - { id: local, path: "{dir}/local.txt" }
policies:
  main: { lists: [local] }
records:
  - { name: nas.home.example, type: A, value: 10.0.0.5 }
default_policy: main
data_dir: "{data_dir}"
`;

let ward;
let browser;

before(async () => {
  ward = await startWard(CONFIG, 'ui-layer', { 'local.txt': '||ads.example^\n' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await ward?.stop();
});

test('what the config file defines is marked and cannot be removed; what the API adds can', async () => {
  const page = await watchedPage(browser);
  await page.goto(`${ward.url}/ui/records`);
  const nas = page.locator('tr[data-name="nas.home.example"]');
  await nas.locator('.tag.file').waitFor();
  assert.equal(await nas.locator('button[data-action=delete]').count(), 0);

  await page.fill('form.add-record input[name=name]', 'tv.home.example');
  await page.fill('form.add-record input[name=value]', '10.0.0.9');
  await page.click('form.add-record button[type=submit]');
  const tv = page.locator('tr[data-name="tv.home.example"]');
  await tv.waitFor();
  assert.equal(await tv.locator('.tag.file').count(), 0, 'added through the API: not the file\'s');
  assert.deepEqual(dig(ward.dns, 'tv.home.example'), ['10.0.0.9']);
  await tv.locator('button[data-action=delete]').click();
  await tv.waitFor({ state: 'detached' });
  assert.deepEqual(dig(ward.dns, 'tv.home.example'), []);

  // The file's list and policy are marked too.
  await page.goto(`${ward.url}/ui/lists`);
  await page.locator('tr[data-list=local] .tag.file').waitFor();
  await page.goto(`${ward.url}/ui/policies`);
  await page.locator('tr[data-policy=main] .tag.file').waitFor();
  assert.deepEqual(page.problems, []);
  await page.close();
});
