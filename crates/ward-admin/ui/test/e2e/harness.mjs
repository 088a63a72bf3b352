// What the browser tests share: a real `ward serve` on loopback ports it picks itself
// (read back from its log, as the Rust tests do), Chromium through playwright-core, and
// a page that records console errors and CSP violations.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '../../../../..');

/** The ward binary: WARD_BIN, else the debug build (`cargo build` first). */
export const WARD_BIN = process.env.WARD_BIN || join(REPO, 'target/debug/ward');

/** Where screenshots go, for people to look at. */
export const SHOTS = join(REPO, 'target/ui-shots');

/** Chromium: CHROMIUM, else Debian's headless shell, else Debian's full browser. */
export function chromiumPath() {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium-headless-shell', '/usr/bin/chromium'];
  const found = candidates.find((p) => p && existsSync(p));
  if (!found) {
    throw new Error('no Chromium: apt-get install -y chromium-headless-shell (or set CHROMIUM)');
  }
  return found;
}

/**
 * Starts `ward serve` on `configText` (a YAML template: `{data_dir}` and `{dir}`, the
 * config's folder, are replaced; the listeners on loopback, port 0 unless another process
 * must know it first, see `freePort`), with `files` (name → text) written beside the
 * config first and `env` added to its environment (`HOSTNAME` names the node).
 * Resolves to { admin, dns, url, stop }.
 */
export async function startWard(configText, tag = 'ui', files = {}, { env = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), `ward-${tag}-`));
  const config = join(dir, 'ward.yaml');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(config, configText.replaceAll('{data_dir}', join(dir, 'data')).replaceAll('{dir}', dir));
  const child = spawn(WARD_BIN, ['serve', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', RUST_LOG: 'info', ...env },
  });
  const log = [];
  const ready = new Promise((ok, fail) => {
    let dns = null;
    let admin = null;
    let buffer = '';
    const timer = setTimeout(() => fail(new Error(`ward did not become ready:\n${log.join('\n')}`)), 30000);
    child.stderr.on('data', (chunk) => {
      buffer += chunk;
      let at;
      while ((at = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 1);
        log.push(line);
        dns ??= line.match(/listening for UDP on (\S+)/)?.[1] ?? null;
        admin ??= line.match(/listening for HTTP on (\S+)/)?.[1] ?? null;
        if (/ ready/.test(line) && dns && admin) {
          clearTimeout(timer);
          ok({ dns, admin });
        }
      }
    });
    child.on('exit', (code) => fail(new Error(`ward exited (${code}):\n${log.join('\n')}`)));
  });
  const { dns, admin } = await ready;
  return {
    dns,
    admin,
    url: `http://${admin}`,
    log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((ok) => child.once('exit', ok));
      }
    },
  };
}

/** Chromium, headless, with a fresh profile and none of its calls home. */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'ward-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-dev-shm-usage',
    ],
  });
}

/**
 * A new page in `context` whose console errors, page errors and CSP violations are
 * collected in `page.problems` (a test asserts it stays empty).
 */
export async function watchedPage(context, options = {}) {
  const page = await context.newPage();
  if (options.viewport) await page.setViewportSize(options.viewport);
  if (options.colorScheme) await page.emulateMedia({ colorScheme: options.colorScheme });
  page.problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return page;
}

/**
 * Checks that `page` is no wider than its screen and wears the `colorScheme` asked for
 * (light or dark), then saves its screenshot as `<name>-<colorScheme>-<device>.png`.
 */
export async function fitsAndShot(page, name, colorScheme, device) {
  const { default: assert } = await import('node:assert/strict');
  const { background, overflow } = await page.evaluate(() => ({
    background: getComputedStyle(document.body).backgroundColor,
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  }));
  assert.equal(overflow, 0, `${name}: ${overflow} px wider than the screen`);
  const dark = background === 'rgb(21, 23, 26)';
  assert.equal(dark, colorScheme === 'dark', `${name}: background ${background}`);
  await shot(page, `${name}-${colorScheme}-${device}`);
}

