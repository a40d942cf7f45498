//! The SFU core, without IO: every peer, the routing of datagrams to them, and the forwarding
//! of each publisher's media to its subscribers. It is driven by `handle_*` calls that take
//! `now` and a [`Transmit`] sink for the datagrams to send; [`crate::engine`] is the thin
//! tokio shell that owns the socket, and the benches and loss tests drive it in memory.
//!
//! Datagrams are routed by 5-tuple, and a new 5-tuple by the local ICE ufrag in the STUN
//! USERNAME. After any input the affected peer is drained: datagrams out, state events,
//! received RTP (forwarded at once to each subscriber, then each subscriber is flushed) and
//! RTCP (keyframe requests go upstream, coalesced).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp_transceiver::RTCRtpReceiverId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::engine::{EngineStats, ForwardOptions, MediaEvent, PeerEvent, PeerId};
use crate::layers::{self, Layer, LAYER_WINDOW};
use crate::munger::Munger;
use crate::peer::{InTrack, Kind, Peer, SrtpPolicy};
use crate::plain::PlainLeg;
use crate::sdp_plain::Offered;
use crate::{stun, vp8, MediaError};

mod calls;
mod fast;

use fast::{Clock, Fast, FastOut};

/// Where the core's datagrams go.
pub trait Transmit {
    /// Sends one datagram from the local socket `from` (the shared WebRTC socket, or a plain
    /// RTP leg's); a failure is counted, never fatal (media may be dropped).
    fn send(&mut self, from: SocketAddr, to: SocketAddr, data: &[u8]) -> bool;
}

impl<F: FnMut(SocketAddr, SocketAddr, &[u8]) -> bool> Transmit for F {
    fn send(&mut self, from: SocketAddr, to: SocketAddr, data: &[u8]) -> bool {
        self(from, to, data)
    }
}

/// A plain leg to be: (kind, socket address, advertised address).
pub type Leg = (Kind, SocketAddr, SocketAddr);

/// Remote addresses one peer may be reached from at once (ICE may try a few candidate
/// pairs); a new one beyond it replaces the oldest.
const MAX_ADDRS_PER_PEER: usize = 8;

/// What a subscriber's NACKs may make the SFU send again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtxLimits {
    /// Packets sent again for one RTCP datagram (however many NACKs it carries).
    pub per_datagram: usize,
    /// Packets sent again to one subscriber per second.
    pub per_second: u32,
}

impl Default for RtxLimits {
    fn default() -> Self {
        RtxLimits {
            per_datagram: 128,
            per_second: 200,
        }
    }
}

/// A subscriber's retransmissions in the current one-second window.
#[derive(Debug, Default)]
struct RtxBudget {
    window: Option<Instant>,
    sent: u32,
}

impl RtxBudget {
    /// Takes one retransmission at `now` if the window has room.
    fn take(&mut self, now: Instant, per_second: u32) -> bool {
        if self
            .window
            .is_none_or(|w| now.saturating_duration_since(w) >= Duration::from_secs(1))
        {
            self.window = Some(now);
            self.sent = 0;
        }
        if self.sent >= per_second {
            return false;
        }
        self.sent += 1;
        true
    }
}

/// How long to wait between keyframe requests to one publisher.
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);
/// How often ICE consent is checked.
pub const CONSENT_CHECK_PERIOD: Duration = Duration::from_millis(500);

/// Per-kind forwarding state of one subscription.
#[derive(Debug, Default)]
struct Forward {
    paused: bool,
    munger: Munger,
    /// Video only: drop until a keyframe starts (a new subscriber, or after a pause).
    need_keyframe: bool,
    /// Video only: the simulcast layer (SSRC) forwarded now, and the one chosen next.
    current: Option<u32>,
    target: Option<u32>,
    /// Video only: the bitrate the subscriber asked for, and its browser's estimate (REMB).
    requested: Option<u64>,
    remb: Option<u64>,
    /// How the layer follows the request and the estimate.
    adaptation: Box<layers::Adaptation>,
}

enum Role {
    Publisher {
        subscribers: Vec<PeerId>,
        video_receiver: Option<RTCRtpReceiverId>,
        /// Video SSRCs (one, or one per simulcast layer).
        layers: Vec<Layer>,
    },
    Subscriber {
        publisher: PeerId,
        audio: Forward,
        video: Forward,
    },
    /// A 1:1 call: the browser's media is bridged to plain RTP legs toward a SIP endpoint.
    Bridged { legs: Vec<PlainLeg> },
}

