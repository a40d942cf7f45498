//! The sans-IO heart of one engine shard: every transport and plain leg placed on it, the
//! demultiplexing of datagrams to them ([`demux`]), their timers ([`timers`]), and the
//! [`Router`] between them. No sockets, no tasks, no clock, no ambient randomness.
//!
//! Contract (str0m's and quinn-proto's): inputs are `handle_datagram(now, ..)`,
//! `handle_timeout(now)` and the operations (`publish`, `subscribe`, ...); outputs are pulled:
//! [`Core::poll_transmit`] (every datagram to send, as one batch), [`Core::poll_event`]
//! (what the application is told), [`Core::poll_timeout`] (when to call `handle_timeout`).
//!
//! Drain order after an input ([`forward`]): the transport's own datagrams, its state, then
//! the media it received (routed at once to each consumer), then the keyframe requests
//! routing raised.

pub mod calls;
mod demux;
mod forward;
pub mod levels;
mod phones;
pub mod stun;
mod timers;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tracing::{debug, warn};

use crate::bridge::plain::PlainLeg;
use crate::bridge::sdp::Offered;
use crate::ids::{MixId, PeerId, Via, VideoCodec, WallClock};
use crate::mix::codec::OpusSettings;
use crate::mix::Mixer;
use crate::outbox::Outbox;
use crate::router::{ForwardOptions, Router};
use crate::transport::peer::{Candidates, Peer, SrtpPolicy};
use crate::transport::{Drained, RtxLimits, Sent, Transport, MAX_ADDRS_PER_PEER, MAX_EARLY_CHECKS};
use crate::MediaError;
use demux::{Demux, Route};
use timers::Timers;

/// How often ICE consent is checked.
pub const CONSENT_CHECK_PERIOD: Duration = Duration::from_millis(500);

/// What the application is told about a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// ICE and DTLS are up (the protocol's `established`).
    Connected,
    /// The peer is gone: consent expired, DTLS closed or failed. Already removed.
    Closed(String),
    /// A publisher's audio level changed (0-255, 255 loudest; [`levels`]).
    AudioLevel(u8),
    /// A publisher's microphone went silent (muted, [`levels::MUTED_AFTER`]) or was heard
    /// again.
    Muted(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaEvent {
    pub peer: PeerId,
    pub event: PeerEvent,
}

/// Counters, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub peers: usize,
    pub datagrams_in: u64,
    pub bytes_in: u64,
    /// Datagrams handed to the kernel, and their bytes.
    pub datagrams_out: u64,
    pub bytes_out: u64,
    pub datagrams_dropped: u64,
    /// Datagrams the WebRTC stack refused (SRTP/SRTCP authentication, DTLS, malformed).
    pub datagrams_rejected: u64,
    pub rtp_forwarded: u64,
    pub keyframe_requests: u64,
    /// Sequence numbers subscribers asked for again (RTCP NACK).
    pub nacks: u64,
    /// Video packets sent again over RTX on a subscriber's NACK.
    pub retransmissions: u64,
    /// Microseconds the shard spent working (not waiting), for its utilisation.
    pub busy_us: u64,
}

impl EngineStats {
    /// Counts what became of one copy of a forwarded packet.
    fn count_forward(&mut self, sent: Sent) {
        match sent {
            Sent::Yes => self.rtp_forwarded += 1,
            Sent::NotWanted => {}
            Sent::Dropped => self.datagrams_dropped += 1,
        }
    }
}

impl std::ops::AddAssign for EngineStats {
    fn add_assign(&mut self, o: EngineStats) {
        self.peers += o.peers;
        self.datagrams_in += o.datagrams_in;
        self.bytes_in += o.bytes_in;
        self.datagrams_out += o.datagrams_out;
        self.bytes_out += o.bytes_out;
        self.datagrams_dropped += o.datagrams_dropped;
        self.datagrams_rejected += o.datagrams_rejected;
        self.rtp_forwarded += o.rtp_forwarded;
        self.keyframe_requests += o.keyframe_requests;
        self.nacks += o.nacks;
        self.retransmissions += o.retransmissions;
        self.busy_us += o.busy_us;
    }
}

