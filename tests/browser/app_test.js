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
const { FLAGS, fill, firefoxPage, press, registration, run, signIn, text, until, upload } = require('./util');

const BASE = process.argv[2];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOT_DIR = process.env.SHOT_DIR || '';
const USERS = [
  { id: 'alice', account: 'alice@example.invalid', name: 'Alice' },
  { id: 'bob', account: 'bob@example.invalid', name: 'Bob' },
];
// The browser of each user (BROWSERS=chromium,firefox); Chromium by default.
const BROWSERS = (process.env.BROWSERS || 'chromium,chromium').split(',');

async function main() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  await run(browser, { base: BASE, browsers: BROWSERS, users: {} }, async (summary, lines) => {
    const pages = {};
    const requests = [];
    for (const [i, u] of USERS.entries()) {
      const viewport = { width: 900, height: 640 };
      const page = pages[u.id] = BROWSERS[i] === 'firefox'
        ? await firefoxPage(viewport)
        : await (await browser.newContext({ viewport, ignoreHTTPSErrors: BASE.startsWith('https:') })).newPage();
      page.on('console', m => lines.push(`${u.id}: ${m.text()}`));
      page.on('request', r => requests.push(r.url()));
      page.on('pageerror', e => lines.push(`${u.id}: pageerror: ${e.message}`));
      await signIn(page, BASE, u.account, 'secret', u.name);
      // The domain does not resolve: the failure and its reason are shown.
      summary.users[u.id] = { registration: await registration(page, 'Registration failed: DNS lookup error') };
      await fill(page, '#room-name', 'Standup');
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
    await fill(pages.alice, '#chat-input', 'hello from alice');
    await press(pages.alice, '#chat-input', 'Enter');
    summary.chat = (await until('the chat message at bob', 10000, async () => {
      const m = await pages.bob.evaluate(() => window.app.messages());
      return { done: m.includes('Alice:hello from alice'), detail: m };
    })).detail;
    // Raised hand, seen on both pages.
    await pages.alice.click('#hand');
    for (const u of USERS) {
      await until(`alice's hand on ${u.id}'s page`, 10000, async () => {
        const tiles = await pages[u.id].evaluate(() => window.app.tiles());
        const t = tiles.find(x => x.name.startsWith('Alice'));
        return { done: t && t.hand, detail: tiles };
      });
    }
    summary.hand_label = await text(pages.alice, '#hand');
    // The participant list: alice's raised hand, then her microphone muted (silence, seen by
    // the gateway: publisher-updated) and unmuted again, at bob's.
    summary.people = (await until('alice\'s hand in bob\'s participant list', 10000, async () => {
      const p = await pages.bob.evaluate(() => window.app.people());
      return { done: p.some(x => x.startsWith('Alice') && x.includes('hand raised')), detail: p };
    })).detail;
    if (BROWSERS[0] === 'chromium') {
      await pages.alice.click('#mic');
      summary.people_muted = (await until('alice muted in bob\'s participant list', 10000, async () => {
        const p = await pages.bob.evaluate(() => window.app.people());
        return { done: p.some(x => x.startsWith('Alice') && x.includes('muted')), detail: p };
      })).detail;
      await pages.alice.click('#mic');
      await until('alice unmuted in bob\'s participant list', 10000, async () => {
        const p = await pages.bob.evaluate(() => window.app.people());
        return { done: p.some(x => x.startsWith('Alice') && !x.includes('muted')), detail: p };
      });
    }
    // Spotlight: alice picks bob's tile; both pages highlight bob.
    const bobTile = (await pages.alice.evaluate(() => window.app.tiles())).find(t => t.name === 'Bob').id;
    await pages.alice.click(`.tile[data-id="${bobTile}"]`);
    for (const u of USERS) {
      await until(`bob highlighted on ${u.id}'s page`, 10000, async () => {
        const tiles = await pages[u.id].evaluate(() => window.app.tiles());
        const t = tiles.find(x => x.id === bobTile);
        return { done: t && t.active && tiles.filter(x => x.active).length === 1, detail: tiles };
      });
    }
    // Devices: the fake camera and microphone are listed.
    summary.devices = await pages.alice.evaluate(() => window.app.devices());
    // File sharing: alice shares a file, both pages list it, bob downloads the same bytes.
    const content = 'minutes of the standup\n'.repeat(100);
    await upload(pages.alice, '#share', 'minutes.txt', content);
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
    // The meeting publishes simulcast (several video layers), and the others' voices light
    // their tiles (conference-audio-levels).
    summary.layers = await until('alice to publish simulcast layers', 20000, async () => {
      const l = await pages.alice.evaluate(() => window.app.layers());
      return { done: l.filter(x => x.rid && x.packets > 0).length >= 2, detail: l };
    }).then(r => r.detail);
    if (BROWSERS[1] === 'chromium') {
      await until('alice to see bob talking', 20000, async () => {
        const t = await pages.alice.evaluate(() => window.app.tiles());
        return { done: t.some(x => !x.name.includes('(you)') && x.talking), detail: t };
      });
      summary.talking_seen = true;
    }
    // Screen sharing: alice shares her screen (a second publisher session); bob decodes it in
    // a large tile; when she stops, the tile goes.
    if (BROWSERS.every(b => b === 'chromium')) {
      await pages.alice.click('#share-screen');
      summary.screen = (await until('bob to decode alice\'s screen in a large tile', 30000, async () => {
        const tiles = await pages.bob.evaluate(() => window.app.tiles());
        return { done: tiles.some(t => t.wide && t.frames > 0 && t.width >= 640), detail: tiles };
      })).detail.filter(t => t.wide);
      summary.screen_button = await pages.alice.evaluate(() => document.getElementById('share-screen').textContent);
      await pages.alice.click('#share-screen');
      await until('the screen tile to go at bob', 15000, async () => {
        const tiles = await pages.bob.evaluate(() => window.app.tiles());
        return { done: !tiles.some(t => t.wide) && tiles.length === 2, detail: tiles };
      });
    }
    // Camera preview before joining, then an audio-only join: dave previews his camera,
    // ticks "Audio only" and joins; he publishes no video, and alice gets his tile (his
    // audio) without a picture.
    if (BROWSERS.every(b => b === 'chromium')) {
      const dave = await (await browser.newContext({ viewport: { width: 900, height: 640 }, ignoreHTTPSErrors: BASE.startsWith('https:') })).newPage();
      dave.on('request', r => requests.push(r.url()));
      await signIn(dave, BASE, 'dave@example.invalid', 'secret', 'Dave');
      await dave.click('#preview-camera');
      summary.preview_width = (await until('dave\'s camera preview', 10000, async () => {
        const w = await dave.evaluate(() => window.app.previewWidth());
        return { done: w > 0, detail: w };
      })).detail;
      await dave.check('#audio-only');
      await fill(dave, '#room-name', 'Standup');
      await dave.click('#join-form button[type=submit]');
      await dave.waitForSelector('#meeting:not([hidden])', { timeout: 10000 });
      summary.audio_only = {
        preview_stopped: await dave.evaluate(() => window.app.preview === null),
        layers: await dave.evaluate(() => window.app.layers()),
        at_alice: (await until('alice to see dave\'s tile', 20000, async () => {
          const tiles = await pages.alice.evaluate(() => window.app.tiles());
          return { done: tiles.some(t => t.name === 'Dave'), detail: tiles };
        })).detail.find(t => t.name === 'Dave'),
      };
    }
    // A meeting link: carol opens the link alice's page shows, signs in and is in the
    // meeting with both.
    if (BROWSERS.every(b => b === 'chromium')) {
      const link = await pages.alice.evaluate(() => document.getElementById('meeting-link').href);
      summary.meeting_link = link;
      const carol = await (await browser.newContext({ viewport: { width: 900, height: 640 }, ignoreHTTPSErrors: BASE.startsWith('https:') })).newPage();
      carol.on('request', r => requests.push(r.url()));
      await carol.goto(link);
      await fill(carol, '#account', 'carol@example.invalid');
      await fill(carol, '#password', 'secret');
      await fill(carol, '#display-name', 'Carol');
      await press(carol, '#password', 'Enter');
      await carol.waitForSelector('#meeting:not([hidden])', { timeout: 15000 });
      summary.link_tiles = (await until('carol to see alice and bob through the link', 30000, async () => {
        const tiles = await carol.evaluate(() => window.app.tiles());
        return { done: ['Alice', 'Bob'].every(n => tiles.some(t => t.name === n && t.frames > 0)), detail: tiles };
      })).detail.map(t => t.name);
      summary.link_room = await carol.evaluate(() => document.getElementById('room-title').textContent);
      // Layers by tile: bob is in the spotlight (alice put him there), alice is a small tile.
      // carol's page asks for bob's feed at full rate and alice's at the lowest: the gateway
      // sends her bob's larger layer and alice's smallest (their decoded widths).
      summary.layers_by_tile = (await until('carol to get bob large and alice small', 30000, async () => {
        const tiles = await carol.evaluate(() => window.app.tiles());
        const bob = tiles.find(t => t.name === 'Bob'), alice = tiles.find(t => t.name === 'Alice');
        return { done: bob && alice && bob.active && alice.width > 0 && bob.width > alice.width && alice.width <= 200, detail: tiles };
      })).detail.filter(t => t.name === 'Bob' || t.name === 'Alice').map(t => ({ name: t.name, width: t.width, spotlight: t.active }));
      // Her grid view: every tile the same, every feed asked at the same (middle) rate; back
      // to the spotlight, bob's feed at full rate again.
      await carol.click('#layout');
      summary.grid_rates = (await until('one rate for every feed in the grid', 10000, async () => {
        const rates = await carol.evaluate(() => window.app.askedRates());
        return { done: rates.length >= 2 && rates.every(r => r === rates[0]), detail: rates };
      })).detail;
      summary.grid_class = await carol.evaluate(() => document.getElementById('tiles').classList.contains('grid'));
      await carol.click('#layout');
      summary.spotlight_rates = (await until('the spotlight rates again', 10000, async () => {
        const rates = await carol.evaluate(() => window.app.askedRates());
        return { done: new Set(rates).size > 1, detail: rates };
      })).detail;
    }
    // Everything came from the gateway: no external request.
    const host = new URL(BASE).host;
    summary.requests = requests.length;
    summary.external_requests = requests.filter(u => !/^(data|blob):/.test(u) && new URL(u).host !== host);
  });
}
main();
