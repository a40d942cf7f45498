// Two headless Chromium participants (room.html) in a room a SIP phone already called
// (tests/phones_in_rooms.rs dials it first). Each browser's microphone is a WAV tone of its
// own (TONES, Hz, one per user), so what the phone hears can be told apart:
//
//   NODE_PATH=<tools>/node_modules node tests/browser/phone_room_test.js WS_URL ROOM
//
// 1. each page joins ROOM and attaches every publisher's feed, the phone's too (type "sip");
// 2. waits until both pages receive the phone's audio (inbound-rtp packets) and hear it
//    (WebAudio loudness of the feed above silence), and each decodes the other's; both get
//    the phone's level in conference-audio-levels;
// 3. keeps the pages in the room for HOLD_MS more (the phone records the mix meanwhile).
// Prints a JSON summary on stdout; exit 0 on success, 1 with the reason on stderr.
'use strict';
const { chromium } = require('playwright-core');
const { FLAGS, Failure, serve, sleep, toneWav, until } = require('./util');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [WS_URL, ROOM] = process.argv.slice(2);
if (!WS_URL || !ROOM) {
  console.error('usage: node phone_room_test.js WS_URL ROOM');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TONES = (process.env.TONES || '440,880').split(',').map(Number);
const USERS = ['alice', 'bob', 'carol'].slice(0, TONES.length);
const HOLD_MS = Number(process.env.HOLD_MS || 4000);
const MEDIA_TIMEOUT_MS = 30000;

async function main() {
  const summary = { room: ROOM, participants: {} };
  const server = await serve('room.html');
  const base = `http://127.0.0.1:${server.address().port}/room.html`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sylk-phone-room-'));
  const contexts = [];
  const pages = {};
  const consoleLines = {};
  try {
    for (const [i, user] of USERS.entries()) {
      const wav = path.join(dir, `${user}.wav`);
      toneWav(wav, TONES[i]);
      // One browser per user: the fake microphone's file is a launch flag.
      const ctx = await chromium.launchPersistentContext(path.join(dir, `profile-${user}`), {
        executablePath: CHROMIUM, headless: true, viewport: { width: 800, height: 600 },
        args: [...FLAGS, `--use-file-for-fake-audio-capture=${wav}`, '--autoplay-policy=no-user-gesture-required'],
      });
      contexts.push(ctx);
      const page = ctx.pages()[0] || await ctx.newPage();
      pages[user] = page;
      consoleLines[user] = [];
      page.on('console', m => consoleLines[user].push(m.text()));
      page.on('pageerror', e => consoleLines[user].push('pageerror: ' + e.message));
      await page.goto(`${base}?ws=${encodeURIComponent(WS_URL)}&account=${encodeURIComponent(user + '@example.com')}` +
        `&room=${encodeURIComponent(ROOM)}&name=${user}&rawaudio=1`);
      await until(`${user} to join`, 15000, async () => {
        const s = await page.evaluate(() => ({ state: sylk.state, errors: sylk.errors, ws: sylk.wsClosed }));
        if (s.errors.length || s.ws) throw new Failure(`${user}: ${JSON.stringify(s)}`);
        return { done: s.state === 'established', detail: s };
      });
    }
    // The phone's publisher session, as each page learnt it.
    const phoneOf = async (page) => page.evaluate(() => {
      const e = sylk.events.find(m => (m.event === 'initial-publishers' || m.event === 'publishers-joined') &&
        (m.publishers || []).some(p => p.type === 'sip'));
      return e ? e.publishers.find(p => p.type === 'sip') : null;
    });
    await until('both pages to receive the phone and each other', MEDIA_TIMEOUT_MS, async () => {
      const detail = {};
      let done = true;
      for (const user of USERS) {
        const phone = await phoneOf(pages[user]);
        const s = await pages[user].evaluate(() => sylk.stats());
        const other = USERS.find(u => u !== user);
        const fromPhone = phone && s.feeds[phone.id] && s.feeds[phone.id].audio;
        if (!other) {
          detail[user] = { phone, fromPhone };
          done = done && !!fromPhone && fromPhone.packetsReceived > 50;
          continue;
        }
        const fromOther = Object.values(s.feeds).find(f => f.uri === `${other}@example.com`);
        detail[user] = { phone, fromPhone, fromOther: fromOther && fromOther.audio };
        done = done && !!fromPhone && fromPhone.packetsReceived > 50 &&
          !!fromOther && !!fromOther.audio && fromOther.audio.packetsReceived > 50;
      }
      return { done, detail };
    });
    for (const user of USERS) {
      const phone = await phoneOf(pages[user]);
      const loudness = await pages[user].evaluate((id) => sylk.feedLoudness(id, 1500), phone.id);
      const s = await pages[user].evaluate(() => sylk.stats());
      summary.participants[user] = { phone, loudness, fromPhone: s.feeds[phone.id].audio };
      if (!(loudness > 0.01)) throw new Failure(`${user} hears silence from the phone (loudness ${loudness})`);
      // The phone's level comes in conference-audio-levels, as a browser publisher's does.
      summary.participants[user].phone_level = (await until(`${user} to get the phone's level`, 10000, async () => {
        const levels = await pages[user].evaluate((id) => (sylk.levels[id] || []).map(l => l.level), phone.id);
        return { done: levels.some(l => l > 0), detail: Math.max(0, ...levels) };
      })).detail;
    }
    await sleep(HOLD_MS);
    summary.ok = true;
  } catch (e) {
    summary.ok = false;
    summary.error = e.message;
    summary.console = Object.fromEntries(Object.entries(consoleLines).map(([u, l]) => [u, l.slice(-30)]));
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
    server.close();
  }
  console.log(JSON.stringify(summary));
  if (!summary.ok) {
    console.error(summary.error);
    process.exit(1);
  }
}

main().catch(e => { console.error(e.stack || String(e)); process.exit(1); });
