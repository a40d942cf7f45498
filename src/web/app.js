// The sylk-gateway web application (served at /webrtcgateway/): sign in with a SIP account,
// see its registration, join a video meeting (tiles with names, chat, raised hands, mute
// everyone, invitations). Branding comes from /webrtcgateway/config.json. State the tests
// read is on window.app.
import { Connection } from '/webrtcgateway/sylkrtc.js';
import * as history from '/webrtcgateway/history.js';
import { Contacts } from '/webrtcgateway/contacts.js';
import { t, translatePage, missing, LANG } from '/webrtcgateway/strings.js';

const $ = (id) => document.getElementById(id);
const app = window.app = { conn: null, account: null, room: null, config: {}, errors: [] };

function showError(text) {
  app.errors.push(text);
  $('error').textContent = text;
  $('error').classList.add('show');
}
function clearError() { $('error').classList.remove('show'); }
// Where the focus lands when a screen opens: its first control, or its heading.
const LANDING = { signin: 'account', home: 'room-name', incoming: 'answer', call: 'peer', conversation: 'send-text', meeting: 'room-title' };

/**
 * Shows one screen. The focus follows (a keyboard or screen-reader user is never left on a
 * hidden control): to the screen's landing element; back on the home screen, to the control
 * that left it, when it is still there.
 */
function show(section) {
  const active = document.activeElement;
  const from = ['signin', 'home', 'incoming', 'call', 'conversation', 'meeting'].find(id => !$(id).hidden);
  if (from === 'home' && section !== 'home' && active && $('home').contains(active)) app.homeFocus = active;
  for (const id of ['signin', 'home', 'incoming', 'call', 'conversation', 'meeting']) $(id).hidden = id !== section;
  if (from === section) return;
  const back = section === 'home' && app.homeFocus && app.homeFocus.isConnected ? app.homeFocus : null;
  (back || $(LANDING[section])).focus();
  app.focusMoves = (app.focusMoves || 0) + 1;
}

async function loadConfig() {
  try {
    app.config = await (await fetch('/webrtcgateway/config.json')).json();
  } catch {
    app.config = {};
  }
  const c = app.config;
  if (c.title) { document.title = c.title; $('title').textContent = c.title; }
  if (c.logo) { $('logo').src = c.logo; $('logo').hidden = false; }
  const colors = c.colors || {};
  if (colors.primary) document.documentElement.style.setProperty('--primary', colors.primary);
  if (colors.background) document.documentElement.style.setProperty('--bg', colors.background);
  if (colors.text) document.documentElement.style.setProperty('--text', colors.text);
}

