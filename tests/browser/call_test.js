// One headless Chromium tab (fake microphone) in a 1:1 call through sylk-gateway, through
// call.html. Run by tests/sip_browser_call.rs:
//
//   NODE_PATH=<tools>/node_modules node tests/browser/call_test.js WS_URL ACCOUNT HA1 (call AOR | answer)
//
// Serves call.html on http://127.0.0.1:<any>, opens it in Debian's Chromium (CHROMIUM), which
// registers ACCOUNT and either calls AOR or answers the first incoming call; waits until the
// call is established and audio flows both ways (inbound packetsReceived > 0 and outbound
// packetsSent > 0 in getStats, growing), hangs up (session-terminate) and waits for
// `terminated`. Prints a JSON summary; exit 0 on success, 1 with the reason otherwise.
// Env: CHROMIUM, MEDIA_TIMEOUT (s, default 30), SHOT_DIR (a screenshot of the final page).
'use strict';
const { chromium } = require('playwright-core');
const { FLAGS, Failure, serve, toneWav, until } = require('./util');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [WS_URL, ACCOUNT, HA1, MODE, TARGET] = process.argv.slice(2);
// VIDEO=add: once audio flows, the page upgrades the call to video (session-update) and waits
// for decoded video from the far end. VIDEO=answer: the far end's re-INVITE adds video; the
// page answers it with its camera and waits until it sends video; the far end hangs up.
const VIDEO = process.env.VIDEO || '';
if (!WS_URL || !ACCOUNT || !HA1 || !['call', 'answer'].includes(MODE) || (MODE === 'call' && !TARGET)) {
  console.error('usage: node call_test.js WS_URL ACCOUNT HA1 (call AOR | answer)');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const MEDIA_TIMEOUT_MS = Number(process.env.MEDIA_TIMEOUT || 30) * 1000;
const SHOT_DIR = process.env.SHOT_DIR || '';
// OPUS_ONLY=1: the page offers Opus alone. TONE=<Hz>: its microphone is that sine, raw.
const OPUS_ONLY = process.env.OPUS_ONLY === '1';
const TONE = Number(process.env.TONE || 0);

async function main() {
  const summary = { ws: WS_URL, account: ACCOUNT, mode: MODE, target: TARGET || null };
  const server = await serve('call.html');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sylk-browser-call-'));
  const args = [...FLAGS];
  if (TONE) {
    const wav = path.join(profile, 'tone.wav');
    toneWav(wav, TONE);
    args.push(`--use-file-for-fake-audio-capture=${wav}`);
  }
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args, viewport: { width: 640, height: 360 },
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const lines = [];
  page.on('console', m => lines.push(m.text()));
  page.on('pageerror', e => lines.push('pageerror: ' + e.message));
  try {
    let url = `http://127.0.0.1:${server.address().port}/call.html?ws=${encodeURIComponent(WS_URL)}` +
      `&account=${encodeURIComponent(ACCOUNT)}&ha1=${encodeURIComponent(HA1)}`;
    url += MODE === 'call' ? `&call=${encodeURIComponent(TARGET)}` : '&answer=1';
    if (OPUS_ONLY) url += '&codecs=opus';
    if (TONE) url += '&rawaudio=1';
    await page.goto(url);
    const state = () => page.evaluate(() => ({ registration: sylk.registration, state: sylk.state, states: sylk.states, errors: sylk.errors, ws: sylk.wsClosed, reason: sylk.reason }));
    const ok = (s) => { if (s.errors.length || s.ws || s.state === 'terminated') throw new Error(JSON.stringify(s)); };
    await until('registered', 15000, async () => { const s = await state(); ok(s); return { done: s.registration === 'registered', detail: s }; });
    if (MODE === 'answer') console.error('READY'); // the Rust side dials now
    await until('established', MEDIA_TIMEOUT_MS, async () => { const s = await state(); ok(s); return { done: s.state === 'established', detail: s }; });
    if (VIDEO === 'answer') {
      await until('update received and answered', MEDIA_TIMEOUT_MS, async () => { const s = await state(); return { done: (await page.evaluate(() => sylk.updates)).includes('received'), detail: s }; });
      const sending = await until('video sent', MEDIA_TIMEOUT_MS, async () => {
        const s = await page.evaluate(() => sylk.stats());
        return { done: s.videoOut && s.videoOut.packetsSent > 20, detail: s };
      });
      summary.stats = sending.detail;
      summary.updates = await page.evaluate(() => sylk.updates);
      const end = await until('terminated by the far end', 15000, async () => { const s = await state(); return { done: s.state === 'terminated', detail: s }; });
      summary.reason = end.detail.reason;
      summary.states = end.detail.states;
      summary.ok = true;
      console.log(JSON.stringify(summary));
      return;
    }
    const first = await page.evaluate(() => sylk.stats());
    const flowing = await until('audio both ways', MEDIA_TIMEOUT_MS, async () => {
      const s = await page.evaluate(() => sylk.stats());
      const inOk = s.inbound && s.inbound.packetsReceived > 50;
      const outOk = s.outbound && s.outbound.packetsSent > 50;
      return { done: inOk && outOk, detail: s };
    });
    summary.stats_first = first;
    summary.stats = flowing.detail;
    // HOLD_MS: the call goes on that long before the hang-up (the far end records it).
    await new Promise(r => setTimeout(r, Number(process.env.HOLD_MS || 0)));
    if (VIDEO === 'add') {
      await page.evaluate(() => sylk.addVideo());
      await until('update accepted', MEDIA_TIMEOUT_MS, async () => { const u = await page.evaluate(() => sylk.updates); if (u.includes('failed')) throw new Error('update failed: ' + JSON.stringify(await state())); return { done: u.includes('accepted'), detail: u }; });
      const video = await until('video both ways', MEDIA_TIMEOUT_MS, async () => {
        const s = await page.evaluate(() => sylk.stats());
        return { done: s.videoIn && s.videoIn.framesDecoded > 10 && s.videoOut && s.videoOut.packetsSent > 50, detail: s };
      });
      summary.video = video.detail;
      summary.updates = await page.evaluate(() => sylk.updates);
    }
    summary.states = (await state()).states;
    if (SHOT_DIR) {
      fs.mkdirSync(SHOT_DIR, { recursive: true });
      await page.screenshot({ path: path.join(SHOT_DIR, `${MODE}.png`) });
    }
    await page.evaluate(() => sylk.hangup());
    const end = await until('terminated', 10000, async () => { const s = await state(); return { done: s.state === 'terminated', detail: s }; });
    summary.reason = end.detail.reason;
    summary.ok = true;
    console.log(JSON.stringify(summary));
  } catch (e) {
    console.error(e.message);
    console.error('--- page console:\n' + lines.slice(-40).join('\n'));
    try { console.error('--- sdp:\n' + JSON.stringify(await page.evaluate(() => ({ offer: sylk.offer, answer: sylk.answer })), null, 1)); } catch (_) {}
    console.log(JSON.stringify(Object.assign(summary, { ok: false, error: e.message })));
    process.exitCode = 1;
  } finally {
    await ctx.close();
    server.close();
  }
}
main();
