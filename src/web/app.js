// The sylk-gateway web application (served at /webrtcgateway/): sign in with a SIP account,
// see its registration, join a video meeting (tiles with names, chat, raised hands, mute
// everyone, invitations). Branding comes from /webrtcgateway/config.json. State the tests
// read is on window.app.
import { Connection } from '/webrtcgateway/sylkrtc.js';

const $ = (id) => document.getElementById(id);
const app = window.app = { conn: null, account: null, room: null, config: {}, errors: [] };

function showError(text) {
  app.errors.push(text);
  $('error').textContent = text;
  $('error').classList.add('show');
}
function clearError() { $('error').classList.remove('show'); }
function show(section) {
  for (const id of ['signin', 'home', 'incoming', 'call', 'conversation', 'meeting']) $(id).hidden = id !== section;
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
    $('banner').textContent = detail === 'reconnecting' ? 'Connection lost, reconnecting…' : '';
    $('banner').classList.toggle('show', detail === 'reconnecting');
  });
  try {
    await Promise.race([conn.ready, new Promise((_, reject) => setTimeout(() => reject(new Error('The gateway cannot be reached')), 10000))]);
    app.account = await conn.addAccount({ account, password: $('password').value, displayName: $('display-name').value.trim() });
  } catch (err) {
    showError(err.message);
    return;
  }
  $('who').textContent = app.account.displayName || account;
  app.account.addEventListener('registration', ({ detail }) => {
    $('registration').textContent = detail.state === 'failed'
      ? `Registration failed: ${detail.reason || 'unknown reason'}`
      : detail.state;
  });
  app.account.addEventListener('incoming', ({ detail: call }) => incoming(call));
  // A call missed (cancelled before the answer) and a conference invitation become notices
  // with a button to call back or to join.
  app.account.addEventListener('missed', ({ detail: who }) => {
    const name = who.display_name || who.uri;
    notice(`Missed call from ${name}`, 'Call back', () => { $('dial').value = who.uri; dial(null); });
  });
  app.account.addEventListener('invite', ({ detail: m }) => {
    const from = m.originator ? (m.originator.display_name || m.originator.uri) : 'Someone';
    notice(`${from} invites you to ${m.room}`, 'Join', () => { $('room-name').value = m.room; join(null); });
  });
  app.account.addEventListener('message', ({ detail }) => received(detail));
  app.account.addEventListener('disposition', ({ detail }) => disposition(detail.message_id, detail.state));
  app.account.addEventListener('registration', ({ detail }) => {
    if (detail.state === 'registered' && !app.synced) {
      app.synced = true;
      loadHistory().catch(err => showError(`Cannot load the messages: ${err.message}`));
    }
  });
  app.account.register();
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
    showError(`No ${video ? 'camera or ' : ''}microphone permission: ${err.message}`);
    return null;
  }
}

function showCall(call, name) {
  app.call = call;
  $('peer').textContent = name;
  $('call-state').textContent = call.state || 'calling';
  $('call-timer').textContent = '';
  $('mute').textContent = 'Mute'; $('hold').textContent = 'Hold';
  $('mute').setAttribute('aria-pressed', 'false'); $('hold').setAttribute('aria-pressed', 'false');
  $('camera-off').hidden = true; $('camera-off').textContent = 'Camera off';
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
  };
  let started = null;
  const timer = setInterval(async () => {
    if (started) {
      const s = Math.floor((Date.now() - started) / 1000);
      $('call-timer').textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    }
    showVideo();
    const st = await call.stats();
    const total = st.packetsReceived + st.packetsLost;
    const loss = total > 0 ? st.packetsLost / total : 0;
    const quality = loss > 0.05 || st.jitter > 0.05 ? 'poor' : 'good';
    $('quality').textContent = st.packetsReceived > 0 ? `connection ${quality} (${st.packetsReceived} packets, ${(loss * 100).toFixed(1)}% lost)` : '';
  }, 1000);
  call.addEventListener('state', ({ detail }) => {
    if (!detail.state) return;
    $('call-state').textContent = detail.state;
    if (detail.state === 'established' && !started) started = Date.now();
    if (detail.state === 'terminated') {
      clearInterval(timer);
      app.lastCall = { reason: detail.reason };
      const normal = ['200 to BYE', '200 Received BYE'].includes(detail.reason);
      if (!normal && detail.reason) showError(`Call ended: ${detail.reason}`);
      app.call = null;
      show('home');
    }
  });
}

