// sylkrtc.js: a small sylkRTC-2 client for browsers (ES module, no dependencies), served by
// sylk-gateway at /webrtcgateway/sylkrtc.js. What it covers so far: the connection (ready
// state, pings, reconnection with backoff), accounts (HA1 computed here, registration), and
// video rooms (join with camera and microphone, the other participants' feeds, chat, raised
// hands, mute everyone, invitations).
//
//   import { Connection } from '/webrtcgateway/sylkrtc.js';
//   const conn = new Connection('wss://host:10888/webrtcgateway/ws');
//   await conn.ready;
//   const account = await conn.addAccount({ account: 'alice@example.com', password: 'pw' });
//   account.register();                      // 'registration' events
//   const room = await account.joinRoom('room1@videoconference.example.com', stream);
//   room.addEventListener('participants', ...); room.sendMessage('hi'); room.toggleHand();
//   const call = await account.call('bob@example.com', stream);   // 'state' events
//   account.addEventListener('incoming', ({ detail: call }) => call.answer(stream));

// --- MD5 (RFC 1321), for the HA1 -------------------------------------------------------------
export function md5(text) {
  const bytes = new TextEncoder().encode(text);
  const words = new Uint32Array(((bytes.length + 8 >> 6) + 1) * 16);
  for (let i = 0; i < bytes.length; i++) words[i >> 2] |= bytes[i] << ((i % 4) * 8);
  words[bytes.length >> 2] |= 0x80 << ((bytes.length % 4) * 8);
  words[words.length - 2] = bytes.length * 8;
  const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
  const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);
  let [a0, b0, c0, d0] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  for (let o = 0; o < words.length; o += 16) {
    let [a, b, c, d] = [a0, b0, c0, d0];
    for (let i = 0; i < 64; i++) {
      let f, g;
      if (i < 16) { f = (b & c) | (~b & d); g = i; }
      else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
      else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
      else { f = c ^ (b | ~d); g = (7 * i) % 16; }
      const s = S[(i >> 4) * 4 + (i % 4)];
      const x = (a + f + K[i] + words[o + g]) >>> 0;
      [a, d, c] = [d, c, b];
      b = (b + ((x << s) | (x >>> (32 - s)))) >>> 0;
    }
    a0 = (a0 + a) >>> 0; b0 = (b0 + b) >>> 0; c0 = (c0 + c) >>> 0; d0 = (d0 + d) >>> 0;
  }
  return [a0, b0, c0, d0].map(w => [0, 8, 16, 24].map(s => ((w >>> s) & 255).toString(16).padStart(2, '0')).join('')).join('');
}

const uuid = () => crypto.randomUUID();

// --- the connection ---------------------------------------------------------------------------
// Events: 'state' ({detail: 'connecting' | 'ready' | 'reconnecting' | 'closed'}), and every
// server message as 'message'.
/** RFC 3994 is-composing messages. */
const COMPOSING = 'application/im-iscomposing+xml';

export class Connection extends EventTarget {
  // rtcConfiguration: the RTCConfiguration of every peer connection; by default the
  // gateway's (its /webrtcgateway/config.json `iceServers`: STUN/TURN set by the operator).
  /**
   * @param {string} url the gateway's WebSocket, `wss://host:10888/webrtcgateway/ws`
   * @param {{pingInterval?: number, reconnect?: boolean, rtcConfiguration?: RTCConfiguration | null}} [options]
   */
  constructor(url, { pingInterval = 5000, reconnect = true, rtcConfiguration = null } = {}) {
    super();
    this.url = url;
    // The web server of the same gateway (file sharing).
    this.httpBase = url.replace(/^ws/, 'http').replace(/\/webrtcgateway\/ws$/, '');
    this.pingInterval = pingInterval;
    this.reconnect = reconnect;
    this.state = 'connecting';
    this.pending = new Map();
    this.accounts = new Map();
    this.rooms = new Map();
    this.calls = new Map();
    this.attempt = 0;
    this.rtcConfiguration = rtcConfiguration || { iceServers: [] };
    const configured = rtcConfiguration ? Promise.resolve() :
      fetch(`${this.httpBase}/webrtcgateway/config.json`, { cache: 'no-store' })
        .then(r => r.ok ? r.json() : {})
        .then(c => { if (Array.isArray(c.iceServers)) this.rtcConfiguration = { ...this.rtcConfiguration, iceServers: c.iceServers }; })
        .catch(() => {});
    const open = new Promise(resolve => { this._resolveReady = resolve; });
    this.ready = Promise.all([open, configured]).then(([v]) => v);
    this._open();
  }

