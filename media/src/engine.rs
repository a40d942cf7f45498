//! The media engine: one task that owns the UDP socket shared by every browser and every peer.
//!
//! Run loop: wait for a datagram, a command or the earliest peer timeout -> feed it to its
//! peer -> drain that peer's outputs (datagrams to send, state events, received RTP/RTCP) ->
//! forward received RTP to the publisher's subscribers and drain those. Datagrams are routed by
//! 5-tuple, and a new 5-tuple by the local ICE ufrag in the STUN USERNAME.
//!
//! Channel policies: commands arrive on a bounded channel (callers wait when it is full);
//! events to the application are `try_send` (a full channel drops the event and logs, the
//! engine never blocks); outgoing datagrams use `try_send_to` (a full socket buffer drops
//! media, as the network would).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::RTCRtpReceiverId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::munger::Munger;
use crate::peer::{Kind, Peer};
use crate::{stun, vp8, MediaError};

/// Identifies a peer (a publisher's or a subscriber's transport).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

/// What the engine tells the application about a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// ICE and DTLS are up (the protocol's `established`).
    Connected,
    /// The peer is gone: consent expired, DTLS closed or failed. Already removed.
    Closed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaEvent {
    pub peer: PeerId,
    pub event: PeerEvent,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where the shared UDP socket binds (port 0: any free port).
    pub bind: SocketAddr,
    /// Addresses put in our ICE candidates (with the bound port).
    pub advertise: Vec<IpAddr>,
    /// A connected peer from which no STUN consent check arrived for this long is closed.
    pub consent_timeout: Duration,
}

/// What a subscriber gets forwarded.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForwardOptions {
    pub audio: Option<bool>,
    pub video: Option<bool>,
}

enum Command {
    Publish {
        id: PeerId,
        offer: String,
        events: mpsc::Sender<MediaEvent>,
        reply: oneshot::Sender<Result<String, MediaError>>,
    },
    Subscribe {
        id: PeerId,
        publisher: PeerId,
        audio: bool,
        video: bool,
        events: mpsc::Sender<MediaEvent>,
        reply: oneshot::Sender<Result<String, MediaError>>,
    },
    Answer {
        id: PeerId,
        sdp: String,
        reply: oneshot::Sender<Result<(), MediaError>>,
    },
    Candidate {
        id: PeerId,
        candidate: String,
        mid: Option<String>,
        index: Option<u16>,
    },
    Forward {
        id: PeerId,
        options: ForwardOptions,
    },
    Close {
        id: PeerId,
    },
    Stats {
        reply: oneshot::Sender<EngineStats>,
    },
}

/// Counters, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub peers: usize,
    pub datagrams_in: u64,
    pub datagrams_dropped: u64,
    pub rtp_forwarded: u64,
    pub keyframe_requests: u64,
}

/// The application's handle on the engine task.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Command>,
    local_addr: SocketAddr,
    ids: Arc<AtomicU64>,
}

impl EngineHandle {
    /// The bound media socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn new_peer_id(&self) -> PeerId {
        PeerId(self.ids.fetch_add(1, Ordering::Relaxed))
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, MediaError>>) -> Command,
    ) -> Result<T, MediaError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| MediaError::EngineGone)?;
        rx.await.map_err(|_| MediaError::EngineGone)?
    }

    /// Answers a browser's publish offer; returns the SDP answer.
    pub async fn publish(
        &self,
        id: PeerId,
        offer: String,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<String, MediaError> {
        self.call(|reply| Command::Publish {
            id,
            offer,
            events,
            reply,
        })
        .await
    }

    /// Creates a subscription to `publisher`; returns the SDP offer for the browser.
    pub async fn subscribe(
        &self,
        id: PeerId,
        publisher: PeerId,
        audio: bool,
        video: bool,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<String, MediaError> {
        self.call(|reply| Command::Subscribe {
            id,
            publisher,
            audio,
            video,
            events,
            reply,
        })
        .await
    }

    /// The browser's answer to a subscription offer.
    pub async fn answer(&self, id: PeerId, sdp: String) -> Result<(), MediaError> {
        self.call(|reply| Command::Answer { id, sdp, reply }).await
    }

    pub async fn candidate(
        &self,
        id: PeerId,
        candidate: String,
        mid: Option<String>,
        index: Option<u16>,
    ) {
        let _ = self
            .tx
            .send(Command::Candidate {
                id,
                candidate,
                mid,
                index,
            })
            .await;
    }

    pub async fn forward(&self, id: PeerId, options: ForwardOptions) {
        let _ = self.tx.send(Command::Forward { id, options }).await;
    }

    pub async fn close(&self, id: PeerId) {
        let _ = self.tx.send(Command::Close { id }).await;
    }

    pub async fn stats(&self) -> Option<EngineStats> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Stats { reply }).await.ok()?;
        rx.await.ok()
    }
}

