// The web application's conversations with a SIP phone (SIPp as bob) through Kamailio, in
// headless Chromium. Run by tests/sip_web_messages.rs:
//
//   NODE_PATH=<tools>/node_modules SCENARIOS=<repo>/tests/sip node tests/browser/app_messages_test.js BASE_URL
//
// 1. alice signs in (alice@127.0.0.1 / alicepw) and waits for `registered`;
// 2. the phone sends her a CPIM message: the conversation list shows bob with 1 unread;
// 3. she opens it: the unread count goes to 0 (the page sends the `displayed` IMDN);
// 4. she answers "hello bob": the mark goes to "sent" when the phone took it;
// 5. the phone reports it displayed (an IMDN): the mark becomes "read";
// 6. contacts: she adds bob (group Team) and carol; her second device lists them and follows
//    her changes live (and she its); search, group filter, edit, delete, Message;
// 7. typing sends an is-composing indication, bob's shows "is typing"; what she sends appears
//    on her second device, a message deleted there goes here, the conversation deleted here
//    goes there;
// 8. files: picked, dropped and pasted ones are uploaded and shown (a picture inline), also on
//    her other device.
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

    // Contacts (the account's addressbook on the gateway): alice adds bob in the group "Team"
    // and carol in none; her second device lists them, and sees what the first changes as it
    // happens (and the other way round).
    await page.click('#back');
    const list = (p) => p.evaluate(() => window.app.contactList());
    const listed = async (p, what, want) => (await until(what, 10000, async () => {
      const l = await list(p);
      return { done: want(l), detail: l };
    })).detail;
    const addContact = async (name, uri, group) => {
      await page.evaluate(() => { document.getElementById('contact-editor').open = true; });
      await page.fill('#contact-name', name);
      await page.fill('#contact-uri', uri);
      await page.fill('#contact-group-name', group);
      await page.click('#contact-save');
      await listed(page, `${name} listed`, l => l.some(t => t.startsWith(name + ' (')));
    };
    await addContact('Bob', 'bob', 'Team');
    const other = await (await browser.newContext({ viewport: { width: 800, height: 500 } })).newPage();
    await signIn(other, BASE, 'alice@127.0.0.1', 'alicepw');
    await registration(other, 'registered');
    summary.contacts_other_device = await listed(other, 'bob on the other device', l => l.some(t => t.startsWith('Bob (')));
    await addContact('Carol', 'carol@127.0.0.1', '');
    summary.contacts_live = await listed(other, 'carol on the other device, live', l => l.some(t => t.startsWith('Carol (')));
    await page.fill('#contact-search', 'car');
    summary.contacts_search = await listed(page, 'the search', l => l.length === 1);
    await page.fill('#contact-search', '');
    await page.selectOption('#contact-group', { label: 'Team' });
    summary.contacts_team = await listed(page, 'the Team group', l => l.length === 1);
    await page.selectOption('#contact-group', '');
    await page.click('#contacts button[aria-label="Edit Bob"]');
    await page.fill('#contact-name', 'Bobby');
    await page.click('#contact-save');
    summary.contacts_edited = await listed(other, 'the new name on the other device', l => l.some(t => t.startsWith('Bobby (')));
    await other.click('#contacts button[aria-label="Delete Carol"]');
    summary.contacts_after_delete = await listed(page, 'carol deleted from the other device', l => l.length === 1);
    if (SHOT_DIR) await page.screenshot({ path: path.join(SHOT_DIR, 'contacts.png') });
    await page.click('#contacts button[aria-label="Message Bobby"]');
    await page.waitForSelector('#conversation:not([hidden])');
    summary.contact_message = await page.textContent('#contact');

    // Typing tells bob (an is-composing message through the gateway); bob typing shows here.
    await page.type('#send-text', 'typing');
    summary.composing_sent = (await until('the is-composing message sent', 10000, async () => {
      const n = await page.evaluate(() => window.app.composingSent || 0);
      return { done: n > 0, detail: n };
    })).detail;
    await page.fill('#send-text', '');
    phoneSends('uac_iscomposing.xml', {});
    summary.typing = (await until('bob typing shown', 10000, async () => {
      const t = await page.textContent('#typing');
      return { done: t.includes('bob@127.0.0.1'), detail: t };
    })).detail;

    // Her other device follows the conversation live: what she sends appears there; a message
    // deleted there goes here too; the conversation deleted here goes there.
    await other.click('#conversations button[data-contact="bob@127.0.0.1"]');
    await other.waitForSelector('#conversation:not([hidden])');
    await page.fill('#send-text', 'second message');
    await page.press('#send-text', 'Enter');
    const threadOf = (p) => p.evaluate(() => window.app.thread().map(m => m.text));
    summary.synced_thread = (await until('the message on the other device', 10000, async () => {
      const t = await threadOf(other);
      return { done: t.includes('second message'), detail: t };
    })).detail;
    await other.click('#thread button[aria-label="Delete the message: second message"]');
    summary.after_message_delete = (await until('the message deleted on both devices', 10000, async () => {
      const [here, there] = [await threadOf(page), await threadOf(other)];
      return { done: !here.includes('second message') && !there.includes('second message'), detail: { here, there } };
    })).detail;
    // Files: one from the file field (its upload's progress ends; the thread shows it with its
    // picture, which the gateway serves inline, and so does her other device), one dropped on
    // the conversation, one pasted into the message field.
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
    await page.setInputFiles('#send-file', { name: 'dot.png', mimeType: 'image/png', buffer: png });
    const pictured = (p) => async () => {
      const t = await p.evaluate(() => window.app.thread());
      const f = t.find(m => m.file && m.file.endsWith('/dot.png'));
      return { done: !!f && f.preview > 0, detail: t.filter(m => m.file) };
    };
    summary.file_here = (await until('the picture in the thread', 10000, pictured(page))).detail;
    summary.file_other_device = (await until('the picture on the other device', 10000, pictured(other))).detail;
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['dropped text'], 'dropped.txt', { type: 'text/plain' }));
      document.getElementById('thread').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['pasted text'], 'pasted.txt', { type: 'text/plain' }));
      document.getElementById('send-text').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    });
    summary.files = (await until('the dropped and the pasted file', 10000, async () => {
      const t = await page.evaluate(() => window.app.thread());
      const names = t.filter(m => m.file).map(m => decodeURIComponent(m.file.split('/').pop()));
      return { done: ['dot.png', 'dropped.txt', 'pasted.txt'].every(n => names.includes(n)), detail: names };
    })).detail;
    summary.upload_progress_hidden = await page.evaluate(() => document.getElementById('upload-progress').hidden);
    if (SHOT_DIR) await page.screenshot({ path: path.join(SHOT_DIR, 'file-transfer.png') });
    await page.click('#delete-conversation');
    await page.waitForSelector('#home:not([hidden])');
    summary.after_conversation_delete = (await until('the conversation gone from both devices', 10000, async () => {
      const here = await page.evaluate(() => window.app.conversationList().map(c => c.contact));
      const there = await other.evaluate(() => window.app.conversationList().map(c => c.contact));
      const otherHome = await other.evaluate(() => !document.getElementById('home').hidden);
      return { done: !here.includes('bob@127.0.0.1') && !there.includes('bob@127.0.0.1') && otherHome, detail: { here, there } };
    })).detail;
  });
}
main();
