// Three headless Chromium participants in one video room of sylk-gateway, through room.html
// (a minimal sylkRTC-2 client). Run by tests/browser_room.rs:
//
//   NODE_PATH=<tools>/node_modules node tests/browser/room_test.js WS_URL
//
// 1. serves room.html on http://127.0.0.1:<any> (a secure context: getUserMedia works);
// 2. launches Debian's Chromium (CHROMIUM, default /usr/bin/chromium) headless with a fake
//    camera and microphone, opens one page per participant, each joins ROOM (one after the
//    other: each waits for the previous one's publisher session to be established);
// 3. waits until every page decodes the video (framesDecoded > 0) and receives the audio
//    (packetsReceived, bytesReceived > 0) of both others;
// 4. closes one page abruptly (no beforeunload) and waits until both others get
//    publishers-left with its publisher session id, within CONSENT_TIMEOUT seconds;
// 5. checks the two remaining participants still receive each other.
// Every selected ICE pair must end at the gateway's 127.0.0.1; when this process sees only
// loopback interfaces (a network namespace, see tests/browser_room.rs), it must start there too.
// Prints a JSON summary on stdout; exit 0 on success, 1 with the reason on stderr otherwise.
// Env: CONSENT_TIMEOUT (s, default 5), MEDIA_TIMEOUT (s, default 30), SHOT_DIR (screenshots),
// MEDIA_IP (the gateway's advertised media address, default 127.0.0.1), MEDIA_PROTOCOL (udp,
// or tcp: every pair must be ICE-TCP), EXPECT_RTX=1 (video is
// lost on the way to the browsers: every feed must show NACKs sent and retransmissions
// received, and keep decoding).
'use strict';
const { chromium } = require('playwright-core');
const { FIREFOX_PREFS, FLAGS, Failure, serve, until } = require('./util');
const fs = require('fs');
const os = require('os');
const path = require('path');

const WS_URL = process.argv[2];
if (!WS_URL) {
  console.error('usage: node room_test.js WS_URL');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CONSENT_TIMEOUT_MS = Number(process.env.CONSENT_TIMEOUT || 5) * 1000;
const MEDIA_TIMEOUT_MS = Number(process.env.MEDIA_TIMEOUT || 30) * 1000;
const SHOT_DIR = process.env.SHOT_DIR || '';
const ROOM = 'browsers@videoconference.example.com';
const USERS = ['alice', 'bob', 'carol'];
// Each participant's WebSocket, when they differ (nodes of a cluster): WS_URLS=url,url,url.
const WS_URLS = (process.env.WS_URLS || '').split(',').filter(Boolean);
// Room chat: every participant sends one message and receives the others'.
const CHAT = process.env.CHAT === '1';
// Which browser each participant uses (BROWSERS=chromium,firefox,firefox); Chromium by default.
const BROWSERS = (process.env.BROWSERS || 'chromium,chromium,chromium').split(',');
const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
const VICTIM = 'carol'; // the one whose tab is closed
// Sealed: this process sees no network interface but loopback (a network namespace).
const SEALED = Object.values(os.networkInterfaces()).flat().every(a => a.internal);
const MEDIA_IP = process.env.MEDIA_IP || '127.0.0.1';
// The protocol every selected pair must use: udp, or tcp when UDP to the gateway is blocked.
const MEDIA_PROTOCOL = process.env.MEDIA_PROTOCOL || 'udp';
const EXPECT_RTX = process.env.EXPECT_RTX === '1';
// AUDIO_LEVELS=1: every page gets conference-audio-levels for the others while they make sound
// (the fake microphone), and a muted participant's level falls to 0 and stays there; the others
// get publisher-updated muted true, then false when it unmutes; publisher entries carry type
// and muted.
const AUDIO_LEVELS = process.env.AUDIO_LEVELS === '1';
// MAX_BITRATE=<bits/s>: the room caps each publisher at this (by REMB): every publisher's
// video sending rate, measured over 3 s once the encoders settled, must stay under it (+30 %).
// MEASURE_RATES=1: measure and print the rates only.
const MAX_BITRATE = Number(process.env.MAX_BITRATE || 0);
const MEASURE_RATES = MAX_BITRATE > 0 || process.env.MEASURE_RATES === '1';



// Chromium through playwright-core and/or Firefox through puppeteer-core (WebDriver BiDi),
// as the participants need them; newPage(kind) opens a page in one of them.
async function launch(profile) {
  const ctx = { closers: [] };
  let chromiumCtx = null;
  let firefox = null;
  ctx.newPage = async (kind) => {
    if (kind === 'firefox') {
      if (!firefox) {
        const puppeteer = require('puppeteer-core');
        firefox = await puppeteer.launch({
          browser: 'firefox', executablePath: FIREFOX, headless: true,
          defaultViewport: { width: 800, height: 600 },
          extraPrefsFirefox: FIREFOX_PREFS,
        });
        ctx.closers.push(() => firefox.close());
      }
      return firefox.newPage();
    }
    if (!chromiumCtx) {
      chromiumCtx = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 800, height: 600 },
      });
      ctx.closers.push(() => chromiumCtx.close());
      const first = chromiumCtx.pages()[0];
      if (first) return first;
    }
    return chromiumCtx.newPage();
  };
  ctx.close = async () => { for (const c of ctx.closers) await c().catch(() => {}); };
  return ctx;
}

