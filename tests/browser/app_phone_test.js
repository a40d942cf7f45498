// The web application on a phone-sized screen (375 x 700), used with the keyboard only:
// Tab through the sign-in form, Enter; a conversation opened from its field has the focus in
// the message field, and Escape goes back to that field; type a room name, Enter;
// the meeting shows the local tile and nothing is wider than the screen (no horizontal
// scrolling) on the sign-in, home and meeting screens; leaving it puts the focus back on the
// room field, and Enter joins again. The gateway runs with a branding file
// (title "Acme Talk", room domain rooms.example.org). Then a browser that denies the camera
// and microphone: joining shows the permission error. Run by tests/web_app.rs.
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');
const { FLAGS, run, until } = require('./util');

const BASE = process.argv[2];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOT_DIR = process.env.SHOT_DIR || '';

// How much wider than the phone's 375 px the page lays out (a mobile browser zooms out rather
// than scroll, so innerWidth can grow with the content: compare with the device width).
const overflow = (page) => page.evaluate(() => document.documentElement.scrollWidth - 375);

async function main() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  await run(browser, { base: BASE }, async (summary, lines) => {
    const ctx = await browser.newContext({ viewport: { width: 375, height: 700 }, isMobile: true, hasTouch: true });
    const page = await ctx.newPage();
    page.on('console', m => lines.push(m.text()));
    await page.goto(`${BASE}/webrtcgateway/`);
    summary.overflow = { signin: await overflow(page) };
    // Keyboard only.
    await page.keyboard.press('Tab');
    summary.first_focus = await page.evaluate(() => document.activeElement.id);
    await page.keyboard.type('carol@example.invalid');
    await page.keyboard.press('Tab');
    await page.keyboard.type('secret');
    await page.keyboard.press('Tab');
    await page.keyboard.type('Carol');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#home:not([hidden])', { timeout: 10000 });
    summary.overflow.home = await overflow(page);
    summary.home_focus = await page.evaluate(() => document.activeElement.id);
    // Focus follows the screens: a conversation opened from the new-conversation field puts
    // it in the message field; Escape goes back home, to that field again.
    const focused = () => page.evaluate(() => document.activeElement.id);
    await page.focus('#new-chat');
    await page.keyboard.type('erin@example.invalid');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#conversation:not([hidden])', { timeout: 10000 });
    summary.conversation_focus = await focused();
    await page.keyboard.press('Escape');
    await page.waitForSelector('#home:not([hidden])', { timeout: 10000 });
    summary.back_focus = await focused();
    await page.focus('#room-name');
    await page.keyboard.type('Mobile');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#meeting:not([hidden])', { timeout: 10000 });
    await until('the local tile', 10000, async () => {
      const tiles = await page.evaluate(() => window.app.tiles());
      return { done: tiles.length === 1 && tiles[0].width > 0, detail: tiles };
    });
    summary.overflow.meeting = await overflow(page);
    // Leaving the meeting brings the focus back to the room field it was joined from.
    await page.click('#leave');
    await page.waitForSelector('#home:not([hidden])', { timeout: 10000 });
    summary.after_leave_focus = await focused();
    // And joining again (the same room) works: the local tile is back.
    await page.keyboard.press('Enter');
    await page.waitForSelector('#meeting:not([hidden])', { timeout: 10000 });
    summary.rejoined = (await until('the local tile after rejoining', 10000, async () => {
      const tiles = await page.evaluate(() => window.app.tiles());
      return { done: tiles.length === 1 && tiles[0].width > 0, detail: tiles.length };
    })).detail;
    if (SHOT_DIR) { fs.mkdirSync(SHOT_DIR, { recursive: true }); await page.screenshot({ path: path.join(SHOT_DIR, 'phone-meeting.png'), fullPage: true }); }
    summary.branding = await page.evaluate(() => ({ title: document.title, header: document.getElementById('title').textContent, room: document.getElementById('room-title').textContent }));

    // A browser that denies camera and microphone.
    const denying = await chromium.launch({ executablePath: CHROMIUM, headless: true,
      args: FLAGS.filter(f => f !== '--use-fake-ui-for-media-stream').concat(['--deny-permission-prompts']) });
    try {
      const p2 = await (await denying.newContext()).newPage();
      await p2.goto(`${BASE}/webrtcgateway/`);
      await p2.fill('#account', 'dave@example.invalid');
      await p2.fill('#password', 'secret');
      await p2.press('#password', 'Enter');
      await p2.waitForSelector('#home:not([hidden])', { timeout: 10000 });
      await p2.fill('#room-name', 'denied');
      await p2.press('#room-name', 'Enter');
      summary.denied = (await until('the permission error', 10000, async () => {
        const shown = await p2.evaluate(() => document.getElementById('error').classList.contains('show'));
        return { done: shown, detail: await p2.textContent('#error') };
      })).detail;
    } finally {
      await denying.close();
    }
    if (summary.first_focus !== 'account') throw new Error(`the first Tab reaches ${summary.first_focus}, not the account field`);
    if (summary.home_focus !== 'room-name') throw new Error(`after sign-in the focus is on ${summary.home_focus}`);
    if (summary.conversation_focus !== 'send-text') throw new Error(`in the conversation the focus is on ${summary.conversation_focus}`);
    if (summary.back_focus !== 'new-chat') throw new Error(`back home the focus is on ${summary.back_focus}`);
    if (summary.after_leave_focus !== 'room-name') throw new Error(`after leaving the focus is on ${summary.after_leave_focus}`);
    for (const [screen, px] of Object.entries(summary.overflow)) {
      if (px > 0) throw new Error(`the ${screen} screen is ${px} px wider than the phone`);
    }
  });
}
main();