  _setState(state) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: state }));
  }

  _open() {
    const ws = this.ws = new WebSocket(this.url, 'sylkRTC-2');
    ws.onmessage = e => {
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      this._message(m);
    };
    ws.onclose = () => {
      clearInterval(this.pinger);
      for (const [, p] of this.pending) p.reject(new Error('connection closed'));
      this.pending.clear();
      if (this.closing || !this.reconnect) return this._setState('closed');
      this._setState('reconnecting');
      // Backoff: 0.5 s, 1 s, 2 s, ... at most 10 s.
      const delay = Math.min(10000, 500 * 2 ** this.attempt++);
      setTimeout(() => this._open(), delay);
    };
  }

  _message(m) {
    if (m.sylkrtc === 'ready-event') {
      this.attempt = 0;
      this.pinger = setInterval(() => this.request({ sylkrtc: 'ping' }).catch(() => {}), this.pingInterval);
      this._setState('ready');
      this._resolveReady();
      // After a reconnection, add the accounts again.
      for (const account of this.accounts.values()) account._readd();
      return;
    }
    if (m.sylkrtc === 'ack' || m.sylkrtc === 'error') {
      const p = this.pending.get(m.transaction);
      if (!p) return;
      this.pending.delete(m.transaction);
      if (m.sylkrtc === 'ack') p.resolve(m); else p.reject(new Error(m.error));
      return;
    }
    if (m.sylkrtc === 'account-event') this.accounts.get(m.account)?._event(m);
    if (m.sylkrtc === 'session-event') this.calls.get(m.session)?._event(m);
    if (m.sylkrtc === 'videoroom-event') {
      for (const room of this.rooms.values()) room._event(m);
    }
    this.dispatchEvent(new CustomEvent('message', { detail: m }));
  }

  // Sends a request; resolves with its ack, rejects with its error text.
  /**
   * Sends one sylkRTC-2 request (a transaction id is added); resolves with its `ack`, rejects
   * with the `error` text.
   * @param {Record<string, unknown>} req
   * @returns {Promise<Record<string, unknown>>}
   */
  request(req) {
    req.transaction = uuid();
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== WebSocket.OPEN) return reject(new Error('not connected'));
      this.pending.set(req.transaction, { resolve, reject });
      this.ws.send(JSON.stringify(req));
    });
  }

  // `password` is hashed here (HA1 = md5(user:realm:password), realm = the domain).
  /**
   * Adds an account to the connection (`account-add`); the password's HA1 is made here.
   * @param {{account: string, password: string, displayName?: string, realm?: string}} options
   * @returns {Promise<Account>}
   */
  async addAccount({ account, password, displayName = '', realm }) {
    const [user, domain] = account.split('@');
    if (!user || !domain) throw new Error('The account must look like user@domain');
    const ha1 = md5(`${user}:${realm || domain}:${password}`);
    const a = new Account(this, account, ha1, displayName);
    await a._add();
    this.accounts.set(account, a);
    return a;
  }

  close() {
    this.closing = true;
    this.ws.close();
  }
}

// --- accounts ---------------------------------------------------------------------------------
// Events: 'registration' ({detail: {state, reason}}), 'invite' (conference invitations),
// 'incoming' ({detail: Call}), 'missed' ({detail: originator}), 'message' (a chat message:
// {detail: {message_id, sender, content, content_type, timestamp, disposition_notification}}),
// 'disposition' ({detail: {message_id, state, code, reason}}), 'sync' (from the account's other
// devices: {detail: {type, action, content}}).
export class Account extends EventTarget {
  constructor(conn, id, ha1, displayName) {
    super();
    this.conn = conn;
    this.id = id;
    this.ha1 = ha1;
    this.displayName = displayName;
    this.registration = null;
  }

  _add() {
    const req = { sylkrtc: 'account-add', account: this.id, password: this.ha1 };
    if (this.displayName) req.display_name = this.displayName;
    return this.conn.request(req);
  }

  async _readd() {
    try {
      await this._add();
      if (this.wantRegistered) await this.register();
    } catch (e) {
      this._registration('failed', e.message);
    }
  }

  _registration(state, reason) {
    this.registration = state;
    this.dispatchEvent(new CustomEvent('registration', { detail: { state, reason } }));
  }