async function dial(e, video = false) {
  if (e) e.preventDefault();
  clearError();
  if (!$('dial').value.trim()) return showError('Enter an address or a number to call');
  const uri = withDomain($('dial').value);
  const stream = await microphone(video);
  if (!stream) return;
  try {
    showCall(await app.account.call(uri, stream), uri);
  } catch (err) {
    for (const t of stream.getTracks()) t.stop();
    showError(`Cannot call ${uri}: ${err.message}`);
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
  dismiss.textContent = 'Dismiss';
  dismiss.setAttribute('aria-label', `Dismiss: ${text}`);
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
  const caller = call.remote.display_name || call.remote.uri;
  $('caller').textContent = caller;
  show('incoming');
  $('answer').focus();
  const stopRinging = ring();
  const shown = notify(`Incoming call from ${caller}`);
  call.addEventListener('state', ({ detail }) => {
    if (detail.state !== 'incoming') {
      stopRinging();
      if (shown) shown.close();
    }
    if (detail.state === 'terminated' && app.incomingCall === call) {
      app.incomingCall = null;
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
  showCall(call, call.remote.display_name || call.remote.uri);
  try {
    await call.answer(stream);
  } catch (err) {
    showError(`Cannot answer: ${err.message}`);
  }
}

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

const MARKS = { pending: '…', accepted: 'sent', delivered: 'delivered', displayed: 'read', failed: 'not sent', error: 'error' };

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
      badge.setAttribute('aria-label', `${c.unread} unread`);
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
    li.append(document.createTextNode(m.content));
    if (m.direction === 'outgoing') {
      const mark = document.createElement('span');
      mark.className = 'mark';
      mark.textContent = MARKS[m.state] || m.state || '';
      li.append(mark);
    }
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
  readAll(contact);
  renderThread();
  renderConversations();
  show('conversation');
  $('send-text').focus();
}

async function loadHistory() {
  const entries = await app.account.sync();
  for (const e of entries) {
    if (!e.direction || !e.content_type.startsWith('text/')) continue;
    const c = conversation(e.contact);
    const unread = e.direction === 'incoming' && (e.disposition || []).includes('display');
    c.messages.push({ id: e.message_id, direction: e.direction, content: e.content, timestamp: e.timestamp, state: e.state, disposition: e.disposition, read: !unread });
    if (unread) c.unread += 1;
  }
  renderConversations();
}

function received(m) {
  if (!m.content_type.startsWith('text/')) return;
  const contact = m.sender.uri;
  const c = conversation(contact);
  const msg = { id: m.message_id, direction: 'incoming', content: m.content, timestamp: m.timestamp, disposition: m.disposition_notification, read: false };
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
    showError(`Message not sent: ${err.message}`);
  }
}

app.conversationList = () => [...app.conversations].map(([contact, c]) => ({ contact, unread: c.unread }));
app.thread = () => [...document.querySelectorAll('#thread li')].map(li => ({ id: li.dataset.id, text: li.firstChild.textContent, mark: li.querySelector('.mark')?.textContent || null }));

// --- meeting ------------------------------------------------------------------------------------
function tile(id, name, stream, muted) {
  let t = document.querySelector(`.tile[data-id="${id}"]`);
  if (!t) {
    t = document.createElement('figure');
    t.className = 'tile';
    t.dataset.id = id;
    const video = document.createElement('video');
    video.autoplay = true; video.playsInline = true; video.muted = muted;
    const label = document.createElement('figcaption');
    label.className = 'name';
    const hand = document.createElement('span');
    hand.className = 'hand'; hand.textContent = 'Hand raised'; hand.hidden = true;
    const mutedMark = document.createElement('span');
    mutedMark.className = 'muted'; mutedMark.textContent = 'Muted'; mutedMark.hidden = true;
    t.append(video, label, hand, mutedMark);
    // A wide picture (a shared screen) gets a large tile across the grid.
    video.addEventListener('resize', () => t.classList.toggle('wide', video.videoWidth / Math.max(video.videoHeight, 1) > 1.5));
    // Clicking (or Enter on) a tile makes that participant the active speaker for everyone.
    t.tabIndex = 0;
    t.title = 'Spotlight';
    const spotlight = () => app.room && app.room.configure([id]).catch(err => showError(err.message));
    t.addEventListener('click', spotlight);
    t.addEventListener('keydown', (e) => { if (e.key === 'Enter') spotlight(); });
    $('tiles').appendChild(t);
  }
  t.querySelector('.name').textContent = name;
  const video = t.querySelector('video');
  if (stream && video.srcObject !== stream) {
    video.srcObject = stream;
    if (!muted) useSpeaker(video);
  }
  return t;
}

/**
 * The layer each feed is worth: with someone in the spotlight, that one's feed at full rate
 * and the small tiles at the lowest layer; without, every feed at a middle rate. The gateway
 * picks the simulcast layer under the rate asked for.
 */
function requestLayers() {
  const room = app.room;
  if (!room) return;
  const spotlight = room.active.length > 0;
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
  const me = { id: room.id, displayName: (app.account.displayName || app.account.id) + ' (you)', muted: !!app.micMuted };
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
    const t = tile(p.id, p.displayName, p.stream, false);
    t.querySelector('.muted').hidden = !p.muted;
  }
  renderPeople();
  for (const t of document.querySelectorAll('.tile')) if (!ids.has(t.dataset.id)) t.remove();
  renderHands();
}

function renderHands() {
  for (const t of document.querySelectorAll('.tile')) {
    t.querySelector('.hand').hidden = !app.room.hands.includes(t.dataset.id);
  }
  renderPeople();
  const mine = app.room.hands.includes(app.room.id);
  $('hand').textContent = mine ? 'Lower hand' : 'Raise hand';
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
    showError(`No camera or microphone permission: ${err.message}`);
    return;
  }
  try {
    app.room = await app.account.joinRoom(uri, stream);
  } catch (err) {
    showError(`Cannot join ${uri}: ${err.message}`);
    return;
  }
  const room = app.room;
  $('room-title').textContent = uri;
  app.meetingLink = `${location.origin}/webrtcgateway/conference/${encodeURIComponent(uri)}`;
  if ($('meeting-link')) { $('meeting-link').href = app.meetingLink; $('meeting-link').textContent = app.meetingLink; }
  show('meeting');
  tile(room.id, (app.account.displayName || app.account.id) + ' (you)', stream, true);
  renderPeople();
  room.addEventListener('participants', renderParticipants);
  room.addEventListener('hands', renderHands);
  // Speaking indicators: a participant whose level (conference-audio-levels) is up talks.
  room.addEventListener('levels', () => {
    for (const p of room.participants.values()) {
      const t = document.querySelector(`.tile[data-id="${p.id}"]`);
      if (t) t.classList.toggle('talking', p.level >= 64);
    }
  });
  room.addEventListener('active', ({ detail }) => {
    for (const t of document.querySelectorAll('.tile')) t.classList.toggle('speaking', detail.includes(t.dataset.id));
    requestLayers();
  });
  room.addEventListener('participants', requestLayers);
  room.addEventListener('files', ({ detail }) => renderFiles(detail));
  room.addEventListener('message', ({ detail }) => addMessage(detail.sender.display_name || detail.sender.uri, detail.content));
  room.addEventListener('state', ({ detail }) => { if (detail === 'terminated') showError('The meeting ended'); });
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
    showError(`File not shared: ${err.message}`);
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
    showError(`Message not sent: ${err.message}`);
  }
}

