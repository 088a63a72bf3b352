// The web UI's timings in Chromium on this machine (issue 14's targets): first-load
// transfer (gzipped, as the browser received it), first contentful paint, the query log's
// first 100 rows with ENTRIES queries held, a filter change to rows, the most rows in the
// DOM while scrolling through 50 pages of the log, and the live tail's DOM updates a
// second while dnsperf sends 2,000 queries a second. Not in CI.
//
//   npm ci --prefix crates/ward-admin/ui/test && cargo build --release --bin ward
//   ENTRIES=1000000 node benches/ui/run.mjs
//
// Knobs: WARD_BIN (target/release/ward), ENTRIES (100000: queries sent with dnsperf
// before measuring, all answered locally; the in-memory log holds them all), ROUNDS (5).
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
process.env.WARD_BIN ||= join(REPO, 'target/release/ward');
const { startWard, launch } = await import(join(REPO, 'crates/ward-admin/ui/test/e2e/harness.mjs'));

const ENTRIES = Number(process.env.ENTRIES || 100000);
const ROUNDS = Number(process.env.ROUNDS || 5);

const ward = await startWard(`dns: { listen: ["127.0.0.1:0"] }
admin: { listen: "127.0.0.1:0" }
upstreams: { default: { servers: ["127.0.0.1:9"] } }
policies:
  main: { rules: ["||bench.example^"] }
  kids: { extends: main }
clients: [ { subnet: 127.0.0.3/32, policy: kids } ]
default_policy: main
query_log: { memory_entries: ${Math.max(ENTRIES, 1000)} }
data_dir: "{data_dir}"
`, 'ui-bench');

// ENTRIES blocked queries (answered without an upstream), distinct names.
const dir = mkdtempSync(join(tmpdir(), 'ward-ui-bench-'));
const queries = join(dir, 'queries.txt');
writeFileSync(queries, Array.from({ length: ENTRIES }, (_, i) => `n${i}.bench.example A`).join('\n') + '\n');
const [host, port] = [ward.dns.slice(0, ward.dns.lastIndexOf(':')), ward.dns.slice(ward.dns.lastIndexOf(':') + 1)];
const seeded = Date.now();
execFileSync('dnsperf', ['-s', host, '-p', port, '-d', queries, '-n', '1', '-c', '4', '-q', '200'], { stdio: 'ignore' });
let held = 0;
for (let i = 0; i < 100; i++) {
  const status = await (await fetch(`${ward.url}/metrics`)).text();
  held = Number(status.match(/^ward_querylog_entries (\d+)/m)?.[1] || 0);
  if (held >= ENTRIES * 0.99) break;
  await new Promise((ok) => setTimeout(ok, 100));
}
console.log(`seeded ${held} log entries in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);

const browser = await launch();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { transfer: [], fcp: [], logRows: [], filter: [] };
for (let r = 0; r < ROUNDS; r++) {
  const page = await browser.newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => {
    bytes += e.encodedDataLength;
  });
  // first load of the dashboard: every file, none cached; FCP from the paint timing
  await page.goto(`${ward.url}/ui/`, { waitUntil: 'networkidle' });
  const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime);
  results.transfer.push(bytes);
  results.fcp.push(fcp);
  // the query log: navigation to 100 rows shown
  const t0 = Date.now();
  await page.goto(`${ward.url}/ui/log`);
  await page.waitForFunction(() => document.querySelectorAll('ol.log > li').length === 100);
  results.logRows.push(Date.now() - t0);
  // a filter change (name + policy + verdict) to its rows
  await page.fill('input[name=name]', `n${r + 1}23`);
  await page.selectOption('select[name=verdict]', 'blocked');
  const t1 = Date.now();
  await page.click('button[type=submit]');
  await page.waitForFunction((n) => {
    const rows = [...document.querySelectorAll('ol.log > li')];
    return rows.length > 0 && rows.every((li) => li.dataset.name.includes(n));
  }, `n${r + 1}23`);
  results.filter.push(Date.now() - t1);
  await page.close();
}

// Scrolling: 50 pages of 100 read by the window; the most rows the DOM held meanwhile.
const scroll = { pages: 0, most: 0, ms: 0 };
{
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('request', (r) => {
    if (r.url().includes('/api/v1/querylog?')) scroll.pages += 1;
  });
  await page.goto(`${ward.url}/ui/log`);
  await page.waitForFunction(() => document.querySelectorAll('ol.log > li').length === 100);
  const t0 = Date.now();
  while (scroll.pages < 51 && Date.now() - t0 < 120000) {
    await page.mouse.wheel(0, 3000);
    await page.waitForTimeout(20);
    scroll.most = Math.max(scroll.most, await page.evaluate(() => document.querySelectorAll('ol.log > li').length));
  }
  scroll.ms = Date.now() - t0;
  scroll.pages -= 1; // the first page
  await page.close();
}

// The live tail at 2,000 queries a second for TAIL_S seconds: how often the list changed.
const TAIL_S = Number(process.env.TAIL_S || 10);
const tail = { updates: 0, rows: 0, sent: 0 };
{
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${ward.url}/ui/log`);
  await page.waitForSelector('p.export .live');
  await page.evaluate(() => {
    window.tailUpdates = 0;
    new MutationObserver(() => {
      window.tailUpdates += 1;
    }).observe(document.querySelector('ol.log'), { childList: true });
  });
  const first = await page.evaluate(() => document.querySelector('ol.log > li').dataset.name);
  const load = spawn('dnsperf', ['-s', host, '-p', port, '-d', queries, '-l', String(TAIL_S), '-Q', '2000', '-c', '2'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  load.stdout.on('data', (d) => {
    out += d;
  });
  await new Promise((ok) => load.on('exit', ok));
  await page.waitForTimeout(500);
  tail.updates = await page.evaluate(() => window.tailUpdates);
  tail.rows = await page.evaluate(() => document.querySelectorAll('ol.log > li').length);
  tail.sent = Number(out.match(/Queries sent:\s+(\d+)/)?.[1] || 0);
  tail.moved = first !== (await page.evaluate(() => document.querySelector('ol.log > li').dataset.name));
  await page.close();
}
await browser.close();
await ward.stop();

const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
console.log(`| what | median of ${ROUNDS} | all | target |`);
console.log('|---|---:|---|---:|');
console.log(`| first-load transfer (dashboard, gzip) | ${kb(median(results.transfer))} | ${results.transfer.map(kb).join(', ')} | ≤ 100 KB |`);
console.log(`| first contentful paint | ${median(results.fcp).toFixed(0)} ms | ${results.fcp.map((x) => x.toFixed(0)).join(', ')} | ≤ 300 ms |`);
console.log(`| query log: first 100 rows, ${held} held | ${median(results.logRows)} ms | ${results.logRows.join(', ')} | ≤ 300 ms |`);
console.log(`| filter change to rows | ${median(results.filter)} ms | ${results.filter.join(', ')} | ≤ 250 ms |`);
console.log(`| most DOM rows while scrolling ${scroll.pages} pages (${(scroll.ms / 1000).toFixed(1)} s) | ${scroll.most} | | ≤ 200 |`);
console.log(`| live tail: DOM updates a second, ${tail.sent} queries in ${TAIL_S} s | ${(tail.updates / TAIL_S).toFixed(1)} | ${tail.rows} rows shown, top moved: ${tail.moved} | ≤ 4 |`);