function wsUrl() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/webrtcgateway/ws`;
}

async function signIn(e) {
  e.preventDefault();
  clearError();
  // Signing in is a click or Enter of the user's: the moment to ask for desktop notifications
  // (incoming calls while the page is in the background).
  if (window.Notification && Notification.permission === 'default') Notification.requestPermission().catch(() => {});
  let account = $('account').value.trim();
  if (!account.includes('@') && app.config.default_domain) account += '@' + app.config.default_domain;
  const conn = app.conn || (app.conn = new Connection(wsUrl()));
  conn.addEventListener('state', ({ detail }) => {
    $('banner').textContent = detail === 'reconnecting' ? t('state.reconnecting') : '';
    $('banner').classList.toggle('show', detail === 'reconnecting');
  });
  try {
    await Promise.race([conn.ready, new Promise((_, reject) => setTimeout(() => reject(new Error(t('error.unreachable'))), 10000))]);
    app.account = await conn.addAccount({ account, password: $('password').value, displayName: $('display-name').value.trim() });
  } catch (err) {
    showError(err.message);
    return;
  }
  $('who').textContent = app.account.displayName || account;
  app.account.addEventListener('registration', ({ detail }) => {
    $('registration').textContent = detail.state === 'failed'
      ? t('registration.failed', { reason: detail.reason || t('registration.unknown') })
      : t(`registration.${detail.state}`);
  });
  app.account.addEventListener('incoming', ({ detail: call }) => incoming(call));
  // A call missed (cancelled before the answer) and a conference invitation become notices
  // with a button to call back or to join.
  app.account.addEventListener('missed', ({ detail: who }) => {
    const name = who.display_name || who.uri;
    notice(t('notice.missed', { name }), t('notice.call_back'), () => { $('dial').value = who.uri; dial(null); });
  });
  app.account.addEventListener('invite', ({ detail: m }) => {
    const from = m.originator ? (m.originator.display_name || m.originator.uri) : t('notice.someone');
    notice(t('notice.invite', { name: from, room: m.room }), t('notice.join'), () => { $('room-name').value = m.room; join(null); });
  });
  app.account.addEventListener('message', ({ detail }) => received(detail));
  app.account.addEventListener('sync', ({ detail }) => synced(detail));
  app.account.addEventListener('composing', ({ detail }) => composing(detail));
  app.account.addEventListener('disposition', ({ detail }) => disposition(detail.message_id, detail.state));
  app.account.addEventListener('registration', ({ detail }) => {
    if (detail.state === 'registered' && !app.synced) {
      app.synced = true;
      loadHistory().catch(err => showError(t('error.messages', { reason: err.message })));
      app.contacts.load(app.account).catch(err => showError(t('error.contacts', { reason: err.message })));
    }
  });
  app.account.register();
  renderHistory().catch(err => showError(t('error.history_read', { reason: err.message })));
  listDevices().catch(() => {});
  show('home');
  $('room-name').focus();
  // A meeting link (/webrtcgateway/conference/<room>): join it once signed in.
  const linked = meetingFromLink();
  if (linked) {
    $('room-name').value = linked;
    join(null);
  }
}

/** The room a meeting link names (`/webrtcgateway/conference/<room>`), if the page is one. */
function meetingFromLink() {
  const m = location.pathname.match(/^\/webrtcgateway\/conference\/([^/]+)\/?$/);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]).trim() || null;
  } catch (_) {
    return null;
  }
}

// --- calls --------------------------------------------------------------------------------------
function withDomain(uri) {
  uri = uri.trim();
  if (!uri.includes('@')) uri += '@' + (app.config.default_domain || app.account.id.split('@')[1]);
  return uri.replace(/^sips?:/, '');
}

// --- devices ------------------------------------------------------------------------------------
function chosen(id) {
  const v = $(id).value;
  return v ? { deviceId: { exact: v } } : true;
}

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [select, kind] of [['camera', 'videoinput'], ['microphone', 'audioinput'], ['speaker', 'audiooutput']]) {
    const current = $(select).value;
    $(select).replaceChildren();
    const matching = devices.filter(d => d.kind === kind);
    matching.forEach((d, i) => {
      const o = document.createElement('option');
      o.value = d.deviceId;
      o.textContent = d.label || `${kind} ${i + 1}`;
      $(select).append(o);
    });
    if (current && matching.some(d => d.deviceId === current)) $(select).value = current;
  }
}

async function useSpeaker(element) {
  const id = $('speaker').value;
  if (id && element.setSinkId) await element.setSinkId(id).catch(() => {});
}

app.devices = () => ({ camera: $('camera').options.length, microphone: $('microphone').options.length, speaker: $('speaker').options.length });

async function microphone(video = false) {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: chosen('microphone'), video: video ? chosen('camera') : false });
    listDevices().catch(() => {});
    return stream;
  } catch (err) {
    showError(t(video ? 'error.no_camera_microphone' : 'error.no_microphone', { reason: err.message }));
    return null;
  }
}

function showCall(call, name, direction) {
  app.call = call;
  app.statsSeries = [];
  app.lastStats = null;
  const since = Date.now();
  $('peer').textContent = name;
  $('call-state').textContent = t(`callstate.${call.state || 'calling'}`);
  $('call-timer').textContent = '';
  $('mute').textContent = t('call.mute'); $('hold').textContent = t('call.hold');
  $('mute').setAttribute('aria-pressed', 'false'); $('hold').setAttribute('aria-pressed', 'false');
  $('camera-off').hidden = true; $('camera-off').textContent = t('call.camera_off');
  show('call');
  $('remote-audio').srcObject = call.remoteStream;
  useSpeaker($('remote-audio'));
  const showVideo = () => {
    const video = call.remoteStream.getVideoTracks().length > 0;
    $('remote-video').hidden = !video;
    if (video && $('remote-video').srcObject !== call.remoteStream) {
      $('remote-video').srcObject = call.remoteStream;
      $('remote-video').muted = true; // the audio element plays the sound
    }
    $('camera-off').hidden = !(call.stream && call.stream.getVideoTracks().length);
    $('call-screen').hidden = $('camera-off').hidden;
    const sharing = !!call.screen;
    $('call-screen').setAttribute('aria-pressed', String(sharing));
    $('call-screen').textContent = t(sharing ? 'meeting.stop_sharing' : 'meeting.share_screen');
  };
  let started = null;
  const timer = setInterval(async () => {
    if (started) {
      const s = Math.floor((Date.now() - started) / 1000);
      $('call-timer').textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    }
    showVideo();
    const st = await call.stats();
    showStats(st);
    const total = st.packetsReceived + st.packetsLost;
    const loss = total > 0 ? st.packetsLost / total : 0;
    const quality = t(loss > 0.05 || st.jitter > 0.05 ? 'call.poor' : 'call.good');
    $('quality').textContent = st.packetsReceived > 0 ? t('call.quality', { quality, packets: st.packetsReceived, loss: (loss * 100).toFixed(1) }) : '';
  }, 1000);
  call.addEventListener('state', ({ detail }) => {
    if (!detail.state) return;
    $('call-state').textContent = t(`callstate.${detail.state}`);
    if (detail.state === 'established' && !started) started = Date.now();
    if (detail.state === 'terminated') {
      clearInterval(timer);
      app.lastCall = { reason: detail.reason };
      remember({
        direction, uri: call.remote ? call.remote.uri : name, name,
        started: since, duration: started ? Math.round((Date.now() - started) / 1000) : 0,
        outcome: started ? 'answered' : 'failed', reason: detail.reason || '',
      });
      const normal = ['200 to BYE', '200 Received BYE'].includes(detail.reason);
      if (!normal && detail.reason) showError(t('error.call_ended', { reason: detail.reason }));
      app.call = null;
      show('home');
    }
  });
}

/**
 * The in-call statistics panel: codec, bitrate each way, loss, jitter, round trip, and a graph
 * of the bitrates over the last minute (one sample a second).
 */
function showStats(st) {
  const now = Date.now();
  const last = app.lastStats;
  app.lastStats = { at: now, bytesReceived: st.bytesReceived, bytesSent: st.bytesSent };
  if (!last || now <= last.at) return;
  const kbps = (bytes, before) => Math.max(0, Math.round((bytes - before) * 8 / (now - last.at)));
  const rx = kbps(st.bytesReceived, last.bytesReceived), tx = kbps(st.bytesSent, last.bytesSent);
  const total = st.packetsReceived + st.packetsLost;
  $('stat-codec').textContent = st.codec || '';
  $('stat-in').textContent = t('stats.kbps', { value: rx });
  $('stat-out').textContent = t('stats.kbps', { value: tx });
  $('stat-loss').textContent = `${total ? (st.packetsLost / total * 100).toFixed(1) : '0.0'}%`;
  $('stat-jitter').textContent = t('stats.ms', { value: Math.round(st.jitter * 1000) });
  $('stat-rtt').textContent = st.rtt === null ? '' : t('stats.ms', { value: Math.round(st.rtt * 1000) });
  app.statsSeries.push([rx, tx]);
  if (app.statsSeries.length > 60) app.statsSeries.shift();
  if ($('stats-panel').open) drawStats();
}

function drawStats() {
  const canvas = $('stats-graph');
  const g = canvas.getContext('2d');
  const { width: w, height: h } = canvas;
  g.clearRect(0, 0, w, h);
  const top = Math.max(64, ...app.statsSeries.flat());
  const style = getComputedStyle(document.body);
  [[0, '#3fb950'], [1, style.getPropertyValue('--primary').trim() || '#1f6feb']].forEach(([i, color]) => {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    app.statsSeries.forEach((s, x) => {
      const px = x * (w / 59), py = h - 2 - (s[i] / top) * (h - 4);
      if (x === 0) g.moveTo(px, py); else g.lineTo(px, py);
    });
    g.stroke();
  });
}
app.statsPanel = () => ({
  open: $('stats-panel').open, codec: $('stat-codec').textContent, in: $('stat-in').textContent,
  out: $('stat-out').textContent, loss: $('stat-loss').textContent, jitter: $('stat-jitter').textContent,
  samples: (app.statsSeries || []).length,
});

async function dial(e, video = false) {
  if (e) e.preventDefault();
  clearError();
  if (!$('dial').value.trim()) return showError(t('error.no_address'));
  const uri = withDomain($('dial').value);
  const stream = await microphone(video);
  if (!stream) return;
  try {
    showCall(await app.account.call(uri, stream), uri, 'outgoing');
  } catch (err) {
    for (const track of stream.getTracks()) track.stop();
    showError(t('error.cannot_call', { uri, reason: err.message }));
  }
}

/** A notice on the home screen with one action; the action removes it. */
function notice(text, label, action) {
  const li = document.createElement('li');
  li.className = 'notice';
  const span = document.createElement('span');
  span.textContent = text;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'secondary';
  button.textContent = label;
  button.addEventListener('click', () => { li.remove(); $('notices-title').hidden = !$('notices').children.length; action(); });
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.className = 'secondary';
  dismiss.textContent = t('notice.dismiss');
  dismiss.setAttribute('aria-label', t('notice.dismiss_label', { text }));
  dismiss.addEventListener('click', () => { li.remove(); $('notices-title').hidden = !$('notices').children.length; });
  li.append(span, button, dismiss);
  $('notices').appendChild(li);
  $('notices-title').hidden = false;
}

function incoming(call) {
  if (app.call || app.room) {
    call.terminate().catch(() => {});
    return;
  }
  app.incomingCall = call;
  const since = Date.now();
  const caller = call.remote.display_name || call.remote.uri;
  $('caller').textContent = caller;
  show('incoming');
  $('answer').focus();
  const stopRinging = ring();
  const shown = notify(t('incoming.notification', { name: caller }));
  call.addEventListener('state', ({ detail }) => {
    if (detail.state !== 'incoming') {
      stopRinging();
      if (shown) shown.close();
    }
    if (detail.state === 'terminated' && app.incomingCall === call) {
      // Ended by the caller before it was answered: missed.
      app.incomingCall = null;
      remember({ direction: 'incoming', uri: call.remote.uri, name: caller, started: since, duration: 0, outcome: 'missed', reason: detail.reason || '' });
      show('home');
    }
  });
  // Answering or declining here stops the ringing too.
  app.stopRinging = () => { stopRinging(); if (shown) shown.close(); };
}

/**
 * A ringtone made in the page (no file to load): two tones, two seconds on, four off, until
 * the returned function is called.
 */
function ring() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return () => {};
  const ctx = new Ctx();
  const gain = ctx.createGain();
  gain.gain.value = 0;
  gain.connect(ctx.destination);
  for (const f of [440, 480]) {
    const o = ctx.createOscillator();
    o.frequency.value = f;
    o.connect(gain);
    o.start();
  }
  const t0 = ctx.currentTime;
  for (let i = 0; i < 30; i++) {
    gain.gain.setValueAtTime(0.1, t0 + i * 6);
    gain.gain.setValueAtTime(0, t0 + i * 6 + 2);
  }
  app.ringing = true;
  return () => { app.ringing = false; ctx.close().catch(() => {}); };
}

/** A desktop notification, when the user allowed them; what was shown is kept for the tests. */
function notify(text) {
  if (!window.Notification || Notification.permission !== 'granted') return null;
  try {
    const n = new Notification(text, { icon: '/webrtcgateway/icon.svg', tag: 'sylk-incoming' });
    n.onclick = () => { window.focus(); n.close(); };
    (app.notifications = app.notifications || []).push(text);
    return n;
  } catch (_) {
    return null; // some browsers allow notifications from a service worker only
  }
}

async function answer(video = false) {
  if (app.stopRinging) app.stopRinging();
  const call = app.incomingCall;
  app.incomingCall = null;
  const stream = await microphone(video);
  if (!stream) return call.terminate().catch(() => {});
  showCall(call, call.remote.display_name || call.remote.uri, 'incoming');
  try {
    await call.answer(stream);
  } catch (err) {
    showError(t('error.cannot_answer', { reason: err.message }));
  }
}

// --- call history (kept in the browser: history.js) -------------------------------------------
app.recent = [];

/** Keeps a finished call in the account's history and shows it. */
function remember(entry) {
  if (!app.account) return;
  history.addCall(app.account.id, entry)
    .then(renderHistory)
    .catch(err => showError(t('error.history_write', { reason: err.message })));
}

const OUTCOMES = { answered: '', missed: 'history.missed', declined: 'history.declined', failed: 'history.failed' };

function duration(s) {
  return s ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}` : '';
}