/** Shows (or hides) the chosen camera before joining. */
async function togglePreview() {
  if (app.preview) return stopPreview();
  try {
    app.preview = await navigator.mediaDevices.getUserMedia({ video: chosen('camera') });
  } catch (err) {
    showError(`No camera permission: ${err.message}`);
    return;
  }
  $('preview').srcObject = app.preview;
  $('preview').hidden = false;
  $('preview-camera').setAttribute('aria-pressed', 'true');
  $('preview-camera').textContent = 'Hide preview';
}

function stopPreview() {
  if (!app.preview) return;
  for (const t of app.preview.getTracks()) t.stop();
  app.preview = null;
  $('preview').srcObject = null;
  $('preview').hidden = true;
  $('preview-camera').setAttribute('aria-pressed', 'false');
  $('preview-camera').textContent = 'Preview camera';
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
      showError(`Cannot share the screen: ${err.message}`);
      return;
    }
    // The browser's own "stop sharing" ends it too.
    for (const t of app.screen.stream.getVideoTracks()) t.addEventListener('ended', () => { app.screen = null; screenButton(); });
  }
  screenButton();
}

function screenButton() {
  const on = !!app.screen;
  $('share-screen').setAttribute('aria-pressed', String(on));
  $('share-screen').textContent = on ? 'Stop sharing' : 'Share screen';
}

