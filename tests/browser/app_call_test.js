// The web application in 1:1 calls with baresip (bob) through Kamailio, in headless Chromium
// (fake microphone). Run by tests/sip_web_app.rs:
//
//   NODE_PATH=<tools>/node_modules BCTL=<peers>/baresip/bctl.py node tests/browser/app_call_test.js BASE_URL
//
// 1. alice signs in (alice@127.0.0.1 / alicepw): the page shows `registered`;
// 2. she calls "bob" (the account's domain is added): the call is established and audio flows
//    both ways (getStats packets > 50 each way); she hangs up ("200 to BYE");
// 3. bob's baresip dials alice (bctl.py): the incoming screen shows bob, she answers, audio
//    flows both ways, she hangs up;
// 4. bob calls and hangs up before the answer: a "Missed call" notice, whose "Call back" calls
//    him (audio both ways);
// 5. the call history lists those calls with how they ended (missed ones alone with a filter),
//    outlives a reload, and calls from its Call button;
// 6. a second context signs in with a wrong password: "Registration failed: 401 Unauthorized";
// 7. bob signs in to the web app, alice joins a meeting and invites him: his page shows the
//    invitation, and its Join button takes him into the meeting, where he sees alice.
// Screenshots go to SHOT_DIR. Prints a JSON summary; exit 0 on success, 1 otherwise.
'use strict';
const { chromium } = require('playwright-core');
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { FLAGS, axeViolations, fill, firefoxPage, press, registration, run, signIn: signInAt, text, until } = require('./util');

const BASE = process.argv[2];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOT_DIR = process.env.SHOT_DIR || '';
const BCTL = process.env.BCTL;

const signIn = (page, account, password) => signInAt(page, BASE, account, password, 'Alice');

async function audioBothWays(page, what) {
  await until(`${what}: established`, 20000, async () => {
    const s = await text(page, '#call-state');
    return { done: s === 'established', detail: s };
  });
  return (await until(`${what}: audio both ways`, 20000, async () => {
    const st = await page.evaluate(() => window.app.callStats());
    return { done: st && st.packetsReceived > 50 && st.packetsSent > 50, detail: st };
  })).detail;
}

async function hangUp(page, what) {
  await page.click('#hangup');
  await page.waitForSelector('#home:not([hidden])', { timeout: 10000 });
  return page.evaluate(() => window.app.lastCall);
}

async function shot(page, name) {
  if (!SHOT_DIR) return;
  fs.mkdirSync(SHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SHOT_DIR, name) });
}