struct Entry {
    peer: Peer,
    role: Role,
    events: mpsc::Sender<MediaEvent>,
    connected: bool,
    last_consent: Instant,
    addrs: Vec<SocketAddr>,
    timeout: Option<Instant>,
    /// Subscribers and bridged calls: the allocation-free send path of media to the browser.
    fast: Fast,
    /// Where `rtc` last sent DTLS or SRTP to (the selected candidate pair's remote side).
    media_addr: Option<SocketAddr>,
    /// Subscribers: what their NACKs may still make us send again this second.
    rtx_budget: RtxBudget,
}

pub struct Sfu {
    local_addr: SocketAddr,
    candidates: Vec<SocketAddr>,
    consent_timeout: Duration,
    srtp: SrtpPolicy,
    peers: HashMap<PeerId, Entry>,
    by_ufrag: HashMap<String, PeerId>,
    by_addr: HashMap<SocketAddr, PeerId>,
    stats: EngineStats,
    /// Reused buffer of RTP read from one publisher (no allocation per batch).
    scratch: Vec<(Kind, rtc::rtp::Packet)>,
    next_consent_check: Option<Instant>,
    next_layer_tick: Option<Instant>,
    /// Calls whose plain offer went out and whose answer has not come yet.
    pending_calls: HashMap<PeerId, (String, Vec<Offered>)>,
    /// Incoming calls offered to the browser: the SIP offer and the legs bound for it.
    pending_incoming: HashMap<PeerId, (String, Vec<Leg>)>,
    /// Plain RTP leg sockets (local address) -> their call.
    by_plain: HashMap<SocketAddr, PeerId>,
    /// Reused buffer for plain RTP/RTCP and forwarded SRTP out (no allocation per packet).
    out_buf: Vec<u8>,
    /// Wall-clock time of sender reports.
    clock: Clock,
    /// The peer whose work is under way: a panic there ends that peer only
    /// ([`Sfu::recover`]).
    current: Option<PeerId>,
    /// Computes STUN MESSAGE-INTEGRITY.
    crypto: std::sync::Arc<dyn rtc::crypto::RTCCryptoProvider>,
    rtx_limits: RtxLimits,
    /// Testing aid: forwarding a payload that starts with these bytes panics.
    panic_payload: Option<Vec<u8>>,
}

impl Sfu {
    /// `local_addr`: the socket's address; `candidates`: what ICE candidates advertise.
    pub fn new(
        local_addr: SocketAddr,
        candidates: Vec<SocketAddr>,
        consent_timeout: Duration,
        srtp: SrtpPolicy,
    ) -> Self {
        Sfu {
            local_addr,
            candidates,
            consent_timeout,
            srtp,
            peers: HashMap::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            stats: EngineStats::default(),
            scratch: Vec::new(),
            next_consent_check: None,
            next_layer_tick: None,
            pending_calls: HashMap::new(),
            pending_incoming: HashMap::new(),
            by_plain: HashMap::new(),
            // Room for the largest datagram plus an RTX prefix and an SRTP tag.
            out_buf: Vec::with_capacity(2048),
            clock: Clock::new(Instant::now()),
            current: None,
            // rtc is built with its ring provider (its default feature): there is one.
            crypto: rtc::crypto::default_provider().expect("rtc's default crypto provider"),
            rtx_limits: RtxLimits::default(),
            panic_payload: None,
        }
    }

    /// What subscribers' NACKs may make the SFU send again.
    pub fn set_rtx_limits(&mut self, limits: RtxLimits) {
        self.rtx_limits = limits;
    }

    /// Testing aid (fault injection): forwarding an RTP payload that starts with `prefix`
    /// panics, as a bug would, inside that publisher's work.
    pub fn set_panic_payload(&mut self, prefix: Option<Vec<u8>>) {
        self.panic_payload = prefix.filter(|p| !p.is_empty());
    }

    /// Marks the start of work for `id` (a command about it): a panic before
    /// [`Sfu::recover`] is that peer's.
    pub fn working_on(&mut self, id: Option<PeerId>) {
        self.current = id;
    }