  /**
   * Registers the account at its SIP service ('registration' events follow).
   * @returns {Promise<void>}
   */
  async register() {
    this.wantRegistered = true;
    try {
      await this.conn.request({ sylkrtc: 'account-register', account: this.id });
    } catch (e) {
      this._registration('failed', e.message);
    }
  }

  _event(m) {
    if (m.event === 'registration-state') this._registration(m.state, m.reason);
    else if (m.event === 'conference-invite') this.dispatchEvent(new CustomEvent('invite', { detail: m }));
    else if (m.event === 'incoming-session') {
      const call = new Call(this, m.session, m.originator, 'incoming', m.sdp);
      this.conn.calls.set(call.id, call);
      this.dispatchEvent(new CustomEvent('incoming', { detail: call }));
    } else if (m.event === 'missed-session') {
      this.dispatchEvent(new CustomEvent('missed', { detail: m.originator }));
    } else if (m.event === 'message' && (m.content_type || '').startsWith(COMPOSING)) {
      // RFC 3994 is-composing: the state and how long it holds.
      const state = (/<state>\s*(\w+)\s*<\/state>/.exec(m.content || '') || [])[1] || 'idle';
      const refresh = Number((/<refresh>\s*(\d+)\s*<\/refresh>/.exec(m.content || '') || [])[1] || 0);
      this.dispatchEvent(new CustomEvent('composing', { detail: { uri: m.sender && m.sender.uri, state, refresh } }));
    } else if (m.event === 'message') {
      this.dispatchEvent(new CustomEvent('message', { detail: m }));
    } else if (m.event === 'disposition-notification') {
      this.dispatchEvent(new CustomEvent('disposition', { detail: m }));
    } else if (m.event === 'sync') {
      this.dispatchEvent(new CustomEvent('sync', { detail: m }));
    } else if (m.event === 'sync-conversations') {
      const waiting = this.syncWaiters || [];
      this.syncWaiters = [];
      for (const resolve of waiting) resolve(m.messages);
    } else if (m.event === 'addressbook-fetched') {
      const waiting = this.bookWaiters || [];
      this.bookWaiters = [];
      for (const resolve of waiting) resolve(m.addressbook || { contacts: [], groups: [], policies: [] });
    } else if (m.event === 'addressbook-updated' || m.event === 'addressbook-update-failed') {
      const entry = m.contact || m.group || m.policy || null;
      const id = m.event === 'addressbook-updated' ? (entry && entry.id) : m.id;
      const key = `${m.type}:${m.action}:${id}`;
      const waiter = (this.bookUpdates || new Map()).get(key);
      if (waiter) {
        this.bookUpdates.delete(key);
        if (m.event === 'addressbook-updated') waiter.resolve(entry);
        else waiter.reject(new Error(m.error || 'addressbook update failed'));
      }
      // Changes made by this account's other connections (or this one) for the page to show.
      if (m.event === 'addressbook-updated') {
        this.dispatchEvent(new CustomEvent('addressbook', { detail: { type: m.type, action: m.action, entry } }));
      }
    }
  }

  /**
   * The account's addressbook as the gateway keeps it: `{contacts, groups, policies}`.
   * @returns {Promise<{contacts: Array<any>, groups: Array<any>, policies: Array<any>}>}
   */
  async fetchAddressbook() {
    const book = new Promise(resolve => { (this.bookWaiters = this.bookWaiters || []).push(resolve); });
    await this.conn.request({ sylkrtc: 'account-fetch-addressbook', account: this.id });
    return book;
  }

  /**
   * Adds, updates or deletes one addressbook entry; resolves with the entry once the gateway
   * stored it (every connection of the account then gets an 'addressbook' event), rejects
   * with the gateway's reason otherwise.
   * @param {'add'|'update'|'delete'} action
   * @param {'contact'|'group'|'policy'} type
   * @param {object} data a Contact `{id, name, uris: [{id, uri, type?}], dialog: {policy,
   *   subscribe}, presence: {policy, subscribe}}`, a Group `{id, name, contacts: [ids]}` or a
   *   Policy
   * @returns {Promise<any>}
   */
  async updateAddressbook(action, type, data) {
    this.bookUpdates = this.bookUpdates || new Map();
    const done = new Promise((resolve, reject) => this.bookUpdates.set(`${type}:${action}:${data.id}`, { resolve, reject }));
    await this.conn.request({ sylkrtc: 'account-update-addressbook', account: this.id, action, type, data });
    return done;
  }