async function leave() {
  if (app.screen) { const share = app.screen; app.screen = null; await share.leave(); screenButton(); }
  await app.room.leave();
  app.room = null;
  app.micMuted = false;
  $('mic').setAttribute('aria-pressed', 'false');
  $('mic').textContent = 'Mute microphone';
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
app.tiles = () => [...document.querySelectorAll('.tile')].map(t => {
  const v = t.querySelector('video');
  const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
  // Firefox does not count MediaStream frames in the playback quality; it has its own counter.
  const frames = Math.max(q ? q.totalVideoFrames : 0, v.mozDecodedFrames || 0, v.mozPaintedFrames || 0);
  return { id: t.dataset.id, name: t.querySelector('.name').textContent, hand: !t.querySelector('.hand').hidden,
           active: t.classList.contains('speaking'), talking: t.classList.contains('talking'),
           muted: !t.querySelector('.muted').hidden, wide: t.classList.contains('wide'), width: v.videoWidth, frames };
});
app.messages = () => [...document.querySelectorAll('#messages li')].map(li => li.textContent);
app.preview = null;
app.previewWidth = () => $('preview').videoWidth;
app.people = () => [...document.querySelectorAll('#people li')].map(li => li.textContent);
app.notices = () => [...document.querySelectorAll('#notices li span')].map(s => s.textContent);

$('signin-form').addEventListener('submit', signIn);
$('dial-form').addEventListener('submit', dial);
$('send-form').addEventListener('submit', sendText);
$('back').addEventListener('click', () => { app.open = null; renderConversations(); show('home'); });
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
  $('camera-off').textContent = off ? 'Camera on' : 'Camera off';
});
$('decline').addEventListener('click', () => {
  if (app.stopRinging) app.stopRinging();
  const call = app.incomingCall;
  app.incomingCall = null;
  show('home');
  if (call) call.terminate().catch(err => showError(err.message));
});
$('hangup').addEventListener('click', () => app.call && app.call.terminate().catch(err => showError(err.message)));
$('mute').addEventListener('click', () => {
  const on = $('mute').getAttribute('aria-pressed') !== 'true';
  app.call.mute(on);
  $('mute').setAttribute('aria-pressed', String(on));
  $('mute').textContent = on ? 'Unmute' : 'Mute';
});
$('hold').addEventListener('click', () => {
  const on = !app.call.held;
  app.call.hold(on).then(() => {
    $('hold').setAttribute('aria-pressed', String(on));
    $('hold').textContent = on ? 'Resume' : 'Hold';
  }).catch(err => showError(`Hold failed: ${err.message}`));
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
  for (const t of app.room.stream.getAudioTracks()) t.enabled = !app.micMuted;
  $('mic').setAttribute('aria-pressed', String(app.micMuted));
  $('mic').textContent = app.micMuted ? 'Unmute microphone' : 'Mute microphone';
  renderPeople();
});
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