/** The recent calls, newest first (missed ones only when that filter is on), each with a Call button. */
async function renderHistory() {
  if (!app.account) return;
  app.recent = await history.calls(app.account.id);
  const missedOnly = $('missed-only').getAttribute('aria-pressed') === 'true';
  const shown = missedOnly ? app.recent.filter(e => e.outcome === 'missed') : app.recent;
  const list = $('history');
  list.replaceChildren();
  for (const e of shown.slice(0, 30)) {
    const li = document.createElement('li');
    li.className = `call ${e.outcome}`;
    const what = document.createElement('span');
    const when = new Date(e.started);
    const arrow = e.direction === 'outgoing' ? '↗' : '↙';
    const outcome = OUTCOMES[e.outcome] ? t(OUTCOMES[e.outcome]) : '';
    what.textContent = `${arrow} ` + [e.name || e.uri, when.toLocaleString(), duration(e.duration), outcome].filter(Boolean).join(' · ');
    const call = document.createElement('button');
    call.type = 'button';
    call.className = 'secondary';
    call.textContent = t('history.call');
    call.setAttribute('aria-label', t('history.call_label', { name: e.name || e.uri }));
    call.addEventListener('click', () => { $('dial').value = e.uri; dial(null); });
    li.append(what, call);
    list.appendChild(li);
  }
  $('history-empty').hidden = shown.length > 0;
}
app.history = () => app.recent.map(e => ({ direction: e.direction, uri: e.uri, name: e.name, outcome: e.outcome, duration: e.duration }));
app.shownHistory = () => [...document.querySelectorAll('#history li span')].map(s => s.textContent);