  // Sends a chat message; resolves with its id once the gateway stored it.
  /**
   * Sends a message to `uri`; resolves with its message id.
   * @param {string} uri
   * @param {string} content
   * @param {string} [contentType]
   * @returns {Promise<string>}
   */
  async sendMessage(uri, content, contentType = 'text/plain') {
    const message_id = uuid();
    await this.conn.request({
      sylkrtc: 'account-message', account: this.id, uri, message_id, content,
      content_type: contentType, timestamp: new Date().toISOString(),
    });
    return message_id;
  }

  /**
   * Tells `uri` that the user is typing (`active`, for `refresh` seconds) or stopped (`idle`):
   * an RFC 3994 is-composing message, which the gateway forwards and does not keep.
   * @param {string} uri
   * @param {'active'|'idle'} [state]
   * @param {number} [refresh]
   * @returns {Promise<any>}
   */
  sendComposing(uri, state = 'active', refresh = 60) {
    const content = '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">' +
      `<state>${state}</state><contenttype>text/plain</contenttype><refresh>${refresh}</refresh></isComposing>`;
    return this.conn.request({
      sylkrtc: 'account-message', account: this.id, uri, message_id: uuid(), content,
      content_type: COMPOSING, timestamp: new Date().toISOString(),
    });
  }

  /**
   * Sends `file` to `uri` (1:1 file transfer): uploads it to the gateway, which tells both
   * sides with an `application/sylk-file-transfer` message (`message` at the receiver, `sync`
   * add at the sender). Resolves with the transfer id.
   * @param {string} uri
   * @param {File} file
   * @param {(fraction: number) => void} [onProgress] called as the upload goes, 0 to 1
   * @returns {Promise<string>}
   */
  sendFile(uri, file, onProgress = null) {
    const id = uuid();
    const path = [this.id, uri, id, file.name].map(encodeURIComponent).join('/');
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `${this.conn.httpBase}/webrtcgateway/filetransfer/${path}`);
      xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
      xhr.upload.onprogress = (e) => { if (onProgress && e.lengthComputable) onProgress(e.loaded / e.total); };
      xhr.onload = () => {
        if (xhr.status === 200) {
          if (onProgress) onProgress(1);
          resolve(id);
        } else {
          reject(new Error(`${xhr.status} ${xhr.responseText}`.trim()));
        }
      };
      xhr.onerror = () => reject(new Error('the upload failed'));
      xhr.send(file);
    });
  }

  /**
   * Deletes one message of the conversation with `contact`, on every device of the account
   * (they get a `sync` {type: message, action: remove}).
   * @param {string} contact
   * @param {string} messageId
   * @returns {Promise<any>}
   */
  removeMessage(contact, messageId) {
    return this.conn.request({ sylkrtc: 'account-remove-message', account: this.id, contact, message_id: messageId });
  }

  /**
   * Deletes the whole conversation with `contact`, on every device of the account.
   * @param {string} contact
   * @returns {Promise<any>}
   */
  removeConversation(contact) {
    return this.conn.request({ sylkrtc: 'account-remove-conversation', account: this.id, contact });
  }

  // Tells the sender a message was `delivered` or `displayed` (IMDN).
  sendDisposition(uri, messageId, timestamp, state) {
    return this.conn.request({
      sylkrtc: 'account-disposition-notification', account: this.id, uri,
      message_id: messageId, state, timestamp,
    });
  }

  markRead(contact) {
    return this.conn.request({ sylkrtc: 'account-mark-conversation-read', account: this.id, contact });
  }

  // The stored journal (all of it, or after `messageId`), oldest first.
  async sync(messageId = null) {
    const entries = new Promise(resolve => { (this.syncWaiters = this.syncWaiters || []).push(resolve); });
    await this.conn.request({ sylkrtc: 'account-sync-conversations', account: this.id, message_id: messageId });
    return entries;
  }

  // Calls `uri` sending `stream`; resolves once the gateway took the request.
  /**
   * Calls `uri` (a SIP address) with `stream`.
   * @param {string} uri
   * @param {MediaStream} stream
   * @returns {Promise<Call>}
   */
  async call(uri, stream) {
    const call = new Call(this, uuid(), { uri, display_name: null }, 'outgoing');
    this.conn.calls.set(call.id, call);
    await call._dial(uri, stream);
    return call;
  }

  /**
   * Joins `roomUri` publishing `stream`; resolves once the gateway accepted the session.
   * @param {string} roomUri the room, `name@domain`
   * @param {MediaStream} stream camera and/or microphone
   * @param {{simulcast?: boolean}} [options] simulcast: the camera in up to three layers
   *   (quarter, half and full resolution; the browser sends those its camera allows), so that
   *   the gateway can give each subscriber the one it has room for. On by default.
   * @returns {Promise<Room>}
   */
  async joinRoom(roomUri, stream, { simulcast = true } = {}) {
    const room = new Room(this, roomUri, stream, { simulcast });
    this.conn.rooms.set(room.id, room);
    await room._join();
    return room;
  }
}