/// What a core is made with.
#[derive(Clone)]
pub struct CoreConfig {
    /// The shared WebRTC socket's address.
    pub local_addr: SocketAddr,
    /// What ICE candidates advertise.
    pub candidates: Candidates,
    /// A peer from which no STUN consent check arrived for this long is closed.
    pub consent_timeout: Duration,
    pub srtp: SrtpPolicy,
    pub rtx: RtxLimits,
    /// Wall clock of RTCP sender reports.
    pub clock: WallClock,
    /// Seed of every random choice the core makes (ICE credentials, SSRCs, session ids).
    pub seed: [u8; 32],
    /// Testing aid (fault injection): forwarding an RTP payload that starts with these bytes
    /// panics, as a bug would, inside that publisher's work.
    pub panic_payload: Option<Vec<u8>>,
    /// The Opus encoders of rooms' audio mixes.
    pub opus: OpusSettings,
}

impl CoreConfig {
    /// A configuration for `addr` with the defaults (tests, benches).
    pub fn new(addr: SocketAddr, srtp: SrtpPolicy) -> CoreConfig {
        CoreConfig {
            local_addr: addr,
            candidates: Candidates::udp(vec![addr]),
            consent_timeout: Duration::from_secs(30),
            srtp,
            rtx: RtxLimits::default(),
            clock: WallClock::system(),
            seed: rand::random(),
            panic_payload: None,
            opus: OpusSettings::default(),
        }
    }
}

/// A peer's part in the shard, with the data that part needs.
enum Role {
    Publisher,
    Subscriber,
    /// A 1:1 call: the browser's media is bridged to plain RTP legs toward a SIP endpoint.
    Bridged {
        legs: Vec<PlainLeg>,
    },
}

struct Slot {
    transport: Transport,
    role: Role,
}

pub struct Core {
    local_addr: SocketAddr,
    candidates: Candidates,
    consent_timeout: Duration,
    srtp: SrtpPolicy,
    rtx: RtxLimits,
    clock: WallClock,
    panic_payload: Option<Vec<u8>>,
    peers: HashMap<PeerId, Slot>,
    demux: Demux,
    timers: Timers,
    router: Router,
    /// Calls whose plain offer went out and whose answer has not come yet.
    pending_calls: HashMap<PeerId, (String, Vec<Offered>)>,
    /// Incoming calls offered to the browser: the SIP offer and the legs bound for it.
    pending_incoming: HashMap<PeerId, (String, Vec<calls::Leg>)>,
    /// Calls with a renegotiation that adds media under way (one offer at a time per call).
    pending_updates: HashMap<PeerId, calls::Update>,
    /// The SDES-SRTP mode of each call (its plain legs' offers and answers).
    sdes: HashMap<PeerId, crate::bridge::sdes::SdesMode>,
    outbox: Outbox,
    events: VecDeque<MediaEvent>,
    stats: EngineStats,
    /// Reused: what a transport's drain produced, and the buffer packets are written in.
    drained: Drained,
    scratch: Vec<u8>,
    next_consent_check: Option<Instant>,
    next_layer_tick: Option<Instant>,
    /// Publishers' audio levels.
    levels: levels::Levels,
    level_changes: Vec<(PeerId, u8)>,
    /// The peer whose work is under way: a panic there ends that peer only
    /// ([`Core::recover`]).
    current: Option<PeerId>,
    /// Computes STUN MESSAGE-INTEGRITY.
    crypto: std::sync::Arc<dyn rtc::crypto::RTCCryptoProvider>,
    rng: StdRng,
    /// Rooms' audio mixes (from a room's first phone to its last), their phones, the room
    /// of each browser publisher, and the next tick.
    mixers: HashMap<MixId, Mixer>,
    phones: HashMap<PeerId, phones::Phone>,
    /// Dial-outs waiting for the phone's answer: the room and what was offered.
    pending_phones: HashMap<PeerId, (MixId, Offered)>,
    mix_of: HashMap<PeerId, MixId>,
    next_mix_tick: Option<Instant>,
    opus: OpusSettings,
}

