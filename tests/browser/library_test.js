// The web app's first page and the client library as other sites use it. Run by
// tests/web_app.rs:
//
//   NODE_PATH=<tools>/node_modules node tests/browser/library_test.js BASE_URL
//
// 1. BASE_URL/webrtcgateway/ loads in headless Chromium with no console error, no failed
//    request and no request to another host, and its icon and manifest load;
// 2. a page of another origin (blank.html on 127.0.0.1:<any>) imports
//    BASE_URL/webrtcgateway/sylkrtc.js as a module, connects with its Connection and reaches
//    the ready state.
// Prints a JSON summary; exit 0 on success, 1 with the reason otherwise.
'use strict';
const { chromium } = require('playwright-core');
const { FLAGS, Failure, run, serve, until } = require('./util');

const BASE = process.argv[2];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function main() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  const foreign = await serve('blank.html');
  await run(browser, { base: BASE }, async (summary, lines) => {
    // --- 1. the first page --------------------------------------------------------------
    const page = await browser.newPage();
    const errors = [];
    const requests = [];
    page.on('console', m => { lines.push(m.text()); if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', e => errors.push('pageerror: ' + e.message));
    page.on('requestfailed', r => errors.push(`request failed: ${r.url()}`));
    page.on('response', r => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
    page.on('request', r => requests.push(r.url()));
    await page.goto(`${BASE}/webrtcgateway/`, { waitUntil: 'networkidle' });
    await page.waitForSelector('#signin');
    const host = new URL(BASE).host;
    summary.requests = requests;
    summary.external = requests.filter(u => !/^(data|blob):/.test(u) && new URL(u).host !== host);
    summary.console_errors = errors;
    summary.icon = await page.evaluate(async () => {
      const link = document.querySelector('link[rel=icon]');
      const r = await fetch(link.href);
      return { href: link.getAttribute('href'), status: r.status, type: r.headers.get('content-type') };
    });
    summary.manifest = await page.evaluate(async () => (await fetch(document.querySelector('link[rel=manifest]').href)).json());
    if (errors.length) throw new Failure(`console errors on the first page: ${JSON.stringify(errors)}`);
    if (summary.external.length) throw new Failure(`requests to other hosts: ${JSON.stringify(summary.external)}`);
    await page.close();

    // --- the package: module, types and metadata, loadable from any origin -------------
    const lib = await fetch(`${BASE}/webrtcgateway/sylkrtc.js`);
    const types = await fetch(`${BASE}/webrtcgateway/sylkrtc.d.ts`);
    summary.library = {
      cors: lib.headers.get('access-control-allow-origin'),
      type: lib.headers.get('content-type'),
      types_status: types.status,
      types_cors: types.headers.get('access-control-allow-origin'),
      types_declare_connection: (await types.text()).includes('export class Connection'),
    };
    summary.package = await (await fetch(`${BASE}/webrtcgateway/package.json`)).json();

    // --- 2. the library, from another origin --------------------------------------------
    const other = await browser.newPage();
    other.on('console', m => lines.push('other: ' + m.text()));
    await other.goto(`http://127.0.0.1:${foreign.address().port}/blank.html`);
    const ws = BASE.replace(/^http/, 'ws') + '/webrtcgateway/ws';
    summary.imported = await other.evaluate(async ({ base, ws }) => {
      const lib = await import(base + '/webrtcgateway/sylkrtc.js');
      const conn = new lib.Connection(ws, { reconnect: false });
      await conn.ready;
      const state = conn.state;
      conn.close();
      return { exports: Object.keys(lib).sort(), state, origin: location.origin };
    }, { base: BASE, ws });
    if (summary.imported.state !== 'ready') throw new Failure(`the imported library did not connect: ${JSON.stringify(summary.imported)}`);
  });
  foreign.close();
}

main();
