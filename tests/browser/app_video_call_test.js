// The web application's video call with screen sharing, against bob's baresip with video (VP8
// and a test pattern) through Kamailio, in headless Chromium. Run by tests/sip_web_app.rs:
//
//   NODE_PATH=<tools>/node_modules node tests/browser/app_video_call_test.js BASE_URL
//
// alice signs in and makes a video call to bob: video flows both ways; "Share screen" puts
// the screen (getDisplayMedia) on the call's video instead of the camera (the picture sent
// changes size), "Stop sharing" puts the camera back; she hangs up. Prints a JSON summary.
'use strict';
const { chromium } = require('playwright-core');
const { FLAGS, fill, press, registration, run, signIn, until } = require('./util');

const BASE = process.argv[2];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function main() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  await run(browser, { base: BASE }, async (summary, lines) => {
    const page = await (await browser.newContext({ viewport: { width: 800, height: 600 } })).newPage();
    page.on('console', m => lines.push(m.text()));
    page.on('pageerror', e => lines.push('pageerror: ' + e.message));
    await signIn(page, BASE, 'alice@127.0.0.1', 'alicepw', 'Alice');
    await registration(page, 'registered');
    await fill(page, '#dial', 'bob');
    await page.click('#video-call');
    const out = () => page.evaluate(() => window.app.callVideoOut());
    summary.camera = (await until('video sent from the camera', 20000, async () => {
      const o = await out();
      return { done: !!o && o.packets > 30 && o.width > 0, detail: o };
    })).detail;
    await page.click('#call-screen');
    summary.screen = (await until('the screen sent instead', 20000, async () => {
      const o = await out();
      return { done: !!o && o.width > 0 && o.width !== summary.camera.width, detail: o };
    })).detail;
    summary.button_sharing = await page.evaluate(() => document.getElementById('call-screen').getAttribute('aria-pressed'));
    await page.click('#call-screen');
    summary.camera_again = (await until('the camera again', 20000, async () => {
      const o = await out();
      return { done: !!o && o.width === summary.camera.width, detail: o };
    })).detail;
    await page.click('#hangup');
    await page.waitForSelector('#home:not([hidden])', { timeout: 10000 });
    summary.end = await page.evaluate(() => window.app.lastCall);
  });
}
main();