impl Core {
    pub fn new(config: CoreConfig) -> Core {
        Core {
            local_addr: config.local_addr,
            candidates: config.candidates,
            consent_timeout: config.consent_timeout,
            srtp: config.srtp,
            rtx: config.rtx,
            clock: config.clock,
            panic_payload: config.panic_payload.filter(|p| !p.is_empty()),
            peers: HashMap::new(),
            demux: Demux::default(),
            timers: Timers::default(),
            router: Router::default(),
            pending_calls: HashMap::new(),
            pending_incoming: HashMap::new(),
            pending_updates: HashMap::new(),
            sdes: HashMap::new(),
            outbox: Outbox::default(),
            events: VecDeque::new(),
            stats: EngineStats::default(),
            drained: Drained::default(),
            // Room for the largest datagram plus an RTX prefix and an SRTP tag.
            scratch: Vec::with_capacity(2048),
            next_consent_check: None,
            next_layer_tick: None,
            levels: levels::Levels::default(),
            level_changes: Vec::new(),
            current: None,
            // rtc is built with its ring provider (its default feature): there is one.
            crypto: rtc::crypto::default_provider().expect("rtc's default crypto provider"),
            rng: StdRng::from_seed(config.seed),
            mixers: HashMap::new(),
            phones: HashMap::new(),
            pending_phones: HashMap::new(),
            mix_of: HashMap::new(),
            next_mix_tick: None,
            opus: config.opus,
        }
    }

    /// The shared WebRTC socket's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Every datagram decided since the last call, swapped into `out` (which must be empty;
    /// its memory is kept for the next batch). False when there was none.
    pub fn poll_transmit(&mut self, out: &mut Outbox) -> bool {
        if self.outbox.is_empty() {
            return false;
        }
        out.clear();
        std::mem::swap(&mut self.outbox, out);
        true
    }

