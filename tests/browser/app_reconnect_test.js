// The web application when the gateway goes away and comes back (headless Chromium). Run by
// tests/web_app.rs, which stops and restarts the gateway on the same port when told through
// files in SIGNAL_DIR:
//   1. sign in (alice@example.invalid), then write SIGNAL_DIR/signed-in;
//   2. the test kills the gateway: the page must show its reconnecting banner; write
//      SIGNAL_DIR/reconnecting;
//   3. the test starts the gateway again: the banner must go, the connection be ready again
//      and the account added again (its registration state is shown again).
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');
const { FLAGS, fill, press, registration, run, signIn, text, until } = require('./util');

const BASE = process.argv[2];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SIGNAL_DIR = process.env.SIGNAL_DIR;
const SHOT_DIR = process.env.SHOT_DIR || '';

async function main() {
  const summary = { base: BASE };
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  await run(browser, summary, async (summary, lines) => {
    const page = await (await browser.newContext({ viewport: { width: 800, height: 400 } })).newPage();
    page.on('console', m => lines.push(m.text()));
    await signIn(page, BASE, 'alice@example.invalid', 'secret');
    await registration(page, 'Registration failed');
    // A second page, loaded but not signed in yet.
    const late = await (await browser.newContext()).newPage();
    await late.goto(`${BASE}/webrtcgateway/`);
    fs.writeFileSync(path.join(SIGNAL_DIR, 'signed-in'), '');
    summary.banner = (await until('the reconnecting banner', 20000, async () => {
      const shown = await page.evaluate(() => document.getElementById('banner').classList.contains('show'));
      return { done: shown, detail: await page.textContent('#banner') };
    })).detail;
    if (SHOT_DIR) { fs.mkdirSync(SHOT_DIR, { recursive: true }); await page.screenshot({ path: path.join(SHOT_DIR, 'reconnecting.png') }); }
    // Signing in while the gateway is down says so (after the app's 10 s wait).
    await fill(late, '#account', 'bob@example.invalid');
    await fill(late, '#password', 'secret');
    await press(late, '#password', 'Enter');
    summary.unreachable = (await until('the unreachable error', 15000, async () => {
      const shown = await late.evaluate(() => document.getElementById('error').classList.contains('show'));
      return { done: shown, detail: await text(late, '#error') };
    })).detail;
    // Forget the registration text, so that a new one proves the account was added again.
    await page.evaluate(() => { document.getElementById('registration').textContent = ''; });
    fs.writeFileSync(path.join(SIGNAL_DIR, 'reconnecting'), '');
    await until('the connection back', 30000, async () => {
      const s = await page.evaluate(() => ({ state: window.app.conn.state, banner: document.getElementById('banner').classList.contains('show') }));
      return { done: s.state === 'ready' && !s.banner, detail: s };
    });
    // The account was added again: its registration state is shown again.
    summary.registration_again = await registration(page, 'Registration failed');
  });
}
main();