app.callStats = () => (app.call ? app.call.stats() : null);
app.quality = () => $('quality').textContent;

// --- conversations ------------------------------------------------------------------------------
// contact -> {messages: [{id, direction, content, timestamp, state}], unread: count}
app.conversations = new Map();
app.open = null;

function conversation(contact) {
  if (!app.conversations.has(contact)) app.conversations.set(contact, { messages: [], unread: 0 });
  return app.conversations.get(contact);
}

const MARKS = ['pending', 'accepted', 'delivered', 'displayed', 'failed', 'error'];

function renderConversations() {
  const list = $('conversations');
  list.replaceChildren();
  for (const [contact, c] of app.conversations) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.className = 'secondary';
    b.dataset.contact = contact;
    b.append(document.createTextNode(contact));
    if (c.unread > 0) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = String(c.unread);
      badge.setAttribute('aria-label', t('messages.unread', { count: c.unread }));
      b.append(badge);
    }
    b.addEventListener('click', () => openConversation(contact));
    li.append(b);
    list.append(li);
  }
}

function renderThread() {
  if (!app.open) return;
  const c = conversation(app.open);
  $('contact').textContent = app.open;
  const thread = $('thread');
  thread.replaceChildren();
  for (const m of c.messages) {
    const li = document.createElement('li');
    li.className = m.direction;
    li.dataset.id = m.id;
    if (m.file) li.append(...fileItem(m.file));
    else li.append(document.createTextNode(m.content));
    if (m.direction === 'outgoing') {
      const mark = document.createElement('span');
      mark.className = 'mark';
      mark.textContent = MARKS.includes(m.state) ? t(`mark.${m.state}`) : (m.state || '');
      li.append(mark);
    }
    const del = document.createElement('button');
    del.type = 'button';
    del.className = 'secondary delete';
    del.textContent = t('messages.delete');
    del.setAttribute('aria-label', t('messages.delete_label', { text: m.content }));
    del.addEventListener('click', () => removeMessage(app.open, m.id));
    li.append(del);
    thread.append(li);
  }
}

function readAll(contact) {
  const c = conversation(contact);
  for (const m of c.messages) {
    if (m.direction === 'incoming' && !m.read && (m.disposition || []).includes('display')) {
      app.account.sendDisposition(contact, m.id, m.timestamp, 'displayed').catch(() => {});
    }
    m.read = true;
  }
  if (c.unread > 0) app.account.markRead(contact).catch(() => {});
  c.unread = 0;
}

function openConversation(contact) {
  app.open = contact;
  app.composingSentAt = 0;
  readAll(contact);
  renderThread();
  renderTyping();
  renderConversations();
  show('conversation');
  $('send-text').focus();
}

async function loadHistory() {
  const entries = await app.account.sync();
  for (const e of entries) {
    const file = fileOf(e.content_type, e.content);
    if (!e.direction || (!e.content_type.startsWith('text/') && !file)) continue;
    const c = conversation(e.contact);
    const unread = e.direction === 'incoming' && (e.disposition || []).includes('display');
    c.messages.push({ id: e.message_id, direction: e.direction, content: e.content, file, timestamp: e.timestamp, state: e.state, disposition: e.disposition, read: !unread });
    if (unread) c.unread += 1;
  }
  renderConversations();
}

function received(m) {
  const file = fileOf(m.content_type, m.content);
  if (!m.content_type.startsWith('text/') && !file) return;
  const contact = m.sender.uri;
  if (app.typing === contact) { app.typing = null; renderTyping(); }
  const c = conversation(contact);
  const msg = { id: m.message_id, direction: 'incoming', content: m.content, file, timestamp: m.timestamp, disposition: m.disposition_notification, read: false };
  c.messages.push(msg);
  if ((m.disposition_notification || []).includes('positive-delivery')) {
    app.account.sendDisposition(contact, m.message_id, m.timestamp, 'delivered').catch(() => {});
  }
  if (app.open === contact && !$('conversation').hidden) {
    readAll(contact);
    renderThread();
  } else {
    c.unread += 1;
  }
  renderConversations();
}

function disposition(id, state) {
  for (const c of app.conversations.values()) {
    const m = c.messages.find(x => x.id === id);
    if (m) {
      // A later report never goes back (a 'sent' after 'read' keeps 'read').
      const order = ['pending', 'accepted', 'delivered', 'displayed'];
      if (!(order.indexOf(state) >= 0 && order.indexOf(state) < order.indexOf(m.state))) m.state = state;
    }
  }
  renderThread();
}

