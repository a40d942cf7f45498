// The web application's conversations with a SIP phone (SIPp as bob) through Kamailio, in
// headless Chromium. Run by tests/sip_web_messages.rs:
//
//   NODE_PATH=<tools>/node_modules SCENARIOS=<repo>/tests/sip node tests/browser/app_messages_test.js BASE_URL
//
// 1. alice signs in (alice@127.0.0.1 / alicepw) and waits for `registered`;
// 2. the phone sends her a CPIM message: the conversation list shows bob with 1 unread;
// 3. she opens it: the unread count goes to 0 (the page sends the `displayed` IMDN);
// 4. she answers "hello bob": the mark goes to "sent" when the phone took it;
// 5. the phone reports it displayed (an IMDN): the mark becomes "read".
// Screenshots go to SHOT_DIR. Prints a JSON summary; exit 0 on success, 1 otherwise.
'use strict';
const { chromium } = require('playwright-core');
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { FLAGS, registration, run, signIn, until } = require('./util');

const BASE = process.argv[2];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOT_DIR = process.env.SHOT_DIR || '';
const SCENARIOS = process.env.SCENARIOS;

// bob's phone sends `scenario` to alice through Kamailio.
function phoneSends(scenario, keys) {
  const args = ['127.0.0.1:5060', '-sf', path.join(SCENARIOS, scenario), '-s', 'alice', '-i', '127.0.0.1',
                '-p', '5072', '-m', '1', '-nostdin', '-timeout', '10s'];
  for (const [k, v] of Object.entries(keys)) args.push('-key', k, v);
  execFileSync('sipp', args, { stdio: 'ignore' });
}

async function main() {
  const summary = { base: BASE };
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  await run(browser, summary, async (summary, lines) => {
    const page = await (await browser.newContext({ viewport: { width: 800, height: 500 } })).newPage();
    page.on('console', m => lines.push(m.text()));
    page.on('pageerror', e => lines.push('pageerror: ' + e.message));
    await signIn(page, BASE, 'alice@127.0.0.1', 'alicepw');
    await registration(page, 'registered');

    phoneSends('uac_message_cpim.xml', { msgid: 'phone', text: 'hi alice' });
    summary.before = (await until('an unread message from bob', 10000, async () => {
      const list = await page.evaluate(() => window.app.conversationList());
      return { done: list.some(c => c.contact === 'bob@127.0.0.1' && c.unread === 1), detail: list };
    })).detail;
    summary.badge = await page.textContent('#conversations .badge');
    if (SHOT_DIR) { fs.mkdirSync(SHOT_DIR, { recursive: true }); await page.screenshot({ path: path.join(SHOT_DIR, 'unread.png') }); }

    await page.click('#conversations button[data-contact="bob@127.0.0.1"]');
    await page.waitForSelector('#conversation:not([hidden])');
    summary.after_open = await page.evaluate(() => window.app.conversationList());

    await page.fill('#send-text', 'hello bob');
    await page.press('#send-text', 'Enter');
    const sent = await until('the message sent', 10000, async () => {
      const t = await page.evaluate(() => window.app.thread());
      const mine = t.find(m => m.text === 'hello bob');
      return { done: mine && mine.mark === 'sent', detail: t };
    });
    const id = sent.detail.find(m => m.text === 'hello bob').id;
    summary.sent = id;

    phoneSends('uac_imdn.xml', { msgid: id, status: 'displayed', notification: 'display-notification' });
    summary.thread = (await until('the read mark', 10000, async () => {
      const t = await page.evaluate(() => window.app.thread());
      const mine = t.find(m => m.text === 'hello bob');
      return { done: mine && mine.mark === 'read', detail: t };
    })).detail;
    if (SHOT_DIR) await page.screenshot({ path: path.join(SHOT_DIR, 'conversation.png') });
  });
}
main();
