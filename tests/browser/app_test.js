// The web application served by sylk-gateway, in two headless Chromium browser contexts (fake
// camera and microphone). Run by tests/web_app.rs:
//
//   NODE_PATH=<tools>/node_modules node tests/browser/app_test.js BASE_URL
//
// Each user signs in at BASE_URL/webrtcgateway/ (the registration fails: the domain does not
// resolve, and the page says so) and joins the meeting "standup" by name; each page then
// shows the other's tile with decoded video; a chat message typed by alice appears at bob's;
// alice raises her hand and both pages show it. Screenshots go to SHOT_DIR.
// Prints a JSON summary; exit 0 on success, 1 with the reason otherwise.
'use strict';
const { chromium } = require('playwright-core');
const path = require('path');
const fs = require('fs');
const { FLAGS, until } = require('./util');

const BASE = process.argv[2];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOT_DIR = process.env.SHOT_DIR || '';
const USERS = [
  { id: 'alice', account: 'alice@example.invalid', name: 'Alice' },
  { id: 'bob', account: 'bob@example.invalid', name: 'Bob' },
];

async function main() {
  const summary = { base: BASE, users: {} };
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  const pages = {};
  try {
    for (const u of USERS) {
      const ctx = await browser.newContext({ viewport: { width: 900, height: 640 } });
      const page = pages[u.id] = await ctx.newPage();
      page.lines = [];
      page.on('console', m => page.lines.push(m.text()));
      page.on('pageerror', e => page.lines.push('pageerror: ' + e.message));
      await page.goto(`${BASE}/webrtcgateway/`);
      await page.fill('#account', u.account);
      await page.fill('#password', 'secret');
      await page.fill('#display-name', u.name);
      await page.press('#display-name', 'Enter');
      await page.waitForSelector('#home:not([hidden])', { timeout: 10000 });
      // The domain does not resolve: the failure and its reason are shown.
      const reg = await until(`${u.id}'s registration state`, 10000, async () => {
        const t = await page.textContent('#registration');
        return { done: t.startsWith('Registration failed: DNS lookup error'), detail: t };
      });
      summary.users[u.id] = { registration: reg.detail };
      await page.fill('#room-name', 'Standup');
      await page.click('#join-form button');
      await page.waitForSelector('#meeting:not([hidden])', { timeout: 10000 });
    }
    // Each page shows the other's tile, named, with decoded video.
    for (const u of USERS) {
      const other = USERS.find(x => x !== u);
      const r = await until(`${u.id} to see ${other.id}'s video`, 30000, async () => {
        const tiles = await pages[u.id].evaluate(() => window.app.tiles());
        const t = tiles.find(x => x.name === other.name);
        return { done: tiles.length === 2 && t && t.frames > 0 && t.width > 0, detail: tiles };
      });
      summary.users[u.id].tiles = r.detail;
    }
    // Chat.
    await pages.alice.fill('#chat-input', 'hello from alice');
    await pages.alice.press('#chat-input', 'Enter');
    const chat = await until('the chat message at bob', 10000, async () => {
      const m = await pages.bob.evaluate(() => window.app.messages());
      return { done: m.includes('Alice:hello from alice'), detail: m };
    });
    summary.chat = chat.detail;
    // Raised hand, seen on both pages.
    await pages.alice.click('#hand');
    for (const u of USERS) {
      await until(`alice's hand on ${u.id}'s page`, 10000, async () => {
        const tiles = await pages[u.id].evaluate(() => window.app.tiles());
        const t = tiles.find(x => x.name.startsWith('Alice'));
        return { done: t && t.hand, detail: tiles };
      });
    }
    summary.hand_label = await pages.alice.textContent('#hand');
    // Devices: the fake camera and microphone are listed.
    summary.devices = await pages.alice.evaluate(() => window.app.devices());
    // File sharing: alice shares a file, both pages list it, bob downloads the same bytes.
    const content = 'minutes of the standup\n'.repeat(100);
    await pages.alice.setInputFiles('#share', { name: 'minutes.txt', mimeType: 'text/plain', buffer: Buffer.from(content) });
    for (const u of USERS) {
      await until(`the shared file on ${u.id}'s page`, 10000, async () => {
        const files = await pages[u.id].evaluate(() => window.app.files());
        return { done: files.some(f => f.name === 'minutes.txt'), detail: files };
      });
    }
    summary.download_matches = await pages.bob.evaluate(async (expected) => {
      const f = window.app.files().find(x => x.name === 'minutes.txt');
      const r = await fetch(f.href);
      return r.ok && (await r.text()) === expected;
    }, content);
    if (SHOT_DIR) {
      fs.mkdirSync(SHOT_DIR, { recursive: true });
      for (const u of USERS) await pages[u.id].screenshot({ path: path.join(SHOT_DIR, `${u.id}-meeting.png`) });
    }
    summary.ok = true;
    console.log(JSON.stringify(summary));
  } catch (e) {
    console.error(e.message);
    for (const [id, page] of Object.entries(pages)) console.error(`--- ${id} console:\n` + page.lines.slice(-30).join('\n'));
    if (SHOT_DIR) {
      fs.mkdirSync(SHOT_DIR, { recursive: true });
      for (const [id, page] of Object.entries(pages)) await page.screenshot({ path: path.join(SHOT_DIR, `${id}-failure.png`) }).catch(() => {});
    }
    console.log(JSON.stringify(Object.assign(summary, { ok: false, error: e.message })));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
main();