// --- 1:1 calls --------------------------------------------------------------------------------
// Events: 'state' ({detail: {state, reason}}); states as the gateway sends them (progress,
// ringing, early-media, accepted, established, terminated); 'updateRequest' ({detail: {sdp}})
// when the far end renegotiates (answer with answerUpdate()); 'updateFailed' ({detail:
// {reason}}) when our addVideo()/hold() re-INVITE was refused. `remoteStream` holds the far
// end's media.
export class Call extends EventTarget {
  constructor(account, id, remote, direction, offer) {
    super();
    this.account = account;
    this.conn = account.conn;
    this.id = id;
    this.remote = remote; // {uri, display_name}
    this.direction = direction;
    this.offer = offer || null;
    this.state = direction === 'incoming' ? 'incoming' : null;
    this.remoteStream = new MediaStream();
    this.held = false;
  }

  _pc(stream) {
    const pc = this.pc = new RTCPeerConnection(this.conn.rtcConfiguration);
    pc.ontrack = (e) => { this.remoteStream.addTrack(e.track); this._emit(this.state, null); };
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    this.stream = stream;
    const queue = [];
    let open = false;
    const push = (c) => open
      ? this.conn.request({ sylkrtc: 'session-trickle', session: this.id, candidates: c }).catch(() => {})
      : queue.push(c);
    pc.onicecandidate = e => push(e.candidate && e.candidate.candidate ? [e.candidate.toJSON()] : []);
    return () => { open = true; for (const c of queue.splice(0)) push(c); };
  }

  _emit(state, reason) {
    this.dispatchEvent(new CustomEvent('state', { detail: { state, reason } }));
  }

  async _dial(uri, stream) {
    const release = this._pc(stream);
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await this.conn.request({ sylkrtc: 'session-create', session: this.id, account: this.account.id, uri, sdp: this.pc.localDescription.sdp });
    release();
  }

  /**
   * Answers an incoming call with `stream`.
   * @param {MediaStream} stream
   * @returns {Promise<void>}
   */
  async answer(stream) {
    const release = this._pc(stream);
    await this.pc.setRemoteDescription({ type: 'offer', sdp: this.offer });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await this.conn.request({ sylkrtc: 'session-answer', session: this.id, sdp: this.pc.localDescription.sdp });
    release();
  }

  /** Hangs up (or declines an incoming call). */
  terminate() {
    return this.conn.request({ sylkrtc: 'session-terminate', session: this.id });
  }

  // Hold (true) or resume (false) by re-INVITE.
  /**
   * @param {boolean} on hold (true) or resume (false), by re-INVITE
   * @returns {Promise<void>}
   */
  async hold(on) {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    const sdp = on ? offer.sdp.replace(/a=sendrecv/g, 'a=sendonly') : offer.sdp;
    await this.conn.request({ sylkrtc: 'session-update', session: this.id, sdp });
    this.held = on;
  }

  // Upgrades the call to video (upstream sylkrtc.js's Call.addVideo()): adds the camera
  // track of `stream` and renegotiates with `session-update`; the gateway re-INVITEs the far
  // end, and its answer arrives as `update {state: accepted}`.
  /**
   * @param {MediaStream} stream its video tracks are added to the call
   * @returns {Promise<void>}
   */
  async addVideo(stream) {
    for (const track of stream.getVideoTracks()) this.pc.addTrack(track, this.stream || stream);
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    await this.conn.request({ sylkrtc: 'session-update', session: this.id, sdp: offer.sdp });
  }