async function main() {
  const summary = { ws: WS_URL, room: ROOM, chromium: CHROMIUM, network: SEALED ? 'loopback only (sealed namespace)' : 'host network',
                    consent_timeout_ms: CONSENT_TIMEOUT_MS, participants: {} };
  const server = await serve('room.html');
  const base = `http://127.0.0.1:${server.address().port}/room.html`;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sylk-browser-room-'));
  const t0 = Date.now();
  const ctx = await launch(profile);
  summary.launch_ms = Date.now() - t0;
  const pages = {};
  const consoleLines = {};
  try {
    if (SHOT_DIR) fs.mkdirSync(SHOT_DIR, { recursive: true });
    // --- join, one after the other -------------------------------------------------------
    for (const [i, user] of USERS.entries()) {
      const page = await ctx.newPage(BROWSERS[i] || 'chromium');
      pages[user] = page;
      consoleLines[user] = [];
      page.on('console', m => { consoleLines[user].push(m.text()); });
      page.on('pageerror', e => { consoleLines[user].push('pageerror: ' + e.message); });
      const url = `${base}?ws=${encodeURIComponent(WS_URLS[i] || WS_URL)}&account=${encodeURIComponent(user + '@example.com')}` +
        `&room=${encodeURIComponent(ROOM)}&name=${user}`;
      const tJoin = Date.now();
      await page.goto(url);
      const r = await until(`${user} to join (session established)`, 15000, async () => {
        const s = await page.evaluate(() => ({ state: sylk.state, errors: sylk.errors, ws: sylk.wsClosed }));
        if (s.errors.length || s.ws) throw new Failure(`${user}: ${JSON.stringify(s)}`);
        return { done: s.state === 'established', detail: s };
      });
      const info = await page.evaluate(() => ({ session: sylk.session, startedAt: sylk.startedAt, acceptedAt: sylk.acceptedAt, establishedAt: sylk.establishedAt }));
      summary.participants[user] = {
        session: info.session,
        join_to_established_ms: info.establishedAt - tJoin,
        accepted_to_established_ms: info.establishedAt - info.acceptedAt,
      };
    }
    const sessionOf = (u) => summary.participants[u].session;

    // --- media: every page decodes the video and receives the audio of both others -------
    const tMedia = Date.now();
    await until('every participant to decode video and receive audio from both others', MEDIA_TIMEOUT_MS, async () => {
      const detail = {};
      let done = true;
      for (const user of USERS) {
        const st = await pages[user].evaluate(() => sylk.stats());
        const errors = await pages[user].evaluate(() => sylk.errors);
        if (errors.length) throw new Failure(`${user} got errors: ${JSON.stringify(errors)}`);
        detail[user] = st;
        for (const other of USERS.filter(u => u !== user)) {
          const f = st.feeds[sessionOf(other)];
          const ok = f && f.video && f.video.framesDecoded > 0 && f.audio && f.audio.packetsReceived > 0 && f.audio.bytesReceived > 0;
          if (!ok) done = false;
        }
      }
      return { done, detail };
    });
    summary.all_media_after_last_join_ms = Date.now() - tMedia;

    // Waits until `ok(feed)` holds for every participant's feed of each other one; the detail
    // shows `pick(feed)` per participant and publisher.
    const everyFeed = (what, timeoutMs, pick, ok) => until(what, timeoutMs, async () => {
      const detail = {};
      let done = true;
      for (const user of USERS) {
        const st = await pages[user].evaluate(() => sylk.stats());
        detail[user] = {};
        for (const other of USERS.filter(u => u !== user)) {
          const f = st.feeds[sessionOf(other)];
          detail[user][other] = f && pick(f);
          if (!(f && ok(f))) done = false;
        }
      }
      return { done, detail };
    });

    // --- room chat: each message reaches the other pages -----------------------------------
    if (CHAT) {
      for (const user of USERS) await pages[user].evaluate((u) => sylk.chat('hello from ' + u), user);
      for (const user of USERS) {
        const want = USERS.filter(u => u !== user).map(u => 'hello from ' + u).sort();
        await until(`${user} to receive the others' chat`, 10000, async () => {
          const got = (await pages[user].evaluate(() => sylk.messages.map(m => m.content))).sort();
          return { done: JSON.stringify(got) === JSON.stringify(want), detail: got };
        });
      }
      summary.chat = 'every message reached the two other pages';
    }

    // --- lost video comes back: NACKs from the browsers, RTX from the gateway ------------
    // Every browser NACKs and receives retransmissions (on one of its feeds at least: which
    // packets a browser gives up on or gets late is its own business).
    if (EXPECT_RTX) {
      const rtx = await until('every participant to get video retransmitted after NACKs', 20000, async () => {
        const detail = {};
        let done = true;
        for (const user of USERS) {
          const st = await pages[user].evaluate(() => sylk.stats());
          detail[user] = {};
          for (const other of USERS.filter(u => u !== user)) detail[user][other] = st.feeds[sessionOf(other)].video;
          const recovered = Object.values(detail[user]).some(v => v && v.nackCount > 0 && v.retransmittedPacketsReceived > 0);
          if (!recovered) done = false;
        }
        return { done, detail };
      });
      summary.retransmissions = rtx.detail;
    }

    // --- the gateway's own RTCP sender reports reach the browsers (remote-outbound-rtp) --
    const reports = await everyFeed('every participant to get sender reports for the audio of both others', 10000,
      f => ({ sr_audio: f.sr_audio, sr_video: f.sr_video, audio: f.audio }),
      f => f.sr_audio && f.sr_audio.packetsSent > 0 && f.sr_audio.bytesSent > 0);
    summary.sender_reports = reports.detail;
    for (const user of USERS) {
      const st = await pages[user].evaluate(() => sylk.stats());
      const p = summary.participants[user];
      p.publisher = st.publisher;
      p.received = {};
      for (const other of USERS.filter(u => u !== user)) {
        const f = st.feeds[sessionOf(other)];
        p.received[other] = {
          pair: f.pair, video: f.video, audio: f.audio,
          attach_to_first_decoded_frame_ms: f.firstDecodedAt - f.attachedAt,
          established_to_first_decoded_frame_ms: f.establishedAt ? f.firstDecodedAt - f.establishedAt : null,
        };
      }
    }
    // Every selected candidate pair goes to the gateway's advertised address (MEDIA_IP). In a
    // sealed namespace (only lo) the local side is 127.0.0.1 too; on the host network Chromium
    // may pick another local address of this machine as the source (still delivered over lo).
    const localRe = SEALED ? '127\\.0\\.0\\.1' : '[0-9.]+';
    const mediaRe = MEDIA_IP.replace(/\./g, '\\.');
    const pairRe = new RegExp(`^${localRe}:\\d+ -> ${mediaRe}:\\d+/${MEDIA_PROTOCOL}$`);
    for (const user of USERS) {
      const p = summary.participants[user];
      for (const [what, pair] of [['publisher', p.publisher.pair], ...Object.entries(p.received).map(([o, r]) => ['feed of ' + o, r.pair])]) {
        if (!pairRe.test(pair || '')) throw new Failure(`${user} ${what}: selected pair ${pair} does not match ${pairRe}`);
      }
    }
    if (SHOT_DIR) {
      for (const user of USERS) await pages[user].screenshot({ path: path.join(SHOT_DIR, `${user}-media.png`) });
    }

    // --- publishers' sending rates (and the room's cap) ---------------------------------
    if (MEASURE_RATES) {
      const sleep = (ms) => new Promise(r => setTimeout(r, ms));
      await sleep(3000); // the encoders follow their estimate, or the cap, within this
      const sample = async () => {
        const o = {};
        for (const user of USERS) o[user] = { bytes: (await pages[user].evaluate(() => sylk.stats())).publisher.videoBytes || 0, at: Date.now() };
        return o;
      };
      const a = await sample();
      await sleep(3000);
      const b = await sample();
      summary.publisher_video_bps = {};
      for (const user of USERS) summary.publisher_video_bps[user] = Math.round((b[user].bytes - a[user].bytes) * 8 / ((b[user].at - a[user].at) / 1000));
      if (MAX_BITRATE) {
        for (const user of USERS) {
          const bps = summary.publisher_video_bps[user];
          if (!(bps > 0)) throw new Failure(`${user} sends no video: ${JSON.stringify(summary.publisher_video_bps)}`);
          if (bps > MAX_BITRATE * 1.3) throw new Failure(`${user} sends ${bps} bit/s of video, over the room's cap of ${MAX_BITRATE}: ${JSON.stringify(summary.publisher_video_bps)}`);
        }
      }
    }

    // --- audio levels: the speakers are heard, a muted one falls silent ---------------------
    if (AUDIO_LEVELS) {
      const heard = (user) => pages[user].evaluate((others) => others.map(s => (sylk.levels[s] || []).filter(l => l.level > 0).length),
        USERS.filter(u => u !== user).map(sessionOf));
      await until('every page to get audio levels above 0 for both others', 10000, async () => {
        const detail = {};
        for (const user of USERS) detail[user] = await heard(user);
        return { done: Object.values(detail).every(c => c.every(n => n > 0)), detail };
      });
      const speaker = 'bob';
      const mutedAt = await pages[speaker].evaluate(() => sylk.setMuted(true));
      const listener = 'alice';
      await until(`${listener} to see ${speaker}'s level fall to 0`, 5000, async () => {
        const l = await pages[listener].evaluate((s) => sylk.levels[s] || [], sessionOf(speaker));
        const last = l[l.length - 1];
        return { done: !!last && last.level === 0 && last.at >= mutedAt, detail: l.slice(-5) };
      });
      // Then it stays there: nothing above 0 for a second and a half.
      const settled = Date.now();
      await new Promise(r => setTimeout(r, 1500));
      const after = await pages[listener].evaluate(({ s, t }) => (sylk.levels[s] || []).filter(l => l.at > t && l.level > 0).length,
        { s: sessionOf(speaker), t: settled });
      if (after > 0) throw new Failure(`${speaker} is muted but ${after} levels above 0 came after it fell silent`);
      // ... and the others are told it is muted (publisher-updated, Appendix A), then not.
      const updates = (user) => pages[user].evaluate((s) => sylk.events.filter(e => e.event === 'publisher-updated' && e.publisher === s)
        .map(e => ({ muted: e.muted, at: e.at })), sessionOf(speaker));
      await until(`${listener} to get publisher-updated muted for ${speaker}`, 6000, async () => {
        const u = await updates(listener);
        return { done: u.some(e => e.muted === true && e.at >= mutedAt), detail: u };
      });
      const unmutedAt = await pages[speaker].evaluate(() => { sylk.setMuted(false); return Date.now(); });
      await until(`${listener} to get publisher-updated unmuted for ${speaker}`, 6000, async () => {
        const u = await updates(listener);
        return { done: u.some(e => e.muted === false && e.at >= unmutedAt), detail: u };
      });
      summary.publisher_updated = await updates(listener);
      // Publisher entries carry type and muted (Appendix A).
      const entries = await pages[listener].evaluate(() => sylk.events.filter(e => e.event === 'initial-publishers' || e.event === 'publishers-joined').flatMap(e => e.publishers));
      for (const p of entries) {
        if (p.type !== 'webrtc' || typeof p.muted !== 'boolean') throw new Failure(`publisher entry without type/muted: ${JSON.stringify(p)}`);
      }
      summary.audio_levels = {};
      for (const user of USERS) summary.audio_levels[user] = await heard(user);
    }

    // --- one tab closes abruptly ---------------------------------------------------------
    const victimSession = sessionOf(VICTIM);
    const survivors = USERS.filter(u => u !== VICTIM);
    const tClose = Date.now();
    await pages[VICTIM].close({ runBeforeUnload: false });
    delete pages[VICTIM];
    summary.closed = { user: VICTIM, session: victimSession, close_call_ms: Date.now() - tClose };
    // Wait past the consent timeout (plus 1 s for the gateway's check interval) and fail
    // if it was exceeded.
    const told = await until(`publishers-left for ${VICTIM} on ${survivors.join(' and ')}`, CONSENT_TIMEOUT_MS + 1000, async () => {
      const detail = {};
      let done = true;
      for (const user of survivors) {
        const left = await pages[user].evaluate((id) => sylk.publishersLeft.filter(l => l.id === id), victimSession);
        detail[user] = left;
        if (!left.length) done = false;
      }
      return { done, detail };
    });
    summary.closed.publishers_left_ms = {};
    for (const user of survivors) {
      const ms = told.detail[user][0].at - tClose;
      summary.closed.publishers_left_ms[user] = ms;
      if (ms > CONSENT_TIMEOUT_MS) throw new Failure(`${user} was told after ${ms} ms, more than the consent timeout`);
    }

    // --- the two others still receive each other -----------------------------------------
    const before = {};
    for (const user of survivors) before[user] = await pages[user].evaluate(() => sylk.stats());
    await until('the remaining participants to keep receiving each other', 10000, async () => {
      const detail = {};
      let done = true;
      for (const user of survivors) {
        const other = survivors.find(u => u !== user);
        const st = await pages[user].evaluate(() => sylk.stats());
        const a = before[user].feeds[sessionOf(other)], b = st.feeds[sessionOf(other)];
        detail[user] = { framesDecoded: [a.video.framesDecoded, b.video && b.video.framesDecoded], audioPackets: [a.audio.packetsReceived, b.audio && b.audio.packetsReceived] };
        if (!(b.video && b.video.framesDecoded > a.video.framesDecoded + 10 && b.audio && b.audio.packetsReceived > a.audio.packetsReceived + 25)) done = false;
      }
      return { done, detail };
    });
    if (SHOT_DIR) {
      for (const user of survivors) await pages[user].screenshot({ path: path.join(SHOT_DIR, `${user}-end.png`) });
    }
    summary.total_ms = Date.now() - t0;
    summary.ok = true;
    console.log(JSON.stringify(summary, null, 1));
  } catch (e) {
    summary.ok = false;
    summary.error = e instanceof Failure ? e.message : String(e && e.stack || e);
    for (const [user, page] of Object.entries(pages)) {
      try {
        summary.participants[user] = Object.assign(summary.participants[user] || {}, {
          final: await page.evaluate(async () => ({ stats: await sylk.stats(), errors: sylk.errors, wsClosed: sylk.wsClosed,
            events: sylk.events.map(e => e.sylkrtc === 'videoroom-event' ? e.event + (e.state ? ':' + e.state : '') : e.sylkrtc) })),
        });
        if (SHOT_DIR) await page.screenshot({ path: path.join(SHOT_DIR, `${user}-failure.png`) });
      } catch (_) { /* page gone */ }
      summary.participants[user] = Object.assign(summary.participants[user] || {}, { console: consoleLines[user].slice(-40) });
    }
    console.log(JSON.stringify(summary, null, 1));
    console.error('FAILED: ' + summary.error);
    process.exitCode = 1;
  } finally {
    await ctx.close().catch(() => {});
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch(e => { console.error('FAILED:', e); process.exit(1); });