    /// After a panic under any `handle_*` or command: the peer whose work it was is taken out
    /// (its owner told, `Closed("internal error")`) without calling into it again, since its
    /// state may be half updated; every other peer goes on. Returns that peer.
    pub fn recover(&mut self) -> Option<PeerId> {
        self.scratch.clear();
        let id = self.current.take()?;
        self.pending_calls.remove(&id);
        self.pending_incoming.remove(&id);
        let entry = self.peers.remove(&id)?;
        self.by_ufrag.remove(&entry.peer.ice.ufrag);
        for addr in &entry.addrs {
            self.by_addr.remove(addr);
        }
        match &entry.role {
            Role::Subscriber { publisher, .. } => self.unlink_subscriber(*publisher, id),
            Role::Bridged { legs } => {
                for leg in legs {
                    self.by_plain.remove(&leg.local);
                }
            }
            Role::Publisher { .. } => {}
        }
        notify(
            &entry.events,
            id,
            PeerEvent::Closed("internal error".into()),
        );
        Some(id)
    }

    /// The remote addresses a peer is reached from (those its authenticated checks came
    /// from; tests and diagnostics).
    pub fn peer_addresses(&self, id: PeerId) -> Vec<SocketAddr> {
        self.peers
            .get(&id)
            .map(|e| e.addrs.clone())
            .unwrap_or_default()
    }

    /// The local ICE ufrag of a peer (its `a=ice-ufrag`).
    pub fn ice_ufrag(&self, id: PeerId) -> Option<&str> {
        self.peers.get(&id).map(|e| e.peer.ice.ufrag.as_str())
    }

    pub fn stats(&self) -> EngineStats {
        let mut s = self.stats;
        s.peers = self.peers.len();
        s
    }

    /// Answers a browser's publish offer; returns the SDP answer.
    pub fn publish(
        &mut self,
        id: PeerId,
        offer: &str,
        events: mpsc::Sender<MediaEvent>,
        now: Instant,
        tx: &mut impl Transmit,
    ) -> Result<String, MediaError> {
        let (peer, sdp) = Peer::publisher(offer, &self.candidates, self.srtp, now)?;
        let role = Role::Publisher {
            subscribers: Vec::new(),
            video_receiver: None,
            layers: Vec::new(),
        };
        self.insert(id, peer, role, events, now);
        self.drain(id, now, tx);
        Ok(sdp)
    }

    /// Offers `publisher`'s media to a browser; returns the SDP offer.
    #[allow(clippy::too_many_arguments)]
    pub fn subscribe(
        &mut self,
        id: PeerId,
        publisher: PeerId,
        audio: bool,
        video: bool,
        events: mpsc::Sender<MediaEvent>,
        now: Instant,
        tx: &mut impl Transmit,
    ) -> Result<String, MediaError> {
        let target = match self.peers.get_mut(&publisher) {
            Some(Entry {
                role:
                    Role::Publisher {
                        subscribers,
                        layers,
                        ..
                    },
                ..
            }) => {
                subscribers.push(id);
                layers::choose(layers, None)
            }
            _ => return Err(MediaError::UnknownPeer),
        };
        let (peer, sdp) = match Peer::subscriber(&self.candidates, audio, video, self.srtp, now) {
            Ok(made) => made,
            Err(e) => {
                self.unlink_subscriber(publisher, id);
                return Err(e);
            }
        };
        let role = Role::Subscriber {
            publisher,
            audio: Forward::default(),
            video: Forward {
                need_keyframe: true,
                target,
                ..Forward::default()
            },
        };
        self.insert(id, peer, role, events, now);
        self.drain(id, now, tx);
        Ok(sdp)
    }

    /// The browser's answer to a subscription offer.
    pub fn answer(
        &mut self,
        id: PeerId,
        sdp: &str,
        now: Instant,
        tx: &mut impl Transmit,
    ) -> Result<(), MediaError> {
        let result = match self.peers.get_mut(&id) {
            Some(e) => e.peer.set_answer(sdp, now),
            None => Err(MediaError::UnknownPeer),
        };
        self.drain(id, now, tx);
        result
    }

    pub fn candidate(
        &mut self,
        id: PeerId,
        candidate: &str,
        mid: Option<String>,
        index: Option<u16>,
        now: Instant,
        tx: &mut impl Transmit,
    ) {
        if let Some(e) = self.peers.get_mut(&id) {
            e.peer.add_remote_candidate(candidate, mid, index);
        }
        self.drain(id, now, tx);
    }