  /**
   * Shares the screen in a video call: the screen (`stream`, or one asked for with
   * getDisplayMedia) replaces the camera on the call's video, until `stopScreen()` or the
   * browser's own "stop sharing".
   * @param {MediaStream} [stream]
   * @returns {Promise<MediaStream>} the screen
   */
  async shareScreen(stream) {
    const sender = this.pc && this.pc.getSenders().find(s => s.track && s.track.kind === 'video');
    if (!sender) throw new Error('the call has no video to share the screen on');
    const screen = stream || await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = screen.getVideoTracks()[0];
    if (!this.screen) this.cameraTrack = sender.track;
    await sender.replaceTrack(track);
    this.screen = screen;
    track.addEventListener('ended', () => this.stopScreen().catch(() => {}));
    return screen;
  }

  /**
   * Puts the camera back on the call's video after `shareScreen()`.
   * @returns {Promise<void>}
   */
  async stopScreen() {
    if (!this.screen) return;
    const screen = this.screen;
    this.screen = null;
    const sender = this.pc.getSenders().find(s => s.track && s.track.kind === 'video');
    if (sender) await sender.replaceTrack(this.cameraTrack || null);
    for (const t of screen.getTracks()) t.stop();
  }

  // Answers the far end's re-INVITE (`update {state: received}`, the 'updateRequest' event):
  // camera tracks of `stream`, if given, go on the new video lines.
  /**
   * @param {MediaStream} [stream] its video goes on the video lines the far end added
   * @returns {Promise<void>}
   */
  async answerUpdate(stream) {
    const offer = this.pendingUpdate;
    if (!offer) throw new Error('no update to answer');
    this.pendingUpdate = null;
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    const video = stream ? stream.getVideoTracks()[0] : null;
    for (const t of this.pc.getTransceivers()) {
      if (video && t.receiver.track.kind === 'video' && !t.sender.track) {
        await t.sender.replaceTrack(video);
        t.direction = 'sendrecv';
      }
    }
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await this.conn.request({ sylkrtc: 'session-update', session: this.id, sdp: this.pc.localDescription.sdp });
  }

  /**
   * @param {string} tones DTMF digits, sent as SIP INFO
   */
  dtmf(tones) {
    return this.conn.request({ sylkrtc: 'session-dtmf-info', session: this.id, digit: tones });
  }

  // Mutes or unmutes the microphone.
  mute(on) {
    for (const t of this.stream ? this.stream.getAudioTracks() : []) t.enabled = !on;
  }

  // Turns the camera off (black frames) or on again.
  camera(on) {
    for (const t of this.stream ? this.stream.getVideoTracks() : []) t.enabled = on;
  }

  async _event(m) {
    if (m.event === 'update') {
      if (m.state === 'accepted' && m.sdp && this.pc) await this.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      if (m.state === 'received' && m.sdp) {
        this.pendingUpdate = m.sdp;
        this.dispatchEvent(new CustomEvent('updateRequest', { detail: { sdp: m.sdp } }));
      }
      if (m.state === 'failed' && this.pc) {
        await this.pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
        this.dispatchEvent(new CustomEvent('updateFailed', { detail: { reason: m.reason || null } }));
      }
      return;
    }
    if (m.event !== 'state') return;
    this.state = m.state;
    if (m.state === 'accepted' && m.sdp && this.direction === 'outgoing') {
      await this.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
    }
    if (m.state === 'terminated') {
      if (this.pc) this.pc.close();
      for (const t of this.stream ? this.stream.getTracks() : []) t.stop();
      this.conn.calls.delete(this.id);
    }
    this._emit(m.state, m.reason || null);
  }

  /**
   * The call's audio statistics: packets and bytes each way, packets lost, jitter and
   * round-trip time (seconds; rtt null until the far end reported), the codec received.
   * @returns {Promise<{packetsReceived: number, packetsSent: number, packetsLost: number, jitter: number, bytesReceived: number, bytesSent: number, rtt: number | null, codec: string | null}>}
   */
  async stats() {
    const o = { packetsReceived: 0, packetsSent: 0, packetsLost: 0, jitter: 0, bytesReceived: 0, bytesSent: 0, rtt: null, codec: null };
    if (!this.pc) return o;
    const report = await this.pc.getStats();
    report.forEach(r => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        o.packetsReceived = r.packetsReceived;
        o.packetsLost = r.packetsLost || 0;
        o.jitter = r.jitter || 0;
        o.bytesReceived = r.bytesReceived || 0;
        const codec = r.codecId && report.get(r.codecId);
        if (codec) o.codec = codec.mimeType.replace(/^audio\//, '');
      }
      if (r.type === 'outbound-rtp' && r.kind === 'audio') {
        o.packetsSent = r.packetsSent;
        o.bytesSent = r.bytesSent || 0;
      }
      if (r.type === 'remote-inbound-rtp' && r.kind === 'audio' && r.roundTripTime !== undefined) o.rtt = r.roundTripTime;
      if (r.type === 'candidate-pair' && r.nominated && o.rtt === null && r.currentRoundTripTime !== undefined) o.rtt = r.currentRoundTripTime;
    });
    return o;
  }

}