async function main() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  // BROWSER=firefox runs alice's page in Firefox ESR instead.
  const newPage = async () => process.env.BROWSER === 'firefox'
    ? firefoxPage({ width: 800, height: 500 })
    : (await browser.newContext({ viewport: { width: 800, height: 500 }, permissions: ['notifications'] })).newPage();
  await run(browser, { base: BASE, browser: process.env.BROWSER || 'chromium' }, async (summary, lines) => {
    const page = await newPage();
    page.on('console', m => lines.push(m.text()));
    page.on('pageerror', e => lines.push('pageerror: ' + e.message));
    await signIn(page, 'alice@127.0.0.1', 'alicepw');
    await registration(page, 'registered');

    // The dial pad types into the address field.
    for (const key of ['1', '2', '#']) await page.click(`.dialpad .key:nth-child(${{ '1': 1, '2': 2, '#': 12 }[key]})`);
    summary.dialpad = await page.evaluate(() => document.getElementById('dial').value);

    // Outgoing.
    await fill(page, '#dial', 'bob');
    await press(page, '#dial', 'Enter');
    summary.outgoing = { stats: await audioBothWays(page, 'outgoing call') };
    summary.outgoing.peer = await text(page, '#peer');
    summary.outgoing.quality = await page.evaluate(() => window.app.quality());
    // In-call controls: mute, hold (a re-INVITE baresip accepts), DTMF, unmute, resume.
    await page.click('#mute');
    await page.click('#hold');
    await until('on hold', 10000, async () => {
      const t = await text(page, '#hold');
      return { done: t === 'Resume', detail: t };
    });
    await fill(page, '#dtmf', '42');
    await press(page, '#dtmf', 'Enter');
    await until('the tones sent', 10000, async () => {
      const v = await page.evaluate(() => document.getElementById('dtmf').value);
      return { done: v === '', detail: v };
    });
    await page.click('#hold');
    await until('resumed', 10000, async () => {
      const t = await text(page, '#hold');
      return { done: t === 'Hold', detail: t };
    });
    summary.outgoing.controls = {
      mute: await text(page, '#mute'),
      errors: await page.evaluate(() => window.app.errors),
    };
    await page.click('#mute');
    // The statistics panel: the codec and the bitrates each way, a graph of the last minute.
    await page.click('#stats-panel summary');
    summary.outgoing.stats_panel = (await until('the statistics panel', 10000, async () => {
      const p = await page.evaluate(() => window.app.statsPanel());
      return { done: p.open && p.codec !== '' && parseInt(p.in, 10) > 0 && parseInt(p.out, 10) > 0 && p.samples >= 2, detail: p };
    })).detail;
    await shot(page, 'in-call.png');
    // The in-call screen has no serious or critical accessibility violation (axe-core).
    if (process.env.BROWSER !== 'firefox') summary.axe_in_call = await axeViolations(page);
    summary.outgoing.end = await hangUp(page, 'outgoing call');

    // Incoming from baresip.
    execFileSync('python3', [BCTL, '4445', 'dial', 'sip:alice@127.0.0.1']);
    await page.waitForSelector('#incoming:not([hidden])', { timeout: 10000 });
    summary.incoming = { caller: await text(page, '#caller') };
    // It rings, and (where the user allowed notifications) a desktop notification says who.
    summary.incoming.alert = await page.evaluate(() => ({ ringing: !!window.app.ringing, notifications: window.app.notifications || [], permission: window.Notification ? Notification.permission : null }));
    await shot(page, 'incoming.png');
    if (process.env.BROWSER !== 'firefox') summary.axe_incoming = await axeViolations(page);
    // Answered with the camera on (the phone offers audio only: the call stays audio), then
    // the camera turned off.
    await page.click('#answer-video');
    summary.incoming.stats = await audioBothWays(page, 'incoming call');
    summary.incoming.ringing_after_answer = await page.evaluate(() => !!window.app.ringing);
    await page.click('#camera-off');
    summary.incoming.camera_off = await page.evaluate(() => document.getElementById('camera-off').getAttribute('aria-pressed'));
    summary.incoming.end = await hangUp(page, 'incoming call');

    // Declined: baresip calls again, alice declines.
    execFileSync('python3', [BCTL, '4445', 'dial', 'sip:alice@127.0.0.1']);
    await page.waitForSelector('#incoming:not([hidden])', { timeout: 10000 });
    await page.click('#decline');
    await page.waitForSelector('#home:not([hidden])', { timeout: 10000 });

    // Missed: baresip calls and hangs up before alice answers; a notice offers to call back,
    // and calling back from it reaches bob.
    execFileSync('python3', [BCTL, '4445', 'dial', 'sip:alice@127.0.0.1']);
    await page.waitForSelector('#incoming:not([hidden])', { timeout: 10000 });
    execFileSync('python3', [BCTL, '4445', 'hangup', '']);
    await page.waitForSelector('#home:not([hidden])', { timeout: 10000 });
    summary.missed = (await until('the missed-call notice', 10000, async () => {
      const n = await page.evaluate(() => window.app.notices());
      return { done: n.some(t => t.startsWith('Missed call from')), detail: n };
    })).detail;
    await shot(page, 'missed-call.png');
    await page.click('#notices li button');
    summary.call_back = await audioBothWays(page, 'call back');
    await hangUp(page, 'call back');

    // A call the far end rejects: the reason is shown.
    await fill(page, '#dial', 'nobody');
    await press(page, '#dial', 'Enter');
    summary.rejected = (await until('the rejection', 10000, async () => {
      const shown = await page.evaluate(() => document.getElementById('error').classList.contains('show'));
      return { done: shown, detail: await text(page, '#error') };
    })).detail;

    // The call history (kept in the browser's IndexedDB): every call above, newest first,
    // with how it ended; the missed-calls filter shows the missed one alone.
    const expected = [['outgoing', 'failed'], ['outgoing', 'answered'], ['incoming', 'missed'],
      ['incoming', 'declined'], ['incoming', 'answered'], ['outgoing', 'answered']];
    const kinds = (h) => h.map(e => [e.direction, e.outcome]);
    summary.history = (await until('the call history', 10000, async () => {
      const h = await page.evaluate(() => window.app.history());
      return { done: JSON.stringify(kinds(h).slice(0, 6)) === JSON.stringify(expected), detail: h };
    })).detail;
    await page.click('#missed-only');
    summary.missed_only = (await until('the missed calls alone', 10000, async () => {
      const shown = await page.evaluate(() => window.app.shownHistory());
      return { done: shown.length === 1 && shown[0].includes('Missed'), detail: shown };
    })).detail;
    await page.click('#missed-only');
    await until('every call again', 10000, async () => {
      const shown = await page.evaluate(() => window.app.shownHistory());
      return { done: shown.length >= 6, detail: shown };
    });
    await shot(page, 'home.png');
    // It outlives the page: reloaded and signed in again, the same calls; a Call button of
    // the history calls bob again.
    await signIn(page, 'alice@127.0.0.1', 'alicepw');
    await registration(page, 'registered');
    summary.history_after_reload = (await until('the history after a reload', 10000, async () => {
      const h = await page.evaluate(() => window.app.history());
      return { done: JSON.stringify(kinds(h).slice(0, 6)) === JSON.stringify(expected), detail: h.length };
    })).detail;
    await page.click('#history li:nth-child(2) button');
    summary.call_from_history = await audioBothWays(page, 'call from the history');
    await hangUp(page, 'call from the history');
    // And from her contacts: bob saved there, its Call button calls him.
    await page.evaluate(() => { document.getElementById('contact-editor').open = true; });
    await fill(page, '#contact-name', 'Bob');
    await fill(page, '#contact-uri', 'bob');
    await page.click('#contact-save');
    await until('bob in the contacts', 10000, async () => {
      const l = await page.evaluate(() => window.app.contactList());
      return { done: l.some(t => t.startsWith('Bob (bob@127.0.0.1)')), detail: l };
    });
    await page.click('#contacts button[aria-label="Call Bob"]');
    summary.call_from_contact = await audioBothWays(page, 'call from a contact');
    // The test counts what baresip received in this last call (> 50 packets): the first few
    // can be lost while the call is set up, so it runs until twice that was sent.
    summary.call_from_contact = (await until('call from a contact: 100 packets sent', 20000, async () => {
      const st = await page.evaluate(() => window.app.callStats());
      return { done: st && st.packetsSent > 100 && st.packetsReceived > 100, detail: st };
    })).detail;
    await hangUp(page, 'call from a contact');

    // A wrong password, in another page.
    const other = await newPage();
    await signIn(other, 'alice@127.0.0.1', 'not-the-password');
    summary.wrong_password = await registration(other, 'Registration failed');
    await shot(other, 'wrong-password.png');

    // A conference invitation: bob signs in to the web app too; alice joins a meeting and
    // invites him; his page shows the invitation, and its Join button takes him into the
    // meeting, where he sees alice.
    const bob = await newPage();
    await signInAt(bob, BASE, 'bob@127.0.0.1', 'bobpw', 'Bob');
    await registration(bob, 'registered');
    await fill(page, '#room-name', 'Planning');
    await press(page, '#room-name', 'Enter');
    await page.waitForSelector('#meeting:not([hidden])', { timeout: 10000 });
    await fill(page, '#invite', 'bob@127.0.0.1');
    await press(page, '#invite', 'Enter');
    summary.invitation = (await until('the invitation at bob', 10000, async () => {
      const n = await bob.evaluate(() => window.app.notices());
      return { done: n.some(t => t.includes('invites you to planning@')), detail: n };
    })).detail;
    await shot(bob, 'invitation.png');
    await bob.click('#notices li button');
    await bob.waitForSelector('#meeting:not([hidden])', { timeout: 10000 });
    summary.invitation_joined = (await until('bob to see alice in the meeting', 20000, async () => {
      const tiles = await bob.evaluate(() => window.app.tiles());
      return { done: tiles.some(t => t.name === 'Alice' && t.frames > 0), detail: tiles };
    })).detail.map(t => t.name);
  });
}
main();
