// Simulcast with real Chromium, through room.html. Run by tests/browser_room.rs:
//
//   NODE_PATH=<tools>/node_modules node tests/browser/simulcast_test.js WS_URL
//
// alice publishes her camera (640x480, fake) in two simulcast layers (rid l at half
// resolution, rid h at full); bob subscribes. bob's feed must show layer h (the width alice
// sends it at), then, after `videoroom-session-update` with a 100 kbit/s limit, layer l (the
// gateway switched him at one of its keyframes), then layer h again with the limit raised.
// CODEC=vp8|vp9|h264: the room's video codec (the gateway is configured with it); bob's
// decoder must show it, and the layers switch at that codec's keyframes.
// Prints a JSON summary; exit 0 on success, 1 with the reason otherwise.
'use strict';
const { chromium } = require('playwright-core');
const { FLAGS, Failure, run, serve, until } = require('./util');

const WS_URL = process.argv[2];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ROOM = 'simulcast@videoconference.example.com';
const SWITCH_TIMEOUT_MS = 30000;
const CODEC = (process.env.CODEC || 'vp8').toLowerCase();

async function main() {
  const server = await serve('room.html');
  const base = `http://127.0.0.1:${server.address().port}/room.html`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  await run(browser, { ws: WS_URL, layers: [] }, async (summary, lines) => {
    const pages = {};
    for (const [user, simulcast] of [['alice', 1], ['bob', 0]]) {
      const page = await browser.newPage();
      page.on('console', m => lines.push(`${user}: ${m.text()}`));
      await page.goto(`${base}?ws=${encodeURIComponent(WS_URL)}&account=${user}%40example.com` +
        `&room=${encodeURIComponent(ROOM)}&simulcast=${simulcast}` + (CODEC === 'vp9' ? '&scalability=L1T1' : ''));
      await until(`${user} to join`, 15000, async () => {
        const s = await page.evaluate(() => ({ state: sylk.state, errors: sylk.errors }));
        if (s.errors.length) throw new Failure(`${user}: ${JSON.stringify(s.errors)}`);
        return { done: s.state === 'established', detail: s };
      });
      pages[user] = page;
    }
    const alice = await pages.alice.evaluate(() => sylk.session);
    // The frame width of each layer alice sends now ({l, h}).
    const layers = () => pages.alice.evaluate(async () => {
      const out = {};
      (await sylk.pc.getStats()).forEach(r => { if (r.type === 'outbound-rtp' && r.kind === 'video') out[r.rid] = { width: r.frameWidth, packetsSent: r.packetsSent }; });
      return out;
    });
    // Waits until bob has decoded alice's layer `rid` (its width, smaller for l) for a second.
    const onLayer = async (rid, what) => {
      let since = null;
      const r = await until(what, SWITCH_TIMEOUT_MS, async () => {
        const sent = await layers();
        const st = await pages.bob.evaluate(() => sylk.stats());
        const v = st.feeds[alice] && st.feeds[alice].video;
        const w = v && v.framesDecoded > 0 ? v.frameWidth : null;
        const l = sent.l && sent.l.width, h = sent.h && sent.h.width;
        const on = l && h && l < h && w === (rid === 'l' ? l : h);
        since = on ? (since || Date.now()) : null;
        return { done: since !== null && Date.now() - since > 1000, detail: { bob: v, alice: sent } };
      });
      const mime = r.detail.bob.mimeType || '';
      if (mime.toLowerCase() !== 'video/' + CODEC) throw new Failure(`bob decodes ${mime}, not ${CODEC}`);
      summary.layers.push({ what, rid, width: r.detail.bob.frameWidth, codec: mime, alice: r.detail.alice });
    };
    await onLayer('h', 'bob to decode alice at full resolution (layer h)');
    await pages.bob.evaluate((p) => sylk.limitFeed(p, 100000), alice);
    await onLayer('l', 'bob to decode alice at half resolution after asking for 100 kbit/s (layer l)');
    await pages.bob.evaluate((p) => sylk.limitFeed(p, 10000000), alice);
    await onLayer('h', 'bob to decode alice at full resolution again after asking for 10 Mbit/s');
  });
  server.close();
}

main();