// --- video rooms ------------------------------------------------------------------------------
// The simulcast layers of a camera (rid, fraction of the resolution, most bits/s each).
const SIMULCAST_LAYERS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500000 },
  { rid: 'f', maxBitrate: 1500000 },
];
// Events: 'state' (session-state), 'participants' (the list changed or a feed got media),
// 'message' (chat: {sender, content, timestamp, type}), 'hands' ({detail: [publisher ids]}),
// 'muted' (mute-audio from a participant), 'active' ({detail: [publisher ids]}: the active
// speakers), 'files' ({detail: [{filename, filesize, uploader, session}]}: all shared files),
// 'levels' (audio levels changed: each participant's `level`, 0-255). A participant's `muted`
// follows publisher-updated (its 'participants' event).
export class Room extends EventTarget {
  constructor(account, uri, stream, { simulcast = true } = {}) {
    super();
    this.account = account;
    this.conn = account.conn;
    this.uri = uri;
    this.stream = stream;
    this.simulcast = simulcast;
    this.id = uuid();
    this.state = null;
    // publisher id -> {id, uri, displayName, type, muted, level, feed, pc, stream}
    this.participants = new Map();
    this.hands = [];
    this.messages = [];
    this.active = [];
    this.files = [];
  }

  _trickler(session, method) {
    const queue = [];
    let open = false;
    const push = (c) => open
      ? this.conn.request({ sylkrtc: method, session, candidates: c }).catch(() => {})
      : queue.push(c);
    return { push, release: () => { open = true; for (const c of queue.splice(0)) push(c); } };
  }

  async _join() {
    const pc = this.pc = new RTCPeerConnection(this.conn.rtcConfiguration);
    for (const track of this.stream.getTracks()) {
      const init = { direction: 'sendonly', streams: [this.stream] };
      if (this.simulcast && track.kind === 'video') init.sendEncodings = SIMULCAST_LAYERS.map(l => Object.assign({}, l));
      pc.addTransceiver(track, init);
    }
    const t = this._trickler(this.id, 'videoroom-session-trickle');
    pc.onicecandidate = e => t.push(e.candidate && e.candidate.candidate ? [e.candidate.toJSON()] : []);
    await pc.setLocalDescription(await pc.createOffer());
    await this.conn.request({
      sylkrtc: 'videoroom-join', session: this.id, account: this.account.id, uri: this.uri,
      sdp: pc.localDescription.sdp,
    });
    t.release();
  }

  _emit(name, detail) { this.dispatchEvent(new CustomEvent(name, { detail })); }

  async _event(m) {
    if (m.session !== this.id) return;
    switch (m.event) {
      case 'session-state':
        this.state = m.state;
        if (m.state === 'accepted' && m.sdp) await this.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
        this._emit('state', m.state);
        break;
      case 'initial-publishers':
      case 'publishers-joined':
        for (const p of m.publishers || []) this._attach(p);
        break;
      case 'publishers-left':
        for (const id of m.publishers || []) {
          const p = this.participants.get(id);
          if (p && p.pc) p.pc.close();
          this.participants.delete(id);
        }
        this._emit('participants', this.participants);
        break;
      case 'feed-attached':
        await this._feedAttached(m);
        break;
      case 'message':
        this.messages.push(m);
        this._emit('message', m);
        break;
      case 'raised-hands':
        this.hands = m.raised_hands || [];
        this._emit('hands', this.hands);
        break;
      case 'mute-audio':
        this._emit('muted', m);
        break;
      case 'publisher-updated': {
        // Appendix A: a participant's microphone went silent, or was heard again.
        const p = this.participants.get(m.publisher);
        if (p) { p.muted = !!m.muted; this._emit('participants', this.participants); }
        break;
      }
      case 'conference-audio-levels':
        // Appendix A: who speaks (0-255); the client reads rx_peak, else rx.
        for (const l of m.levels || []) {
          const p = this.participants.get(l.participant_id);
          if (p) p.level = l.rx_peak ?? l.rx ?? 0;
        }
        this._emit('levels', this.participants);
        break;
      case 'configure':
        this.active = m.active_participants || [];
        this._emit('active', this.active);
        break;
      case 'file-sharing':
        for (const f of m.files || []) if (!this.files.some(x => x.filename === f.filename)) this.files.push(f);
        this._emit('files', this.files);
        break;
      default:
        break;
    }
  }