    /// Pauses or resumes what a subscriber gets.
    pub fn set_forward(
        &mut self,
        id: PeerId,
        options: ForwardOptions,
        now: Instant,
        tx: &mut impl Transmit,
    ) {
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
            if let Some(bitrate) = options.bitrate {
                video.requested = (bitrate > 0).then_some(bitrate as u64);
            }
        }
        if options.bitrate.is_some() {
            self.retarget(id, now, tx);
        }
        if resume_video {
            self.request_keyframe_for(id, now, tx);
        }
    }

    /// Re-chooses a subscriber's layer; a change asks the publisher for a keyframe of it.
    fn retarget(&mut self, id: PeerId, now: Instant, tx: &mut impl Transmit) {
        let publisher = match self.peers.get(&id).map(|e| &e.role) {
            Some(Role::Subscriber { publisher, .. }) => *publisher,
            _ => return,
        };
        // A copy of a few layers, once a second per subscriber (not per packet).
        let layers = match self.peers.get(&publisher).map(|e| &e.role) {
            Some(Role::Publisher { layers, .. }) => layers.clone(),
            _ => return,
        };
        let switch = match self.peers.get_mut(&id).map(|e| &mut e.role) {
            Some(Role::Subscriber { video, .. }) => {
                let on = video.target.or(video.current);
                let target = video
                    .adaptation
                    .choose(&layers, on, video.requested, video.remb, now);
                let changed = video.target != target;
                video.target = target;
                changed && target.is_some() && video.current != target
            }
            _ => false,
        };
        let target = match self.peers.get(&id).map(|e| &e.role) {
            Some(Role::Subscriber { video, .. }) => video.target,
            _ => None,
        };
        if let (true, Some(ssrc)) = (switch, target) {
            debug!(peer = id.0, ssrc, "switching simulcast layer");
            self.request_keyframe(publisher, Some(ssrc), now, tx);
        }
    }

    /// Closes a peer at the application's request (no event back).
    pub fn close(&mut self, id: PeerId, tx: &mut impl Transmit) {
        self.remove(id, None, tx);
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
                fast: Fast::default(),
                media_addr: None,
                rtx_budget: RtxBudget::default(),
            },
        );
    }

    /// Removes a peer; `reason` set means the application is told it closed.
    fn remove(&mut self, id: PeerId, reason: Option<String>, tx: &mut impl Transmit) {
        // A call closed before its answer has no peer yet, only its pending offer.
        self.pending_calls.remove(&id);
        self.pending_incoming.remove(&id);
        let Some(mut entry) = self.peers.remove(&id) else {
            return;
        };
        let _ = entry.peer.pc.close();
        while let Some(out) = entry.peer.pc.poll_write() {
            tx.send(self.local_addr, out.transport.peer_addr, &out.message);
        }
        self.by_ufrag.remove(&entry.peer.ice.ufrag);
        for addr in &entry.addrs {
            self.by_addr.remove(addr);
        }
        self.pending_calls.remove(&id);
        self.pending_incoming.remove(&id);
        match entry.role {
            Role::Subscriber { publisher, .. } => self.unlink_subscriber(publisher, id),
            Role::Bridged { legs } => {
                for leg in legs {
                    self.by_plain.remove(&leg.local);
                }
            }
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

    /// One datagram from the network.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        tx: &mut impl Transmit,
    ) {
        self.current = None;
        self.stats.datagrams_in += 1;
        let is_stun = stun::classify(data) == stun::Class::Stun;
        let known = self.by_addr.get(&from).copied();
        let id = match (known, is_stun) {
            (Some(id), false) => id,
            // STUN: the peer its USERNAME names (a known address stays with its peer).
            (_, true) => {
                let named = stun::local_ufrag(data).and_then(|u| self.by_ufrag.get(u).copied());
                match known.or(named) {
                    Some(id) => id,
                    None => {
                        self.stats.datagrams_dropped += 1;
                        return;
                    }
                }
            }
            (None, false) => {
                self.stats.datagrams_dropped += 1;
                return;
            }
        };
        self.current = Some(id);
        let Some(entry) = self.peers.get_mut(&id) else {
            self.by_addr.remove(&from);
            self.stats.datagrams_dropped += 1;
            return;
        };
        if is_stun && stun::is_binding_request(data) {
            // Only a Binding request signed with the peer's ICE password may move it to a
            // new address or count as consent: its ufrag and SSRCs travel in clear, so anyone
            // could name it.
            if !stun::authentic_binding_request(data, &entry.peer.ice.pwd, self.crypto.crypto()) {
                self.stats.datagrams_dropped += 1;
                debug!(peer = id.0, %from, "STUN without valid MESSAGE-INTEGRITY dropped");
                return;
            }
            entry.last_consent = now;
            if known.is_none() {
                if entry.addrs.len() >= MAX_ADDRS_PER_PEER {
                    let oldest = entry.addrs.remove(0);
                    self.by_addr.remove(&oldest);
                }
                entry.addrs.push(from);
                self.by_addr.insert(from, id);
            }
        } else if is_stun && known.is_none() {
            // Answers to rtc's own checks (rtc authenticates them with the remote password)
            // and indications are taken only from addresses the peer already proved.
            self.stats.datagrams_dropped += 1;
            return;
        }
        let msg = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: ice_local_addr(&self.candidates, self.local_addr, from),
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
        self.drain(id, now, tx);
    }

    /// The earliest time [`Sfu::handle_timeout`] wants to be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.peers.values().filter_map(|e| e.timeout).min(),
            self.next_consent_check,
            self.next_layer_tick,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant, tx: &mut impl Transmit) {
        self.current = None;
        let due: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, e)| e.timeout.is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.current = Some(id);
            if let Some(e) = self.peers.get_mut(&id) {
                if let Err(err) = e.peer.pc.handle_timeout(now) {
                    debug!(peer = id.0, error = %err, "timeout handling failed");
                }
            }
            self.drain(id, now, tx);
        }
        self.current = None;
        if self.next_consent_check.is_none_or(|t| t <= now) {
            self.check_consent(now, tx);
            self.next_consent_check = Some(now + CONSENT_CHECK_PERIOD);
        }
        if self.next_layer_tick.is_none_or(|t| t <= now) {
            self.tick_layers(now, tx);
            self.send_plain_reports(now, tx);
            self.send_forwarding_reports(now, tx);
            self.next_layer_tick = Some(now + LAYER_WINDOW);
        }
    }

    /// Measures layer bitrates and re-chooses every subscriber's layer.
    fn tick_layers(&mut self, now: Instant, tx: &mut impl Transmit) {
        let mut subscribers = Vec::new();
        for entry in self.peers.values_mut() {
            if let Role::Publisher {
                layers,
                subscribers: subs,
                ..
            } = &mut entry.role
            {
                let mut changed = false;
                for l in layers.iter_mut() {
                    changed |= l.tick(now);
                }
                if changed && layers.len() > 1 {
                    subscribers.extend(subs.iter().copied());
                }
            }
        }
        for id in subscribers {
            self.retarget(id, now, tx);
        }
    }

    /// Handles everything a peer has to say: datagrams out, state changes, media in.
    fn drain(&mut self, id: PeerId, now: Instant, tx: &mut impl Transmit) {
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
                // Not STUN (answered wherever a check came from): DTLS or SRTP, sent on the
                // selected pair.
                if out.message.first().is_some_and(|b| *b >= 20) {
                    entry.media_addr = Some(out.transport.peer_addr);
                }
                if !tx.send(self.local_addr, out.transport.peer_addr, &out.message) {
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
                        if let (
                            Kind::Video,
                            Role::Publisher {
                                video_receiver,
                                layers,
                                ..
                            },
                        ) = (kind, &mut entry.role)
                        {
                            *video_receiver = Some(init.receiver_id);
                            if init.ssrc != 0 && !layers.iter().any(|l| l.ssrc == init.ssrc) {
                                let rid = init.rid.as_ref().map(|r| r.to_string());
                                layers.push(Layer::new(init.ssrc, rid, now));
                            }
                        }
                        entry.peer.in_tracks.insert(
                            init.track_id.to_string(),
                            InTrack {
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
                        let Some(t) = entry.peer.in_tracks.get(track_id.as_str()) else {
                            continue;
                        };
                        if let (
                            Kind::Video,
                            Role::Publisher {
                                layers,
                                video_receiver,
                                ..
                            },
                        ) = (t.kind, &mut entry.role)
                        {
                            let ssrc = packet.header.ssrc;
                            match layers.iter_mut().find(|l| l.ssrc == ssrc) {
                                Some(l) => l.count(packet.payload.len()),
                                None => {
                                    let rid = video_receiver
                                        .and_then(|r| pc.rtp_receiver(r))
                                        .and_then(|r| r.track().rid(ssrc).map(|s| s.to_string()));
                                    let mut l = Layer::new(ssrc, rid, now);
                                    l.count(packet.payload.len());
                                    layers.push(l);
                                }
                            }
                        }
                        rtp.push((t.kind, packet));
                    }
                    RTCMessage::RtcpPacket(_, packets) => {
                        // One datagram's packets: its NACKs share one budget.
                        let mut rtx_left = self.rtx_limits.per_datagram;
                        for p in &packets {
                            let any = p.as_any();
                            keyframe_wanted |=
                                any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>();
                            if let (Some(remb), Role::Subscriber { video, .. }) = (
                                any.downcast_ref::<ReceiverEstimatedMaximumBitrate>(),
                                &mut entry.role,
                            ) {
                                video.remb = Some(remb.bitrate as u64);
                            }
                            if let (Some(nack), Some(fast), Some(track), Some(to)) = (
                                any.downcast_ref::<TransportLayerNack>(),
                                entry.fast.get(),
                                entry.peer.out_video,
                                entry.media_addr,
                            ) {
                                for seq in FastOut::lost(nack, &track) {
                                    if rtx_left == 0
                                        || !entry.rtx_budget.take(now, self.rtx_limits.per_second)
                                    {
                                        break;
                                    }
                                    rtx_left -= 1;
                                    if fast.retransmission(&track, seq, &mut self.out_buf) {
                                        self.stats.retransmissions += 1;
                                        if !tx.send(self.local_addr, to, &self.out_buf) {
                                            self.stats.datagrams_dropped += 1;
                                        }
                                    }
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            entry.timeout = pc.poll_timeout();
            if state_change == Some(true) && !entry.connected {
                entry.connected = true;
                entry.last_consent = now;
                notify(&entry.events, id, PeerEvent::Connected);
            }
        }
        match state_change {
            Some(false) => {
                rtp.clear();
                self.scratch = rtp;
                self.remove(id, Some("connection closed".into()), tx);
                return;
            }
            Some(true) => {
                // A new subscriber needs a keyframe at once.
                if matches!(
                    self.peers.get(&id).map(|e| &e.role),
                    Some(Role::Subscriber { .. })
                ) {
                    self.request_keyframe_for(id, now, tx);
                }
            }
            None => {}
        }
        if keyframe_wanted {
            self.request_keyframe_for(id, now, tx);
        }
        for (kind, packet) in rtp.drain(..) {
            self.forward(id, kind, &packet, now, tx);
        }
        self.scratch = rtp;
    }

    /// A subscriber (or a resumed feed) wants a keyframe: ask its publisher.
    fn request_keyframe_for(&mut self, subscriber: PeerId, now: Instant, tx: &mut impl Transmit) {
        let (publisher, layer) = match self.peers.get(&subscriber).map(|e| &e.role) {
            Some(Role::Subscriber {
                publisher, video, ..
            }) => (*publisher, video.target.or(video.current)),
            Some(Role::Publisher { .. }) => (subscriber, None),
            Some(Role::Bridged { .. }) | None => return,
        };
        self.request_keyframe(publisher, layer, now, tx);
    }

    /// Sends a PLI for one layer (`None`: the first) to a publisher, at most once per
    /// [`KEYFRAME_REQUEST_INTERVAL`] per layer.
    fn request_keyframe(
        &mut self,
        publisher: PeerId,
        layer: Option<u32>,
        now: Instant,
        tx: &mut impl Transmit,
    ) {
        let Some(Entry {
            peer,
            role:
                Role::Publisher {
                    video_receiver: Some(receiver),
                    layers,
                    ..
                },
            ..
        }) = self.peers.get_mut(&publisher)
        else {
            return;
        };
        let Some(l) = (match layer {
            Some(ssrc) => layers.iter_mut().find(|l| l.ssrc == ssrc),
            None => layers.first_mut(),
        }) else {
            return;
        };
        if l.last_keyframe_request
            .is_some_and(|t| now.duration_since(t) < KEYFRAME_REQUEST_INTERVAL)
        {
            return;
        }
        l.last_keyframe_request = Some(now);
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: l.ssrc,
        };
        if let Some(mut r) = peer.pc.rtp_receiver(*receiver) {
            if let Err(e) = r.write_rtcp(now, vec![Box::new(pli)]) {
                debug!(peer = publisher.0, error = %e, "PLI not sent");
                return;
            }
        }
        self.stats.keyframe_requests += 1;
        self.drain(publisher, now, tx);
    }

    /// Sends one packet of `publisher` to each of its subscribers.
    fn forward(
        &mut self,
        publisher: PeerId,
        kind: Kind,
        packet: &rtc::rtp::Packet,
        now: Instant,
        tx: &mut impl Transmit,
    ) {
        if let Some(prefix) = &self.panic_payload {
            if packet.payload.starts_with(prefix) {
                panic!(
                    "injected panic (debug_panic_payload) in peer {}",
                    publisher.0
                );
            }
        }
        if self.bridge_to_plain(publisher, kind, packet, tx) {
            return;
        }
        let count = match self.peers.get(&publisher) {
            Some(Entry {
                role: Role::Publisher { subscribers, .. },
                ..
            }) => subscribers.len(),
            _ => return,
        };
        let mut wants_keyframe: Option<u32> = None;
        let ssrc = packet.header.ssrc;
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
            // Writing to this subscriber is its work: a panic there ends it, not the
            // publisher (set back after the loop).
            self.current = Some(sid);
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
            if kind == Kind::Video {
                if fwd.target.is_none() && fwd.current.is_none() {
                    fwd.target = Some(ssrc);
                }
                let switching = fwd.target == Some(ssrc) && fwd.current != Some(ssrc);
                if switching || (fwd.current == Some(ssrc) && fwd.need_keyframe) {
                    if !vp8::starts_keyframe(&packet.payload) {
                        wants_keyframe = Some(ssrc);
                        if fwd.current != Some(ssrc) {
                            continue;
                        }
                        // Still on the old layer while waiting for the new one's keyframe.
                        if fwd.need_keyframe {
                            continue;
                        }
                    } else {
                        fwd.current = Some(ssrc);
                        fwd.need_keyframe = false;
                        fwd.munger.switch();
                    }
                } else if fwd.current != Some(ssrc) {
                    continue;
                }
            }
            let ts_step = if kind == Kind::Video { 3000 } else { 960 };
            let Some((seq, ts)) = fwd.munger.map(
                packet.header.sequence_number,
                packet.header.timestamp,
                ts_step,
            ) else {
                continue;
            };
            // The one send path (media::srtp); nothing to send with before DTLS has completed.
            let (Some(fast), Some(to)) = (entry.fast.ready(&entry.peer.pc), entry.media_addr)
            else {
                self.stats.datagrams_dropped += 1;
                continue;
            };
            let marker = packet.header.marker;
            let out = &mut self.out_buf;
            match fast.packet(kind, &track, marker, seq, ts, &packet.payload, now, out) {
                Ok(()) if tx.send(self.local_addr, to, out) => self.stats.rtp_forwarded += 1,
                Ok(()) => self.stats.datagrams_dropped += 1,
                Err(e) => debug!(peer = sid.0, error = %e, "forward failed"),
            }
        }
        self.current = Some(publisher);
        if let Some(layer) = wants_keyframe {
            self.request_keyframe(publisher, Some(layer), now, tx);
        }
    }

    fn check_consent(&mut self, now: Instant, tx: &mut impl Transmit) {
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
            self.remove(id, Some("ICE consent expired".into()), tx);
        }
    }
}

/// The local address a datagram from `from` is handed to rtc with. rtc's ICE agent accepts a
/// check only when that address is one of its local candidates, but the socket's own address
/// is not one whenever the advertised addresses differ from it: a wildcard bind (0.0.0.0, the
/// default) or a public address in front of a NAT (`--advertise-ip`). Every peer has the same
/// candidates, so the first one of the sender's address family stands for the socket.
fn ice_local_addr(candidates: &[SocketAddr], socket: SocketAddr, from: SocketAddr) -> SocketAddr {
    candidates
        .iter()
        .find(|c| c.is_ipv4() == from.is_ipv4())
        .copied()
        .unwrap_or(socket)
}

fn notify(events: &mpsc::Sender<MediaEvent>, peer: PeerId, event: PeerEvent) {
    if let Err(e) = events.try_send(MediaEvent { peer, event }) {
        warn!(peer = peer.0, error = %e, "media event not delivered");
    }
}
