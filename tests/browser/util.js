// Shared by the browser test drivers (room_test.js, call_test.js): Chromium's flags, polling
// with a deadline, and a one-page HTTP server on 127.0.0.1.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

// The flags of shared peers.md §6 (loopback ICE, fake devices, raw IPs).
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
];
const POLL_MS = 100;
const sleep = (ms) => new Promise(r => setTimeout(r, ms));
class Failure extends Error {}

// Polls `fn` (async, returns {done, detail}) until done, or throws a Failure at the deadline.
async function until(what, timeoutMs, fn) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last && last.done) return last;
    if (Date.now() > deadline) {
      throw new Failure(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last && last.detail, null, 1)}`);
    }
    await sleep(POLL_MS);
  }
}

// Serves `name` (a file next to this one) at /name on http://127.0.0.1:<any port>.
function serve(name) {
  const html = fs.readFileSync(path.join(__dirname, name));
  const server = http.createServer((req, res) => {
    if (req.url.split('?')[0] === '/' + name) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

module.exports = { FLAGS, Failure, serve, sleep, until };