/** Saves a screenshot of `page` as target/ui-shots/<name>.png. */
export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** `dig` (a real client) from `source` for `name`: the A addresses it got, in order. */
export function dig(server, name, source = '127.0.0.1') {
  const at = server.lastIndexOf(':');
  const out = execFileSync('dig', [`@${server.slice(0, at)}`, '-p', server.slice(at + 1), '-b', source,
    name, 'A', '+short', '+tries=1', '+time=3'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

/**
 * Sends an A query for each of `names` from `source` over UDP, a few dozen in flight at
 * a time, and resolves once each is answered (or after 3 s without an answer): the query
 * log filled faster than one `dig` a name.
 */
export async function burst(server, names, source = '127.0.0.1') {
  const { createSocket } = await import('node:dgram');
  const at = server.lastIndexOf(':');
  const [host, port] = [server.slice(0, at), Number(server.slice(at + 1))];
  const socket = createSocket('udp4');
  await new Promise((ok) => socket.bind(0, source, ok));
  const waiting = new Map();
  socket.on('message', (msg) => {
    const id = msg.readUInt16BE(0);
    waiting.get(id)?.();
    waiting.delete(id);
  });
  const query = (id, name) => {
    const labels = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    header.writeUInt16BE(0x0100, 2); // RD
    header.writeUInt16BE(1, 4); // one question
    return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
  };
  const IN_FLIGHT = 32;
  for (let i = 0; i < names.length; i += IN_FLIGHT) {
    const batch = names.slice(i, i + IN_FLIGHT).map((name, j) => {
      const id = (i + j) & 0xffff;
      const answered = new Promise((ok) => {
        waiting.set(id, ok);
        setTimeout(ok, 3000);
      });
      socket.send(query(id, name), port, host);
      return answered;
    });
    await Promise.all(batch);
  }
  socket.close();
}

/** A TCP port free on `ip` now (bound, then let go), for an address two processes must
 * agree on before either starts: a primary and its replicas. */
export async function freePort(ip = '127.0.0.1') {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise((ok, fail) => server.once('error', fail).listen(0, ip, ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

/**
 * An upstream resolver on UDP `ip`, port chosen by the system, in a process of its own
 * (`dig` blocks this one): it answers every A query with `answer` (TTL 60) and anything
 * else with no records, or, `silent`, never answers (a server down without saying so).
 * Resolves to { address, stop }.
 */
export async function startUpstream({ ip = '127.0.0.1', answer = '127.1.0.1', silent = false } = {}) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', UPSTREAM, ip, answer, String(silent)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const address = await new Promise((ok, fail) => {
    child.stdout.once('data', (chunk) => ok(String(chunk).trim()));
    child.once('exit', (code) => fail(new Error(`the upstream stub exited (${code})`)));
  });
  return {
    address,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((ok) => child.once('exit', ok));
      }
    },
  };
}

// The stub's program: argv ip, answer, silent; prints "ip:port" once bound.
const UPSTREAM = `
import { createSocket } from 'node:dgram';
const [ip, answer, silent] = process.argv.slice(1);
const socket = createSocket('udp4');
socket.on('message', (query, from) => {
  if (silent === 'true' || query.length < 17) return;
  let at = 12;
  while (at < query.length && query[at] !== 0) at += query[at] + 1;
  if (at + 5 > query.length) return;
  const question = query.subarray(12, at + 5);
  const isA = query.readUInt16BE(at + 1) === 1;
  const header = Buffer.from(query.subarray(0, 12));
  header.writeUInt16BE(0x8180, 2); // a response, recursion desired and available, NOERROR
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(isA ? 1 : 0, 6);
  header.writeUInt32BE(0, 8); // no authority, no additional
  const record = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...answer.split('.').map(Number)]);
  socket.send(Buffer.concat(isA ? [header, question, record] : [header, question]), from.port, from.address);
});
socket.bind(0, ip, () => console.log(ip + ':' + socket.address().port));
`;