async function sendText(e) {
  e.preventDefault();
  const text = $('send-text').value.trim();
  if (!text || !app.open) return;
  $('send-text').value = '';
  try {
    const id = await app.account.sendMessage(app.open, text);
    conversation(app.open).messages.push({ id, direction: 'outgoing', content: text, timestamp: new Date().toISOString(), state: 'pending' });
    renderThread();
  } catch (err) {
    showError(t('error.not_sent', { reason: err.message }));
  }
}

/** A transferred file in the thread: its link, and a picture or a player for images and videos. */
function fileItem(f) {
  const a = document.createElement('a');
  a.href = f.url;
  a.textContent = t('messages.file', { name: f.filename, size: size(f.filesize) });
  a.download = f.filename;
  a.className = 'file';
  const type = f.filetype || '';
  if (type.startsWith('image/')) {
    const img = document.createElement('img');
    img.src = f.url;
    img.alt = f.filename;
    img.className = 'preview';
    return [a, img];
  }
  if (type.startsWith('video/')) {
    const v = document.createElement('video');
    v.src = f.url;
    v.controls = true;
    v.className = 'preview';
    v.setAttribute('aria-label', f.filename);
    return [a, v];
  }
  return [a];
}

function size(n) {
  return n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : n >= 1024 ? `${Math.round(n / 1024)} KB` : `${n} B`;
}

/** A message's file, when it is a file transfer (its JSON), else null. */
function fileOf(contentType, content) {
  if (contentType !== 'application/sylk-file-transfer') return null;
  try {
    const f = JSON.parse(content);
    return f && f.url ? f : null;
  } catch (_) {
    return null;
  }
}

/**
 * Uploads `files` to the open conversation's contact, with the progress bar: one upload at a
 * time, in the order they were given (files picked, then dropped, go in that order).
 */
function sendFiles(files) {
  const contact = app.open;
  if (!contact) return Promise.resolve();
  app.uploading = (app.uploading || Promise.resolve()).then(() => upload(contact, files));
  return app.uploading;
}

async function upload(contact, files) {
  for (const file of files) {
    const bar = $('upload-progress');
    bar.hidden = false;
    bar.value = 0;
    try {
      await app.account.sendFile(contact, file, (f) => { bar.value = f; });
      app.uploaded = (app.uploaded || 0) + 1;
    } catch (err) {
      showError(t('error.not_sent', { reason: err.message }));
    } finally {
      bar.hidden = true;
    }
  }
}

/** Deletes a message here and on the account's other devices. */
async function removeMessage(contact, id) {
  try {
    await app.account.removeMessage(contact, id);
    const c = conversation(contact);
    c.messages = c.messages.filter(m => m.id !== id);
    renderThread();
  } catch (err) {
    showError(err.message);
  }
}

async function removeConversation(contact) {
  try {
    await app.account.removeConversation(contact);
    app.conversations.delete(contact);
    app.open = null;
    renderConversations();
    show('home');
  } catch (err) {
    showError(err.message);
  }
}

/** What the account's other devices did: sent, deleted, read. */
function synced(m) {
  const content = m.content || {};
  const file = fileOf(content.content_type, content.content);
  if (m.type === 'message' && m.action === 'add' && content.uri && ((content.content_type || '').startsWith('text/') || file)) {
    const c = conversation(content.uri);
    if (!c.messages.some(x => x.id === content.message_id)) {
      c.messages.push({ id: content.message_id, direction: 'outgoing', content: content.content, file, timestamp: content.timestamp, state: file ? 'accepted' : 'pending', read: true });
    }
  } else if (m.type === 'message' && m.action === 'remove' && content.contact) {
    const c = conversation(content.contact);
    c.messages = c.messages.filter(x => x.id !== content.message_id);
  } else if (m.type === 'conversation' && m.action === 'remove') {
    const contact = typeof content === 'string' ? content : content.contact;
    app.conversations.delete(contact);
    if (app.open === contact) { app.open = null; show('home'); }
  } else if (m.type === 'conversation' && m.action === 'read') {
    const contact = typeof content === 'string' ? content : content.contact;
    if (app.conversations.has(contact)) conversation(contact).unread = 0;
  } else {
    return;
  }
  renderConversations();
  renderThread();
}

/** The other party is typing (RFC 3994): shown until it says idle, its refresh runs out or its message comes. */
function composing({ uri, state, refresh }) {
  clearTimeout(app.typingTimer);
  app.typing = state === 'active' ? uri : null;
  if (app.typing) app.typingTimer = setTimeout(() => { app.typing = null; renderTyping(); }, Math.min(refresh || 15, 120) * 1000);
  renderTyping();
}

function renderTyping() {
  $('typing').textContent = app.typing && app.typing === app.open ? t('messages.typing', { name: app.typing }) : '';
}

/** Typing here tells the other party, at most every 10 s. */
function typed() {
  if (!app.open || !$('send-text').value.trim()) return;
  const now = Date.now();
  if (app.composingSentAt && now - app.composingSentAt < 10000) return;
  app.composingSentAt = now;
  app.account.sendComposing(app.open, 'active', 30)
    .then(() => { app.composingSent = (app.composingSent || 0) + 1; })
    .catch(() => {});
}

app.conversationList = () => [...app.conversations].map(([contact, c]) => ({ contact, unread: c.unread }));
app.thread = () => [...document.querySelectorAll('#thread li')].map(li => ({
  id: li.dataset.id, text: li.firstChild.textContent, mark: li.querySelector('.mark')?.textContent || null,
  file: li.querySelector('a.file')?.getAttribute('href') || null,
  preview: (() => { const img = li.querySelector('img.preview'); return img ? img.naturalWidth : null; })(),
}));