/// Binds the socket and starts the engine task.
pub async fn start(config: EngineConfig) -> std::io::Result<EngineHandle> {
    let socket = UdpSocket::bind(config.bind).await?;
    let local_addr = socket.local_addr()?;
    let candidates = config
        .advertise
        .iter()
        .map(|ip| SocketAddr::new(*ip, local_addr.port()))
        .collect();
    let (tx, rx) = mpsc::channel(1024);
    let engine = Engine {
        socket,
        local_addr,
        candidates,
        consent_timeout: config.consent_timeout,
        peers: HashMap::new(),
        by_ufrag: HashMap::new(),
        by_addr: HashMap::new(),
        stats: EngineStats::default(),
        scratch: Vec::new(),
    };
    tokio::spawn(engine.run(rx));
    Ok(EngineHandle {
        tx,
        local_addr,
        ids: Arc::new(AtomicU64::new(1)),
    })
}

/// Per-kind forwarding state of one subscription.
#[derive(Debug, Default)]
struct Forward {
    paused: bool,
    munger: Munger,
    /// Video only: drop until a keyframe starts (a new subscriber, or after a pause).
    need_keyframe: bool,
}

enum Role {
    Publisher {
        subscribers: Vec<PeerId>,
        video: Option<(RTCRtpReceiverId, u32)>,
        last_keyframe_request: Option<Instant>,
    },
    Subscriber {
        publisher: PeerId,
        audio: Forward,
        video: Forward,
    },
}

struct Entry {
    peer: Peer,
    role: Role,
    events: mpsc::Sender<MediaEvent>,
    connected: bool,
    last_consent: Instant,
    addrs: Vec<SocketAddr>,
    timeout: Option<Instant>,
}

struct Engine {
    socket: UdpSocket,
    local_addr: SocketAddr,
    candidates: Vec<SocketAddr>,
    consent_timeout: Duration,
    peers: HashMap<PeerId, Entry>,
    by_ufrag: HashMap<String, PeerId>,
    by_addr: HashMap<SocketAddr, PeerId>,
    stats: EngineStats,
    /// Reused buffer of RTP read from one publisher (no allocation per batch).
    scratch: Vec<(Kind, rtc::rtp::Packet)>,
}

/// How long to wait between keyframe requests to one publisher.
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);
const CONSENT_CHECK_PERIOD: Duration = Duration::from_millis(500);