  _attach(p) {
    // Our own sessions (this one, or our screen share in the same room) are not fed back.
    if (p.id === this.id || this.participants.has(p.id) || this.conn.rooms.has(p.id)) return;
    const feed = uuid();
    this.participants.set(p.id, {
      id: p.id, uri: p.uri, displayName: p.display_name || p.uri, type: p.type || 'webrtc',
      muted: !!p.muted, level: 0, feed, pc: null, stream: null,
    });
    this._emit('participants', this.participants);
    this.conn.request({ sylkrtc: 'videoroom-feed-attach', session: this.id, publisher: p.id, feed }).catch(() => {});
  }

  async _feedAttached(m) {
    const p = [...this.participants.values()].find(x => x.feed === m.feed);
    if (!p) return;
    const pc = p.pc = new RTCPeerConnection(this.conn.rtcConfiguration);
    p.stream = new MediaStream();
    pc.ontrack = (e) => { p.stream.addTrack(e.track); this._emit('participants', this.participants); };
    const t = this._trickler(m.feed, 'videoroom-session-trickle');
    pc.onicecandidate = e => t.push(e.candidate && e.candidate.candidate ? [e.candidate.toJSON()] : []);
    await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await this.conn.request({ sylkrtc: 'videoroom-feed-answer', session: this.id, feed: m.feed, sdp: pc.localDescription.sdp });
    t.release();
  }

  sendMessage(content) {
    return this.conn.request({
      sylkrtc: 'videoroom-message', session: this.id, message_id: uuid(), content,
      content_type: 'text/plain',
    });
  }

  toggleHand() {
    return this.conn.request({ sylkrtc: 'videoroom-toggle-hand', session: this.id });
  }

  muteEveryone() {
    return this.conn.request({ sylkrtc: 'videoroom-mute-audio-participants', session: this.id });
  }

  // Shares `file` (a File or Blob with a name) with the room; 'files' follows.
  async shareFile(file, name = file.name) {
    const r = await fetch(this.fileUrl(name), { method: 'POST', body: file });
    if (!r.ok) throw new Error(`upload failed: ${r.status} ${await r.text()}`);
  }

  // Where a shared file is downloaded from (as this participant).
  fileUrl(name) {
    const parts = [this.uri, this.id, name].map(encodeURIComponent).join('/');
    return `${this.conn.httpBase}/webrtcgateway/filesharing/${parts}`;
  }

  // Marks at most two participants (publisher ids) as the active speakers, for everyone.
  configure(activeParticipants) {
    return this.conn.request({ sylkrtc: 'videoroom-configure', session: this.id, active_participants: activeParticipants });
  }

  // Asks for another quality of a feed (or our publication): {audio, video, bitrate}.
  update(sessionOrFeed, options) {
    return this.conn.request({ sylkrtc: 'videoroom-session-update', session: sessionOrFeed, options });
  }

  invite(uris) {
    return this.conn.request({ sylkrtc: 'videoroom-invite', session: this.id, participants: uris });
  }

  /**
   * Shares the screen (or a window) into the room: a second publisher session of the same
   * account, without simulcast. Resolves with that session's `Room`; `leave()` it (or end the
   * capture in the browser) to stop.
   * @param {MediaStream} [stream] a capture already made; else `getDisplayMedia` is asked
   * @returns {Promise<Room>}
   */
  async shareScreen(stream) {
    const screen = stream || await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const share = await this.account.joinRoom(this.uri, screen, { simulcast: false });
    share.screen = true;
    for (const t of screen.getVideoTracks()) t.addEventListener('ended', () => share.leave().catch(() => {}));
    return share;
  }

  async leave() {
    for (const t of this.screen ? this.stream.getTracks() : []) t.stop();
    for (const p of this.participants.values()) if (p.pc) p.pc.close();
    this.pc.close();
    this.conn.rooms.delete(this.id);
    await this.conn.request({ sylkrtc: 'videoroom-leave', session: this.id }).catch(() => {});
  }
}
