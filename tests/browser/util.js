// Shared by the browser test drivers (room_test.js, call_test.js): Chromium's flags, polling
// with a deadline, and a one-page HTTP server on 127.0.0.1.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

// The flags of shared peers.md §6 (loopback ICE, fake devices, raw IPs).
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
];
// Firefox's equivalent: fake devices without a prompt; camera and microphone allowed for
// every site (without a permission Firefox gathers only its "default address", never
// loopback); loopback candidates; raw IPs instead of mDNS names.
const FIREFOX_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'permissions.default.camera': 1,
  'permissions.default.microphone': 1,
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.autoplay.default': 0,
};
const POLL_MS = 100;
const sleep = (ms) => new Promise(r => setTimeout(r, ms));
class Failure extends Error {}

// Polls `fn` (async, returns {done, detail}) until done, or throws a Failure at the deadline.
async function until(what, timeoutMs, fn) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last && last.done) return last;
    if (Date.now() > deadline) {
      throw new Failure(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last && last.detail, null, 1)}`);
    }
    await sleep(POLL_MS);
  }
}

// Serves `name` (a file next to this one) at /name on http://127.0.0.1:<any port>.
function serve(name) {
  const html = fs.readFileSync(path.join(__dirname, name));
  const server = http.createServer((req, res) => {
    if (req.url.split('?')[0] === '/' + name) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// Page helpers that work on playwright (Chromium) and puppeteer (Firefox) pages alike.
const isPlaywright = (page) => typeof page.fill === 'function';
async function fill(page, sel, text) {
  if (isPlaywright(page)) return page.fill(sel, text);
  await page.$eval(sel, (el, v) => { el.value = v; el.dispatchEvent(new Event('input', { bubbles: true })); }, text);
}
async function press(page, sel, key) {
  if (isPlaywright(page)) return page.press(sel, key);
  await (await page.$(sel)).press(key);
}
async function text(page, sel) {
  if (isPlaywright(page)) return page.textContent(sel);
  return page.$eval(sel, el => el.textContent);
}
// Puts a file named `name` holding `content` into the file input `sel`.
async function upload(page, sel, name, content) {
  if (isPlaywright(page)) return page.setInputFiles(sel, { name, mimeType: 'text/plain', buffer: Buffer.from(content) });
  const dir = require('fs').mkdtempSync(path.join(require('os').tmpdir(), 'upload-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  await (await page.$(sel)).uploadFile(file);
}

// A page in Firefox ESR through puppeteer-core (one browser, started on first use).
let firefoxBrowser = null;
async function firefoxPage(viewport) {
  if (!firefoxBrowser) {
    const puppeteer = require('puppeteer-core');
    firefoxBrowser = await puppeteer.launch({
      browser: 'firefox', executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
      headless: true, extraPrefsFirefox: FIREFOX_PREFS,
    });
  }
  const page = await firefoxBrowser.newPage();
  await page.setViewport(viewport);
  return page;
}
async function closeFirefox() {
  if (firefoxBrowser) await firefoxBrowser.close().catch(() => {});
  firefoxBrowser = null;
}

// Signs in on the web app at `base` and waits for its home screen.
async function signIn(page, base, account, password, name) {
  await page.goto(`${base}/webrtcgateway/`);
  await fill(page, '#account', account);
  await fill(page, '#password', password);
  if (name) await fill(page, '#display-name', name);
  await press(page, '#password', 'Enter');
  await page.waitForSelector('#home:not([hidden])', { timeout: 10000 });
}

// Waits until the registration state shown starts with `prefix`; returns the text.
async function registration(page, prefix) {
  return (await until(`registration "${prefix}"`, 10000, async () => {
    const t = await text(page, '#registration');
    return { done: t.startsWith(prefix), detail: t };
  })).detail;
}

// Runs `body(summary, lines)` and prints the JSON summary; on failure also the reason and the
// page console lines on stderr, and sets the exit code. Always closes `browser`.
async function run(browser, summary, body) {
  const lines = [];
  try {
    await body(summary, lines);
    summary.ok = true;
    console.log(JSON.stringify(summary));
  } catch (e) {
    console.error(e.message);
    console.error('--- page console:\n' + lines.slice(-40).join('\n'));
    console.log(JSON.stringify(Object.assign(summary, { ok: false, error: e.message })));
    process.exitCode = 1;
  } finally {
    await browser.close();
    await closeFirefox();
  }
}

// axe-core's violations on `page` now (id, impact, help, the first few nodes); `serious` keeps
// those of impact serious or critical only. Playwright pages (Chromium).
async function axeViolations(page, serious = true) {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5) }));
  });
  return serious ? found.filter(v => v.impact === 'serious' || v.impact === 'critical') : found;
}

// Writes a 16-bit mono 48 kHz WAV of a sine of `hz` (10 s; Chromium loops it), for
// --use-file-for-fake-audio-capture: a microphone whose sound can be told apart.
function toneWav(file, hz) {
  const rate = 48000, n = rate * 10;
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + n * 2, 4); b.write('WAVE', 8);
  b.write('fmt ', 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(12000 * Math.sin(2 * Math.PI * hz * i / rate)), 44 + i * 2);
  fs.writeFileSync(file, b);
}

module.exports = { FIREFOX_PREFS, FLAGS, toneWav, Failure, axeViolations, fill, firefoxPage, press, registration, run, serve, signIn, sleep, text, until, upload };