// --- meeting ------------------------------------------------------------------------------------
function tile(id, name, stream, muted) {
  let box = document.querySelector(`.tile[data-id="${id}"]`);
  if (!box) {
    box = document.createElement('figure');
    box.className = 'tile';
    box.dataset.id = id;
    const video = document.createElement('video');
    video.autoplay = true; video.playsInline = true; video.muted = muted;
    const label = document.createElement('figcaption');
    label.className = 'name';
    const hand = document.createElement('span');
    hand.className = 'hand'; hand.textContent = t('meeting.hand_raised'); hand.hidden = true;
    const mutedMark = document.createElement('span');
    mutedMark.className = 'muted'; mutedMark.textContent = t('meeting.muted'); mutedMark.hidden = true;
    box.append(video, label, hand, mutedMark);
    // A wide picture (a shared screen) gets a large tile across the grid.
    video.addEventListener('resize', () => box.classList.toggle('wide', video.videoWidth / Math.max(video.videoHeight, 1) > 1.5));
    // Clicking (or Enter on) a tile makes that participant the active speaker for everyone.
    box.tabIndex = 0;
    box.title = t('meeting.spotlight');
    const spotlight = () => app.room && app.room.configure([id]).catch(err => showError(err.message));
    box.addEventListener('click', spotlight);
    box.addEventListener('keydown', (e) => { if (e.key === 'Enter') spotlight(); });
    $('tiles').appendChild(box);
  }
  box.querySelector('.name').textContent = name;
  const video = box.querySelector('video');
  if (stream && video.srcObject !== stream) {
    video.srcObject = stream;
    if (!muted) useSpeaker(video);
  }
  return box;
}

/**
 * The layer each feed is worth: with someone in the spotlight, that one's feed at full rate
 * and the small tiles at the lowest layer; without, every feed at a middle rate. The gateway
 * picks the simulcast layer under the rate asked for.
 */
function requestLayers() {
  const room = app.room;
  if (!room) return;
  // The grid view gives every tile the same size: every feed the middle rate.
  const spotlight = room.active.length > 0 && !$('tiles').classList.contains('grid');
  for (const p of room.participants.values()) {
    if (!p.feed) continue;
    const big = room.active.includes(p.id);
    const bitrate = !spotlight ? 600000 : big ? 2500000 : 120000;
    if (p.askedBitrate === bitrate) continue;
    p.askedBitrate = bitrate;
    room.update(p.feed, { bitrate }).catch(() => { p.askedBitrate = null; });
  }
}

/** The participant list: everyone with a mute and a raised-hand mark. */
function renderPeople() {
  const room = app.room;
  if (!room) return;
  const me = { id: room.id, displayName: t('meeting.you', { name: app.account.displayName || app.account.id }), muted: !!app.micMuted };
  const items = [me, ...room.participants.values()].map(p => {
    const li = document.createElement('li');
    const marks = [];
    if (p.muted) marks.push('muted');
    if (room.hands.includes(p.id)) marks.push('hand raised');
    li.textContent = p.displayName + (marks.length ? ` (${marks.join(', ')})` : '');
    li.dataset.id = p.id;
    return li;
  });
  $('people').replaceChildren(...items);
}

function renderParticipants() {
  const room = app.room;
  const ids = new Set([room.id]);
  for (const p of room.participants.values()) {
    ids.add(p.id);
    const box = tile(p.id, p.displayName, p.stream, false);
    box.querySelector('.muted').hidden = !p.muted;
  }
  renderPeople();
  for (const box of document.querySelectorAll('.tile')) if (!ids.has(box.dataset.id)) box.remove();
  renderHands();
}

function renderHands() {
  for (const box of document.querySelectorAll('.tile')) {
    box.querySelector('.hand').hidden = !app.room.hands.includes(box.dataset.id);
  }
  renderPeople();
  const mine = app.room.hands.includes(app.room.id);
  $('hand').textContent = t(mine ? 'meeting.lower_hand' : 'meeting.raise_hand');
  $('hand').setAttribute('aria-pressed', String(mine));
}

function addMessage(who, text) {
  const li = document.createElement('li');
  const w = document.createElement('span');
  w.className = 'who'; w.textContent = who + ':';
  li.append(w, document.createTextNode(text));
  $('messages').appendChild(li);
  li.scrollIntoView({ block: 'end' });
}

async function join(e) {
  if (e) e.preventDefault();
  clearError();
  let uri = $('room-name').value.trim().toLowerCase();
  if (!uri.includes('@')) uri += '@' + (app.config.default_room_domain || 'videoconference.example.com');
  let stream;
  stopPreview();
  const audioOnly = $('audio-only').checked;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: chosen('microphone'), video: audioOnly ? false : chosen('camera') });
    listDevices().catch(() => {});
  } catch (err) {
    showError(t('error.no_camera_microphone', { reason: err.message }));
    return;
  }
  try {
    app.room = await app.account.joinRoom(uri, stream);
  } catch (err) {
    showError(t('error.cannot_join', { uri, reason: err.message }));
    return;
  }
  const room = app.room;
  $('room-title').textContent = uri;
  app.meetingLink = `${location.origin}/webrtcgateway/conference/${encodeURIComponent(uri)}`;
  if ($('meeting-link')) { $('meeting-link').href = app.meetingLink; $('meeting-link').textContent = app.meetingLink; }
  show('meeting');
  tile(room.id, t('meeting.you', { name: app.account.displayName || app.account.id }), stream, true);
  renderPeople();
  room.addEventListener('participants', renderParticipants);
  room.addEventListener('hands', renderHands);
  // Speaking indicators: a participant whose level (conference-audio-levels) is up talks.
  room.addEventListener('levels', () => {
    for (const p of room.participants.values()) {
      const box = document.querySelector(`.tile[data-id="${p.id}"]`);
      if (box) box.classList.toggle('talking', p.level >= 64);
    }
  });
  room.addEventListener('active', ({ detail }) => {
    for (const box of document.querySelectorAll('.tile')) box.classList.toggle('speaking', detail.includes(box.dataset.id));
    requestLayers();
  });
  room.addEventListener('participants', requestLayers);
  room.addEventListener('files', ({ detail }) => renderFiles(detail));
  room.addEventListener('message', ({ detail }) => addMessage(detail.sender.display_name || detail.sender.uri, detail.content));
  room.addEventListener('state', ({ detail }) => { if (detail === 'terminated') showError(t('meeting.ended')); });
  $('chat-input').focus();
}