    /// The next thing the application is told.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// The earliest time [`Core::handle_timeout`] wants to be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.timers.next(),
            self.next_consent_check,
            self.next_layer_tick,
            self.levels.poll_timeout(),
            self.next_mix_tick,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Datagrams the shell could not send (counted with the core's).
    pub fn count_dropped(&mut self, n: u64) {
        self.stats.datagrams_dropped += n;
    }

    /// Datagrams (and bytes) the shell handed to the kernel.
    pub fn count_sent(&mut self, datagrams: u64, bytes: u64) {
        self.stats.datagrams_out += datagrams;
        self.stats.bytes_out += bytes;
    }

    /// Time the shell spent working for this core.
    pub fn count_busy(&mut self, us: u64) {
        self.stats.busy_us += us;
    }

    pub fn stats(&self) -> EngineStats {
        let mut s = self.stats;
        s.peers = self.peers.len();
        s
    }

    /// Whether `id` is a peer of this core.
    /// Whether `id` is here: a browser's peer, a phone in a room, or a phone being called.
    pub fn contains(&self, id: PeerId) -> bool {
        self.peers.contains_key(&id)
            || self.phones.contains_key(&id)
            || self.pending_phones.contains_key(&id)
    }

    /// Peers on this core.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The remote addresses a peer is reached from (tests and diagnostics).
    pub fn peer_addresses(&self, id: PeerId) -> Vec<SocketAddr> {
        self.peers
            .get(&id)
            .map(|s| s.transport.addrs.iter().map(|(_, a)| *a).collect())
            .unwrap_or_default()
    }

    /// The local ICE ufrag of a peer (its `a=ice-ufrag`).
    pub fn ice_ufrag(&self, id: PeerId) -> Option<&str> {
        self.peers
            .get(&id)
            .map(|s| s.transport.peer.ice.ufrag.as_str())
    }

    /// Marks the start of work for `id` (an operation on it): a panic before
    /// [`Core::recover`] is that peer's.
    pub fn working_on(&mut self, id: Option<PeerId>) {
        self.current = id;
    }

    /// After a panic under any `handle_*` or operation: the peer whose work it was is taken
    /// out (its owner told, `Closed("internal error")`) without calling into it again, since
    /// its state may be half updated; every other peer goes on. Returns that peer.
    pub fn recover(&mut self) -> Option<PeerId> {
        self.drained.clear();
        let id = self.current.take()?;
        self.take_out(id)?;
        self.events.push_back(MediaEvent {
            peer: id,
            event: PeerEvent::Closed("internal error".into()),
        });
        Some(id)
    }

    /// Answers a browser's publish offer; returns the SDP answer.
    pub fn publish(&mut self, now: Instant, id: PeerId, offer: &str) -> Result<String, MediaError> {
        self.publish_with(now, id, offer, true, VideoCodec::Vp8)
    }

    /// [`Core::publish`] into a room whose video is `codec`; without `video` the offer's video
    /// is declined (an audio-only room).
    pub fn publish_with(
        &mut self,
        now: Instant,
        id: PeerId,
        offer: &str,
        video: bool,
        codec: VideoCodec,
    ) -> Result<String, MediaError> {
        let (peer, sdp) = Peer::publisher_with(
            offer,
            &self.candidates,
            self.srtp,
            now,
            &mut self.rng,
            video,
            codec,
        )?;
        self.router.add_producer(id);
        self.insert(id, peer, Role::Publisher, now, true);
        Ok(sdp)
    }

    /// Offers `publisher`'s media to a browser; returns the SDP offer.
    pub fn subscribe(
        &mut self,
        now: Instant,
        id: PeerId,
        publisher: PeerId,
        audio: bool,
        video: bool,
    ) -> Result<String, MediaError> {
        if !self.router.is_producer(publisher) {
            return Err(MediaError::UnknownPeer);
        }
        // A feed carries its publisher's codec (the room's).
        let codec = self
            .peers
            .get(&publisher)
            .map_or(VideoCodec::Vp8, |s| s.transport.peer.video_codec);
        let (peer, sdp) = Peer::subscriber(
            &self.candidates,
            audio,
            video,
            self.srtp,
            now,
            &mut self.rng,
            codec,
        )?;
        self.router
            .add_consumer(publisher, id, now)
            .map_err(|_| MediaError::UnknownPeer)?;
        self.insert(id, peer, Role::Subscriber, now, false);
        Ok(sdp)
    }

    /// The browser's answer to a subscription offer.
    pub fn answer(&mut self, now: Instant, id: PeerId, sdp: &str) -> Result<(), MediaError> {
        let result = match self.peers.get_mut(&id) {
            Some(s) => s.transport.peer.set_answer(sdp, now),
            None => Err(MediaError::UnknownPeer),
        };
        if result.is_ok() {
            self.remote_known(id, now);
        }
        self.drain(id, now);
        result
    }

    /// The browser's description is in `rtc`: the checks that came before it go in now (so
    /// `rtc` sees the nomination without waiting for the browser to check again).
    fn remote_known(&mut self, id: PeerId, now: Instant) {
        let Some(slot) = self.peers.get_mut(&id) else {
            return;
        };
        let t = &mut slot.transport;
        t.remote_known = true;
        for (from, via, data) in std::mem::take(&mut t.early) {
            let ice_local = self
                .candidates
                .local_for(via, from)
                .unwrap_or(self.local_addr);
            if let Err(e) = t.handle_read(now, via, ice_local, from, &data) {
                debug!(peer = id.0, error = %e, "early check rejected");
            }
        }
    }

    /// A trickled remote candidate.
    pub fn candidate(
        &mut self,
        now: Instant,
        id: PeerId,
        candidate: &str,
        mid: Option<String>,
        index: Option<u16>,
    ) {
        if let Some(s) = self.peers.get_mut(&id) {
            s.transport.peer.add_remote_candidate(candidate, mid, index);
        }
        self.drain(id, now);
    }

    /// Pauses or resumes what a subscriber gets, or caps its bitrate.
    pub fn set_forward(&mut self, now: Instant, id: PeerId, options: ForwardOptions) {
        self.router.set_forward(id, options, now);
        self.send_keyframe_requests(now);
    }

    /// Closes a peer at the application's request (no event back).
    /// Caps what publisher `id` sends (bits/s; None: no cap), by REMB from the next window
    /// on (at once when the cap goes down).
    pub fn set_max_bitrate(&mut self, now: Instant, id: PeerId, bitrate: Option<u64>) {
        let Some(slot) = self.peers.get_mut(&id) else {
            return;
        };
        let lower = match (slot.transport.max_bitrate, bitrate) {
            (Some(old), Some(new)) => new < old,
            (None, Some(_)) => true,
            _ => false,
        };
        slot.transport.max_bitrate = bitrate;
        if lower {
            slot.transport.send_remb(now);
            slot.transport.flush(self.local_addr, &mut self.outbox);
        }
    }

    pub fn close(&mut self, id: PeerId) {
        self.remove(id, None);
    }

    /// `remote_known`: the peer was made from the browser's offer (else from ours).
    fn insert(&mut self, id: PeerId, peer: Peer, role: Role, now: Instant, remote_known: bool) {
        self.demux.add_ufrag(&peer.ice.ufrag, id);
        if let Role::Bridged { legs } = &role {
            for leg in legs {
                self.demux.add_leg(leg.local, id);
            }
        }
        let mut transport = Transport::new(peer, now);
        transport.remote_known = remote_known;
        self.peers.insert(id, Slot { transport, role });
        self.drain(id, now);
    }

    /// Takes a peer out of everything that names it (pending offers, router, timers, the
    /// demux index); returns its slot, if it had one (a call closed before its answer has
    /// only its pending offer).
    fn take_out(&mut self, id: PeerId) -> Option<Slot> {
        self.pending_calls.remove(&id);
        self.pending_incoming.remove(&id);
        self.pending_updates.remove(&id);
        self.sdes.remove(&id);
        self.router.remove_consumer(id);
        self.router.remove_producer(id);
        self.timers.remove(id);
        self.levels.remove(id);
        self.mix_remove(id);
        let slot = self.peers.remove(&id)?;
        let legs: &[PlainLeg] = match &slot.role {
            Role::Bridged { legs } => legs,
            _ => &[],
        };
        self.demux.remove(
            id,
            &slot.transport.peer.ice.ufrag,
            &slot.transport.addrs,
            legs.iter().map(|l| l.local),
        );
        Some(slot)
    }

    /// Removes a peer; `reason` set means the application is told it closed.
    fn remove(&mut self, id: PeerId, reason: Option<String>) {
        let Some(mut slot) = self.take_out(id) else {
            return;
        };
        slot.transport.close(self.local_addr, &mut self.outbox);
        debug!(peer = id.0, "peer removed");
        if let Some(reason) = reason {
            self.events.push_back(MediaEvent {
                peer: id,
                event: PeerEvent::Closed(reason),
            });
        }
    }

    /// One datagram from the network, on the local socket `local` (the shared WebRTC socket
    /// or a plain RTP leg's).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        data: &[u8],
    ) {
        self.current = None;
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += data.len() as u64;
        if local != self.local_addr {
            self.handle_plain_datagram(now, local, from, data);
            return;
        }
        self.handle_ice(now, Via::Udp, from, data);
    }