impl Engine {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        info!(addr = %self.local_addr, "media engine listening");
        let mut buf = vec![0u8; 2048];
        let mut next_consent_check = Instant::now() + CONSENT_CHECK_PERIOD;
        loop {
            let wake = self
                .peers
                .values()
                .filter_map(|e| e.timeout)
                .min()
                .map_or(next_consent_check, |t| t.min(next_consent_check));
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                res = self.socket.recv_from(&mut buf) => match res {
                    Ok((n, from)) => self.datagram(&buf[..n], from),
                    Err(e) => debug!(error = %e, "media socket receive error"),
                },
                _ = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    let due: Vec<PeerId> = self
                        .peers
                        .iter()
                        .filter(|(_, e)| e.timeout.is_some_and(|t| t <= now))
                        .map(|(id, _)| *id)
                        .collect();
                    for id in due {
                        if let Some(e) = self.peers.get_mut(&id) {
                            if let Err(err) = e.peer.pc.handle_timeout(now) {
                                debug!(peer = id.0, error = %err, "timeout handling failed");
                            }
                        }
                        self.drain(id);
                    }
                    if now >= next_consent_check {
                        self.check_consent(now);
                        next_consent_check = now + CONSENT_CHECK_PERIOD;
                    }
                }
            }
        }
        info!("media engine stopped");
    }

    fn command(&mut self, cmd: Command) {
        let now = Instant::now();
        match cmd {
            Command::Publish {
                id,
                offer,
                events,
                reply,
            } => {
                let result = Peer::publisher(&offer, &self.candidates, now).map(|(peer, sdp)| {
                    let role = Role::Publisher {
                        subscribers: Vec::new(),
                        video: None,
                        last_keyframe_request: None,
                    };
                    self.insert(id, peer, role, events, now);
                    sdp
                });
                let _ = reply.send(result);
                self.drain(id);
            }
            Command::Subscribe {
                id,
                publisher,
                audio,
                video,
                events,
                reply,
            } => {
                let result = match self.peers.get_mut(&publisher) {
                    Some(Entry {
                        role: Role::Publisher { subscribers, .. },
                        ..
                    }) => {
                        subscribers.push(id);
                        Peer::subscriber(&self.candidates, audio, video, now)
                    }
                    _ => Err(MediaError::UnknownPeer),
                };
                let result = result.map(|(peer, sdp)| {
                    let role = Role::Subscriber {
                        publisher,
                        audio: Forward::default(),
                        video: Forward {
                            need_keyframe: true,
                            ..Forward::default()
                        },
                    };
                    self.insert(id, peer, role, events, now);
                    sdp
                });
                if result.is_err() {
                    self.unlink_subscriber(publisher, id);
                }
                let _ = reply.send(result);
                self.drain(id);
            }
            Command::Answer { id, sdp, reply } => {
                let result = match self.peers.get_mut(&id) {
                    Some(e) => e.peer.set_answer(&sdp, now),
                    None => Err(MediaError::UnknownPeer),
                };
                let _ = reply.send(result);
                self.drain(id);
            }
            Command::Candidate {
                id,
                candidate,
                mid,
                index,
            } => {
                if let Some(e) = self.peers.get_mut(&id) {
                    e.peer.add_remote_candidate(&candidate, mid, index);
                }
                self.drain(id);
            }
            Command::Forward { id, options } => {
                let mut resume_video = false;
                if let Some(Entry {
                    role: Role::Subscriber { audio, video, .. },
                    ..
                }) = self.peers.get_mut(&id)
                {
                    if let Some(on) = options.audio {
                        if audio.paused && on {
                            audio.munger.switch();
                        }
                        audio.paused = !on;
                    }
                    if let Some(on) = options.video {
                        if video.paused && on {
                            video.munger.switch();
                            video.need_keyframe = true;
                            resume_video = true;
                        }
                        video.paused = !on;
                    }
                }
                if resume_video {
                    self.request_keyframe_for(id, now);
                }
            }
            Command::Close { id } => self.remove(id, None),
            Command::Stats { reply } => {
                let mut s = self.stats;
                s.peers = self.peers.len();
                let _ = reply.send(s);
            }
        }
    }

    fn insert(
        &mut self,
        id: PeerId,
        peer: Peer,
        role: Role,
        events: mpsc::Sender<MediaEvent>,
        now: Instant,
    ) {
        self.by_ufrag.insert(peer.ice.ufrag.clone(), id);
        self.peers.insert(
            id,
            Entry {
                peer,
                role,
                events,
                connected: false,
                last_consent: now,
                addrs: Vec::new(),
                timeout: None,
            },
        );
    }

    /// Removes a peer; `reason` set means the application is told it closed.
    fn remove(&mut self, id: PeerId, reason: Option<String>) {
        let Some(mut entry) = self.peers.remove(&id) else {
            return;
        };
        let _ = entry.peer.pc.close();
        while let Some(out) = entry.peer.pc.poll_write() {
            let _ = self
                .socket
                .try_send_to(&out.message, out.transport.peer_addr);
        }
        self.by_ufrag.remove(&entry.peer.ice.ufrag);
        for addr in &entry.addrs {
            self.by_addr.remove(addr);
        }
        match entry.role {
            Role::Subscriber { publisher, .. } => self.unlink_subscriber(publisher, id),
            Role::Publisher { .. } => {}
        }
        debug!(peer = id.0, "peer removed");
        if let Some(reason) = reason {
            notify(&entry.events, id, PeerEvent::Closed(reason));
        }
    }

    fn unlink_subscriber(&mut self, publisher: PeerId, id: PeerId) {
        if let Some(Entry {
            role: Role::Publisher { subscribers, .. },
            ..
        }) = self.peers.get_mut(&publisher)
        {
            subscribers.retain(|s| *s != id);
        }
    }

    fn datagram(&mut self, data: &[u8], from: SocketAddr) {
        self.stats.datagrams_in += 1;
        let is_stun = stun::classify(data) == stun::Class::Stun;
        let id = match self.by_addr.get(&from) {
            Some(id) => *id,
            None => {
                let found = if is_stun {
                    stun::local_ufrag(data).and_then(|u| self.by_ufrag.get(u).copied())
                } else {
                    None
                };
                let Some(id) = found else {
                    self.stats.datagrams_dropped += 1;
                    return;
                };
                self.by_addr.insert(from, id);
                if let Some(e) = self.peers.get_mut(&id) {
                    e.addrs.push(from);
                }
                id
            }
        };
        let now = Instant::now();
        let Some(entry) = self.peers.get_mut(&id) else {
            self.by_addr.remove(&from);
            self.stats.datagrams_dropped += 1;
            return;
        };
        if is_stun {
            entry.last_consent = now;
        }
        let msg = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: self.local_addr,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(data),
        };
        if let Err(e) = entry.peer.pc.handle_read(msg) {
            self.stats.datagrams_dropped += 1;
            debug!(peer = id.0, error = %e, "datagram rejected");
        }
        self.drain(id);
    }

    /// Handles everything a peer has to say: datagrams out, state changes, media in.
    fn drain(&mut self, id: PeerId) {
        let now = Instant::now();
        let mut rtp = std::mem::take(&mut self.scratch);
        let mut keyframe_wanted = false;
        let mut state_change = None;
        {
            let Some(entry) = self.peers.get_mut(&id) else {
                self.scratch = rtp;
                return;
            };
            let pc = &mut entry.peer.pc;
            while let Some(out) = pc.poll_write() {
                if self
                    .socket
                    .try_send_to(&out.message, out.transport.peer_addr)
                    .is_err()
                {
                    self.stats.datagrams_dropped += 1;
                }
            }
            while let Some(event) = pc.poll_event() {
                match event {
                    RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                        debug!(peer = id.0, %state, "peer connection state");
                        match state {
                            RTCPeerConnectionState::Connected => state_change = Some(true),
                            RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                                state_change = Some(false)
                            }
                            _ => {}
                        }
                    }
                    RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                        let kind = pc
                            .rtp_receiver(init.receiver_id)
                            .map(|r| Kind::from(r.track().kind()))
                            .unwrap_or(Kind::Audio);
                        if let (Kind::Video, Role::Publisher { video, .. }) =
                            (kind, &mut entry.role)
                        {
                            if video.is_none() {
                                *video = Some((init.receiver_id, init.ssrc));
                            }
                        }
                        entry.peer.in_tracks.insert(
                            init.track_id.to_string(),
                            crate::peer::InTrack {
                                receiver: init.receiver_id,
                                kind,
                                ssrc: init.ssrc,
                                rid: init.rid.map(|r| r.to_string()),
                            },
                        );
                    }
                    _ => {}
                }
            }
            while let Some(TaggedRTCMessage { message, .. }) = pc.poll_read() {
                match message {
                    RTCMessage::RtpPacket(track_id, packet) => {
                        if let Some(t) = entry.peer.in_tracks.get(track_id.as_str()) {
                            rtp.push((t.kind, packet));
                        }
                    }
                    RTCMessage::RtcpPacket(_, packets) => {
                        keyframe_wanted |= packets.iter().any(|p| {
                            p.as_any().is::<PictureLossIndication>()
                                || p.as_any().is::<FullIntraRequest>()
                        });
                    }
                    _ => {}
                }
            }
            entry.timeout = pc.poll_timeout();
            if let Some(up) = state_change {
                if up && !entry.connected {
                    entry.connected = true;
                    entry.last_consent = now;
                    notify(&entry.events, id, PeerEvent::Connected);
                }
            }
        }
        match state_change {
            Some(false) => {
                self.scratch = rtp;
                self.scratch.clear();
                self.remove(id, Some("connection closed".into()));
                return;
            }
            Some(true) => {
                // A new subscriber needs a keyframe at once.
                if matches!(
                    self.peers.get(&id).map(|e| &e.role),
                    Some(Role::Subscriber { .. })
                ) {
                    self.request_keyframe_for(id, now);
                }
            }
            None => {}
        }
        if keyframe_wanted {
            self.request_keyframe_for(id, now);
        }
        for (kind, packet) in rtp.drain(..) {
            self.forward(id, kind, &packet, now);
        }
        self.scratch = rtp;
    }

    /// A subscriber wants a keyframe: ask its publisher (coalesced).
    fn request_keyframe_for(&mut self, subscriber: PeerId, now: Instant) {
        let publisher = match self.peers.get(&subscriber).map(|e| &e.role) {
            Some(Role::Subscriber { publisher, .. }) => *publisher,
            Some(Role::Publisher { .. }) => subscriber,
            None => return,
        };
        self.request_keyframe(publisher, now);
    }

    fn request_keyframe(&mut self, publisher: PeerId, now: Instant) {
        let Some(Entry {
            peer,
            role:
                Role::Publisher {
                    video: Some((receiver, ssrc)),
                    last_keyframe_request,
                    ..
                },
            ..
        }) = self.peers.get_mut(&publisher)
        else {
            return;
        };
        if last_keyframe_request.is_some_and(|t| now.duration_since(t) < KEYFRAME_REQUEST_INTERVAL)
        {
            return;
        }
        *last_keyframe_request = Some(now);
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: *ssrc,
        };
        if let Some(mut r) = peer.pc.rtp_receiver(*receiver) {
            if let Err(e) = r.write_rtcp(now, vec![Box::new(pli)]) {
                debug!(peer = publisher.0, error = %e, "PLI not sent");
                return;
            }
        }
        self.stats.keyframe_requests += 1;
        self.drain(publisher);
    }

    /// Sends one packet of `publisher` to each of its subscribers.
    fn forward(&mut self, publisher: PeerId, kind: Kind, packet: &rtc::rtp::Packet, now: Instant) {
        let count = match self.peers.get(&publisher) {
            Some(Entry {
                role: Role::Publisher { subscribers, .. },
                ..
            }) => subscribers.len(),
            _ => return,
        };
        let mut wants_keyframe = false;
        for i in 0..count {
            let Some(Entry {
                role: Role::Publisher { subscribers, .. },
                ..
            }) = self.peers.get(&publisher)
            else {
                return;
            };
            let Some(&sid) = subscribers.get(i) else {
                break;
            };
            let Some(entry) = self.peers.get_mut(&sid) else {
                continue;
            };
            if !entry.connected {
                continue;
            }
            let Some(track) = entry.peer.out_track(kind) else {
                continue;
            };
            let Role::Subscriber { audio, video, .. } = &mut entry.role else {
                continue;
            };
            let fwd = match kind {
                Kind::Audio => audio,
                Kind::Video => video,
            };
            if fwd.paused {
                continue;
            }
            if kind == Kind::Video && fwd.need_keyframe {
                if !vp8::starts_keyframe(&packet.payload) {
                    wants_keyframe = true;
                    continue;
                }
                fwd.need_keyframe = false;
                fwd.munger.switch();
            }
            let ts_step = if kind == Kind::Video { 3000 } else { 960 };
            let Some((seq, ts)) = fwd.munger.map(
                packet.header.sequence_number,
                packet.header.timestamp,
                ts_step,
            ) else {
                continue;
            };
            let out = rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    marker: packet.header.marker,
                    payload_type: track.payload_type,
                    sequence_number: seq,
                    timestamp: ts,
                    ssrc: track.ssrc,
                    ..Default::default()
                },
                payload: packet.payload.clone(),
            };
            match entry.peer.pc.rtp_sender(track.sender) {
                Some(mut sender) => {
                    if let Err(e) = sender.write_rtp(now, out) {
                        debug!(peer = sid.0, error = %e, "forward failed");
                        continue;
                    }
                }
                None => continue,
            }
            self.stats.rtp_forwarded += 1;
            self.flush(sid);
        }
        if wants_keyframe {
            self.request_keyframe(publisher, now);
        }
    }

    /// Sends what a peer has queued (after a forwarded packet).
    fn flush(&mut self, id: PeerId) {
        let Some(entry) = self.peers.get_mut(&id) else {
            return;
        };
        while let Some(out) = entry.peer.pc.poll_write() {
            if self
                .socket
                .try_send_to(&out.message, out.transport.peer_addr)
                .is_err()
            {
                self.stats.datagrams_dropped += 1;
            }
        }
        entry.timeout = entry.peer.pc.poll_timeout();
    }

    fn check_consent(&mut self, now: Instant) {
        let expired: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, e)| now.duration_since(e.last_consent) > self.consent_timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let connected = self.peers.get(&id).is_some_and(|e| e.connected);
            warn!(
                peer = id.0,
                connected, "no ICE consent check within the timeout, closing"
            );
            self.remove(id, Some("ICE consent expired".into()));
        }
    }
}

fn notify(events: &mpsc::Sender<MediaEvent>, peer: PeerId, event: PeerEvent) {
    if let Err(e) = events.try_send(MediaEvent { peer, event }) {
        warn!(peer = peer.0, error = %e, "media event not delivered");
    }
}