function renderFiles(files) {
  const list = $('files');
  list.replaceChildren();
  for (const f of files) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = app.room.fileUrl(f.filename);
    a.textContent = f.filename;
    a.download = f.filename;
    li.append(a, document.createTextNode(` (${f.filesize} bytes, ${f.uploader.display_name || f.uploader.uri})`));
    list.append(li);
  }
}

async function shareFile() {
  const file = $('share').files[0];
  if (!file) return;
  try {
    await app.room.shareFile(file);
  } catch (err) {
    showError(t('error.not_shared', { reason: err.message }));
  }
  $('share').value = '';
}

app.files = () => [...document.querySelectorAll('#files a')].map(a => ({ name: a.textContent, href: a.getAttribute('href') }));

async function sendChat(e) {
  e.preventDefault();
  const text = $('chat-input').value.trim();
  if (!text) return;
  $('chat-input').value = '';
  try {
    await app.room.sendMessage(text);
    addMessage('me', text);
  } catch (err) {
    showError(t('error.not_sent', { reason: err.message }));
  }
}

/** Shows (or hides) the chosen camera before joining. */
async function togglePreview() {
  if (app.preview) return stopPreview();
  try {
    app.preview = await navigator.mediaDevices.getUserMedia({ video: chosen('camera') });
  } catch (err) {
    showError(t('error.no_camera', { reason: err.message }));
    return;
  }
  $('preview').srcObject = app.preview;
  $('preview').hidden = false;
  $('preview-camera').setAttribute('aria-pressed', 'true');
  $('preview-camera').textContent = t('join.hide_preview');
}

function stopPreview() {
  if (!app.preview) return;
  for (const track of app.preview.getTracks()) track.stop();
  app.preview = null;
  $('preview').srcObject = null;
  $('preview').hidden = true;
  $('preview-camera').setAttribute('aria-pressed', 'false');
  $('preview-camera').textContent = t('join.preview');
}

/** Starts or stops sharing the screen into the meeting (a second publisher session). */
async function toggleScreen() {
  const button = $('share-screen');
  if (app.screen) {
    const share = app.screen;
    app.screen = null;
    await share.leave();
  } else {
    try {
      app.screen = await app.room.shareScreen();
    } catch (err) {
      showError(t('error.screen', { reason: err.message }));
      return;
    }
    // The browser's own "stop sharing" ends it too.
    for (const track of app.screen.stream.getVideoTracks()) track.addEventListener('ended', () => { app.screen = null; screenButton(); });
  }
  screenButton();
}

function screenButton() {
  const on = !!app.screen;
  $('share-screen').setAttribute('aria-pressed', String(on));
  $('share-screen').textContent = t(on ? 'meeting.stop_sharing' : 'meeting.share_screen');
}

async function leave() {
  if (app.screen) { const share = app.screen; app.screen = null; await share.leave(); screenButton(); }
  await app.room.leave();
  app.room = null;
  app.micMuted = false;
  $('mic').setAttribute('aria-pressed', 'false');
  $('mic').textContent = t('meeting.mute_mic');
  $('tiles').replaceChildren();
  $('messages').replaceChildren();
  $('files').replaceChildren();
  show('home');
}

// What the tests read: the video layers this page publishes (simulcast: one per rid).
app.layers = async () => {
  const out = [];
  if (!app.room || !app.room.pc) return out;
  (await app.room.pc.getStats()).forEach(r => {
    if (r.type === 'outbound-rtp' && r.kind === 'video') out.push({ rid: r.rid || null, width: r.frameWidth || 0, packets: r.packetsSent });
  });
  return out;
};
// What the tests read: per participant tile, whether its video decodes.
app.tiles = () => [...document.querySelectorAll('.tile')].map(box => {
  const v = box.querySelector('video');
  const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
  // Firefox does not count MediaStream frames in the playback quality; it has its own counter.
  const frames = Math.max(q ? q.totalVideoFrames : 0, v.mozDecodedFrames || 0, v.mozPaintedFrames || 0);
  return { id: box.dataset.id, name: box.querySelector('.name').textContent, hand: !box.querySelector('.hand').hidden,
           active: box.classList.contains('speaking'), talking: box.classList.contains('talking'),
           muted: !box.querySelector('.muted').hidden, wide: box.classList.contains('wide'), width: v.videoWidth, frames };
});
app.messages = () => [...document.querySelectorAll('#messages li')].map(li => li.textContent);
app.preview = null;
app.previewWidth = () => $('preview').videoWidth;
app.people = () => [...document.querySelectorAll('#people li')].map(li => li.textContent);
app.notices = () => [...document.querySelectorAll('#notices li span')].map(s => s.textContent);