    /// One frame from an ICE-TCP connection whose remote address is `from` (RFC 4571
    /// framing taken off by the shell). Answers go out to `from` like datagrams; the shell
    /// sends those whose destination is one of its connections over that connection.
    pub fn handle_tcp_frame(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        self.current = None;
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += data.len() as u64;
        self.handle_ice(now, Via::Tcp, from, data);
    }

    /// An ICE-TCP connection closed: its address no longer leads to a peer (the peer itself
    /// stays until its consent expires, or a new connection proves itself).
    pub fn tcp_closed(&mut self, from: SocketAddr) {
        let gone = (Via::Tcp, from);
        if let Some(slot) = self
            .demux
            .owner(Via::Tcp, from)
            .and_then(|p| self.peers.get_mut(&p))
        {
            // So that proving it again (a new connection from that address) is learnt anew.
            slot.transport.addrs.retain(|a| *a != gone);
        }
        self.demux.forget_addr(Via::Tcp, from);
    }

    /// Whether the ICE-TCP connection from `from` leads to a live peer (one that does not
    /// yet, or no longer, is closed by the shell).
    pub fn knows_tcp(&self, from: SocketAddr) -> bool {
        self.demux.knows(Via::Tcp, from)
    }

    /// A packet for a browser's transport on the shared socket or an ICE-TCP connection.
    fn handle_ice(&mut self, now: Instant, via: Via, from: SocketAddr, data: &[u8]) {
        let (id, stun, known) = match self.demux.route(via, from, data) {
            Route::Known { peer, stun } => (peer, stun, true),
            Route::Named(peer) => (peer, true, false),
            Route::Unknown => {
                self.stats.datagrams_dropped += 1;
                return;
            }
        };
        self.current = Some(id);
        let Some(slot) = self.peers.get_mut(&id) else {
            self.demux.forget_addr(via, from);
            self.stats.datagrams_dropped += 1;
            return;
        };
        let t = &mut slot.transport;
        if stun && stun::is_binding_request(data) {
            // Only a Binding request signed with the peer's ICE password may move it to a
            // new address or count as consent: its ufrag and SSRCs travel in clear, so anyone
            // could name it.
            if !stun::authentic_binding_request(data, &t.peer.ice.pwd, self.crypto.crypto()) {
                self.stats.datagrams_dropped += 1;
                debug!(peer = id.0, %from, "STUN without valid MESSAGE-INTEGRITY dropped");
                return;
            }
            t.last_consent = now;
            self.demux
                .learn(id, via, from, &mut t.addrs, MAX_ADDRS_PER_PEER);
            if !t.remote_known {
                // A check before the browser's answer (it checks as soon as it has our
                // offer): `rtc` cannot answer it yet (no remote credentials), so it is kept
                // for `rtc`, to be given when the answer comes, and a check that does not
                // nominate is answered here at once (so the browser's pair is valid when the
                // answer lands, instead of its next check after its interval). A nominating
                // one (USE-CANDIDATE) is not: ICE must not complete, and DTLS start, before
                // `rtc` knows the browser's fingerprint; `rtc` answers it on replay.
                if !stun::has_use_candidate(data)
                    && stun::binding_success(
                        data,
                        from,
                        &t.peer.ice.pwd,
                        self.crypto.crypto(),
                        &mut self.scratch,
                    )
                {
                    self.outbox
                        .push_via(via, self.local_addr, from, &self.scratch);
                }
                // The latest check from each address is what counts: one kept per address.
                t.early.retain(|(a, _, _)| *a != from);
                if t.early.len() < MAX_EARLY_CHECKS {
                    t.early.push((from, via, data.to_vec()));
                }
                debug!(peer = id.0, %from, held = t.early.len(), "early check");
                return;
            }
        } else if stun && !known {
            // Answers to rtc's own checks (rtc authenticates them with the remote password)
            // and indications are taken only from addresses the peer already proved.
            self.stats.datagrams_dropped += 1;
            return;
        }
        let ice_local = self
            .candidates
            .local_for(via, from)
            .unwrap_or(self.local_addr);
        if let Err(e) = t.handle_read(now, via, ice_local, from, data) {
            self.stats.datagrams_rejected += 1;
            debug!(peer = id.0, error = %e, "datagram rejected");
        }
        self.drain(id, now);
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.current = None;
        while let Some(id) = self.timers.pop_due(now) {
            self.current = Some(id);
            let Some(slot) = self.peers.get_mut(&id) else {
                continue;
            };
            if slot.transport.timeout.is_some_and(|t| t <= now) {
                slot.transport.handle_timeout(now);
            }
            self.drain(id, now);
        }
        self.current = None;
        if self.next_mix_tick.is_some_and(|t| t <= now) {
            self.mix_tick(now);
        }
        if self.next_consent_check.is_none_or(|t| t <= now) {
            self.check_consent(now);
            self.next_consent_check = Some(now + CONSENT_CHECK_PERIOD);
        }
        let mut changes = std::mem::take(&mut self.level_changes);
        let mut muted = Vec::new();
        self.levels.tick(now, &mut changes, &mut muted);
        for (peer, level) in changes.drain(..) {
            self.events.push_back(MediaEvent {
                peer,
                event: PeerEvent::AudioLevel(level),
            });
        }
        for (peer, muted) in muted {
            self.events.push_back(MediaEvent {
                peer,
                event: PeerEvent::Muted(muted),
            });
        }
        self.level_changes = changes;
        if self.next_layer_tick.is_none_or(|t| t <= now) {
            self.router.tick(now);
            self.send_keyframe_requests(now);
            self.send_plain_reports(now);
            self.send_phone_reports(now);
            for slot in self.peers.values_mut() {
                // Once a window, as Janus repeats its REMB: a browser's own estimate would
                // otherwise take over again.
                slot.transport.send_remb(now);
                slot.transport
                    .send_reports(now, &self.clock, self.local_addr, &mut self.outbox);
            }
            self.next_layer_tick = Some(now + Router::WINDOW);
        }
    }

    fn check_consent(&mut self, now: Instant) {
        let expired: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, s)| now.duration_since(s.transport.last_consent) > self.consent_timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let connected = self.peers.get(&id).is_some_and(|s| s.transport.connected);
            warn!(
                peer = id.0,
                connected, "no ICE consent check within the timeout, closing"
            );
            self.remove(id, Some("ICE consent expired".into()));
        }
    }
}
