// Accessibility of the web app's main screens, checked with axe-core (run in the page) in
// headless Chromium. Run by tests/web_app.rs:
//
//   NODE_PATH=<tools>/node_modules node tests/browser/a11y_test.js BASE_URL
//
// The screens, in the dark and in the light theme (the system's prefers-color-scheme):
// sign-in; home (the dial pad and address field of calls, the conversations); a conversation
// (chat); the meeting (with the local tile); and sign-in and home in Dutch (a browser set
// to nl-NL: the catalogue's second language). Each must have no violation of
// impact "serious" or "critical" (WCAG 2.x A and AA rules, best practices). Prints a JSON
// summary with every violation found (any impact); exit 0 on success, 1 otherwise.
'use strict';
const { chromium } = require('playwright-core');
const { FLAGS, Failure, axeViolations, fill, press, run } = require('./util');

const BASE = process.argv[2];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOT_DIR = process.env.SHOT_DIR || '';

async function shot(page, name) {
  if (!SHOT_DIR) return;
  require('fs').mkdirSync(SHOT_DIR, { recursive: true });
  await page.screenshot({ path: require('path').join(SHOT_DIR, name) });
}
async function audit(page, screen, summary) {
  summary.screens[screen] = await axeViolations(page, false);
  return summary.screens[screen].filter(v => v.impact === 'serious' || v.impact === 'critical');
}

async function main() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  await run(browser, { base: BASE, axe: require('axe-core/package.json').version, screens: {} }, async (summary) => {
    const bad = {};
    // Both themes: the system's dark, and its light (prefers-color-scheme).
    for (const scheme of ['dark', 'light']) {
      const page = await (await browser.newContext({ viewport: { width: 1000, height: 700 }, colorScheme: scheme })).newPage();
      await page.goto(`${BASE}/webrtcgateway/`);
      await page.waitForSelector('#signin');
      summary[`${scheme}_background`] = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      bad[`${scheme} signin`] = await audit(page, `${scheme}-signin`, summary);
      await shot(page, `signin-${scheme}.png`);
      await fill(page, '#account', `dana-${scheme}@example.invalid`);
      await fill(page, '#password', 'secret');
      await fill(page, '#display-name', 'Dana');
      await press(page, '#password', 'Enter');
      await page.waitForSelector('#home:not([hidden])', { timeout: 10000 });
      bad[`${scheme} home`] = await audit(page, `${scheme}-home`, summary);
      await fill(page, '#new-chat', 'erin@example.invalid');
      await press(page, '#new-chat', 'Enter');
      await page.waitForSelector('#conversation:not([hidden])', { timeout: 10000 });
      bad[`${scheme} chat`] = await audit(page, `${scheme}-chat`, summary);
      await page.click('#back');
      await page.waitForSelector('#home:not([hidden])');
      await fill(page, '#room-name', `audit-${scheme}`);
      await press(page, '#room-name', 'Enter');
      await page.waitForSelector('#meeting:not([hidden])', { timeout: 10000 });
      bad[`${scheme} meeting`] = await audit(page, `${scheme}-meeting`, summary);
    }
    // The catalogue's second language: a browser set to Dutch gets the app in Dutch (every
    // marked text from the catalogue, none missing), and it passes axe-core too.
    const nl = await (await browser.newContext({ viewport: { width: 1000, height: 700 }, locale: 'nl-NL' })).newPage();
    await nl.goto(`${BASE}/webrtcgateway/`);
    await nl.waitForSelector('#signin');
    const language = async () => nl.evaluate(async () => {
      const { STRINGS } = await import('/webrtcgateway/strings.js');
      const wrong = [...document.querySelectorAll('#signin [data-i18n], #home [data-i18n]')]
        .filter(el => el.textContent !== STRINGS.nl[el.dataset.i18n])
        .map(el => `${el.dataset.i18n}: ${el.textContent}`);
      return { lang: document.documentElement.lang, missing: window.app.missingStrings(), wrong,
               title: document.querySelector('#signin h2').textContent, button: document.querySelector('#signin button').textContent };
    });
    summary.nl_signin = await language();
    bad['nl signin'] = await audit(nl, 'nl-signin', summary);
    await fill(nl, '#account', 'fenna@example.invalid');
    await fill(nl, '#password', 'secret');
    await press(nl, '#password', 'Enter');
    await nl.waitForSelector('#home:not([hidden])', { timeout: 10000 });
    summary.nl_home = await language();
    summary.nl_home.registration = await nl.evaluate(() => document.getElementById('registration').textContent);
    bad['nl home'] = await audit(nl, 'nl-home', summary);
    await shot(nl, 'home-nl.png');
    const found = Object.entries(bad).filter(([, v]) => v.length);
    if (found.length) throw new Failure(`serious or critical violations: ${JSON.stringify(Object.fromEntries(found))}`);
  });
}

main();