app.contacts = new Contacts({
  call: (uri) => { $('dial').value = uri; dial(null); },
  message: (uri) => openConversation(uri),
  error: showError,
});
app.contactList = () => [...document.querySelectorAll('#contacts li span')].map(s => s.textContent);
translatePage();
app.lang = LANG;
app.missingStrings = missing;
$('signin-form').addEventListener('submit', signIn);
$('dial-form').addEventListener('submit', dial);
$('send-form').addEventListener('submit', sendText);
$('send-text').addEventListener('input', typed);
$('send-file').addEventListener('change', () => { const files = [...$('send-file').files]; $('send-file').value = ''; sendFiles(files); });
// Files dropped on the conversation, or pasted into the message field, are sent too.
$('conversation').addEventListener('dragover', (e) => { if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) e.preventDefault(); });
$('conversation').addEventListener('drop', (e) => {
  const files = e.dataTransfer ? [...e.dataTransfer.files] : [];
  if (!files.length) return;
  e.preventDefault();
  sendFiles(files);
});
$('send-text').addEventListener('paste', (e) => {
  const files = e.clipboardData ? [...e.clipboardData.files] : [];
  if (!files.length) return;
  e.preventDefault();
  sendFiles(files);
});
$('delete-conversation').addEventListener('click', () => app.open && removeConversation(app.open));
$('back').addEventListener('click', () => { app.open = null; renderConversations(); show('home'); });
// Escape leaves a conversation, and closes the contact form (the focus goes back to what
// opened it).
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  if (!$('conversation').hidden) { e.preventDefault(); $('back').click(); }
  else if ($('contact-editor').open && $('contact-editor').contains(document.activeElement)) { e.preventDefault(); app.contacts.edit(null, true); }
});
$('new-chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const who = $('new-chat').value.trim();
  if (!who) return;
  $('new-chat').value = '';
  openConversation(withDomain(who));
});
$('answer').addEventListener('click', () => answer().catch(err => showError(err.message)));
$('answer-video').addEventListener('click', () => answer(true).catch(err => showError(err.message)));
$('video-call').addEventListener('click', () => dial(null, true).catch(err => showError(err.message)));
for (const key of document.querySelectorAll('.dialpad .key')) {
  key.addEventListener('click', () => { $('dial').value += key.textContent; });
}
$('camera-off').addEventListener('click', () => {
  const off = $('camera-off').getAttribute('aria-pressed') !== 'true';
  app.call.camera(!off);
  $('camera-off').setAttribute('aria-pressed', String(off));
  $('camera-off').textContent = t(off ? 'call.camera_on' : 'call.camera_off');
});
$('decline').addEventListener('click', () => {
  if (app.stopRinging) app.stopRinging();
  const call = app.incomingCall;
  app.incomingCall = null;
  if (call) remember({ direction: 'incoming', uri: call.remote.uri, name: call.remote.display_name || call.remote.uri, started: Date.now(), duration: 0, outcome: 'declined', reason: '' });
  show('home');
  if (call) call.terminate().catch(err => showError(err.message));
});
$('missed-only').addEventListener('click', () => {
  const on = $('missed-only').getAttribute('aria-pressed') !== 'true';
  $('missed-only').setAttribute('aria-pressed', String(on));
  renderHistory().catch(err => showError(err.message));
});
$('call-screen').addEventListener('click', async () => {
  const call = app.call;
  if (!call) return;
  try {
    if (call.screen) await call.stopScreen(); else await call.shareScreen();
  } catch (err) {
    showError(t('error.screen', { reason: err.message }));
  }
  $('call-screen').setAttribute('aria-pressed', String(!!call.screen));
  $('call-screen').textContent = t(call.screen ? 'meeting.stop_sharing' : 'meeting.share_screen');
});
app.callVideoOut = async () => {
  if (!app.call || !app.call.pc) return null;
  let out = null;
  (await app.call.pc.getStats()).forEach(r => { if (r.type === 'outbound-rtp' && r.kind === 'video') out = { width: r.frameWidth || 0, height: r.frameHeight || 0, packets: r.packetsSent }; });
  return out;
};
$('hangup').addEventListener('click', () => app.call && app.call.terminate().catch(err => showError(err.message)));
$('mute').addEventListener('click', () => {
  const on = $('mute').getAttribute('aria-pressed') !== 'true';
  app.call.mute(on);
  $('mute').setAttribute('aria-pressed', String(on));
  $('mute').textContent = t(on ? 'call.unmute' : 'call.mute');
});
$('hold').addEventListener('click', () => {
  const on = !app.call.held;
  app.call.hold(on).then(() => {
    $('hold').setAttribute('aria-pressed', String(on));
    $('hold').textContent = t(on ? 'call.resume' : 'call.hold');
  }).catch(err => showError(t('error.hold', { reason: err.message })));
});
$('dtmf-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const tones = $('dtmf').value.trim();
  if (!tones) return;
  app.call.dtmf(tones).then(() => { $('dtmf').value = ''; }).catch(err => showError(err.message));
});
$('join-form').addEventListener('submit', join);
$('chat-form').addEventListener('submit', sendChat);
$('share').addEventListener('change', () => shareFile());
$('hand').addEventListener('click', () => app.room.toggleHand().catch(err => showError(err.message)));
$('mute-all').addEventListener('click', () => app.room.muteEveryone().catch(err => showError(err.message)));
$('leave').addEventListener('click', () => leave().catch(err => showError(err.message)));
$('share-screen').addEventListener('click', () => toggleScreen().catch(err => showError(err.message)));
// The microphone of the meeting: off sends silence, which the others see as muted.
$('mic').addEventListener('click', () => {
  if (!app.room) return;
  app.micMuted = !app.micMuted;
  for (const track of app.room.stream.getAudioTracks()) track.enabled = !app.micMuted;
  $('mic').setAttribute('aria-pressed', String(app.micMuted));
  $('mic').textContent = t(app.micMuted ? 'meeting.unmute_mic' : 'meeting.mute_mic');
  renderPeople();
});
// Grid view (every tile the same) or spotlight (the active speaker large), for this page only.
$('layout').addEventListener('click', () => {
  const grid = $('layout').getAttribute('aria-pressed') !== 'true';
  $('layout').setAttribute('aria-pressed', String(grid));
  $('tiles').classList.toggle('grid', grid);
  requestLayers();
});
app.askedRates = () => app.room ? [...app.room.participants.values()].filter(p => p.feed).map(p => p.askedBitrate || null) : [];
$('preview-camera').addEventListener('click', () => togglePreview().catch(err => showError(err.message)));
// A camera chosen while previewing is previewed at once.
$('camera').addEventListener('change', () => { if (app.preview) { stopPreview(); togglePreview(); } });
$('invite-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const who = $('invite').value.trim();
  if (!who) return;
  app.room.invite([who]).then(() => { $('invite').value = ''; }).catch(err => showError(err.message));
});
loadConfig();
