//! The media engine: the tokio shell around the sans-IO [`Core`]. It runs as shards (one per
//! core by default), each a thread of its own with a current-thread runtime, its own UDP
//! socket (advertised in the ICE candidates of the peers placed on it), its plain RTP leg
//! sockets, and one [`Core`] holding every peer, leg and room placed there.
//!
//! How a datagram finds its shard: by port. Shard `k` binds the media port + `k` (or any free
//! port when the media port is 0), and a peer's candidates name its shard's port, so the
//! kernel delivers to the right thread with no dispatcher and no shared state; the cost is
//! one UDP port per shard in the firewall. (SO_REUSEPORT cannot steer by ICE ufrag without a
//! BPF program parsing STUN, and a dispatcher thread would add a hop and a wake-up to every
//! packet.)
//!
//! ICE-TCP ([`tcp`]): each shard also listens on TCP, at `tcp_port` + `k`, and its peers'
//! candidates include that port as a passive TCP candidate (RFC 6544), below UDP in priority:
//! browsers use it when UDP does not get through.
//!
//! Placement: every peer of a room is on the room's shard ([`EngineHandle::place_room`]
//! picks the shard with the fewest peers); a subscriber goes where its publisher is; a 1:1
//! call goes to the least busy shard. A [`PeerId`] carries its shard.
//!
//! Each operation is one typed message: a closure run on the shard with its [`Core`],
//! written once in the handle's method. Channel policies: operations wait when a shard's
//! queue is full; events to the application are `try_send` (a full channel drops the event
//! and logs; the engine never blocks); datagrams that do not fit the socket buffer are
//! dropped, as the network would.

mod shard;
pub mod tcp;
pub mod udp;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::bridge::sdes::SdesMode;
use crate::core::calls::{BrowserUpdate, SipUpdate};
use crate::core::{Core, CoreConfig, EngineStats, MediaEvent};
use crate::ids::{Kind, MixId, PeerId, ShardId, VideoCodec, WallClock};
use crate::mix::codec::OpusSettings;
use crate::router::ForwardOptions;
use crate::transport::peer::{Candidates, SrtpPolicy};
use crate::transport::RtxLimits;
use crate::MediaError;
use shard::Shard;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where shard 0's UDP socket binds; shard `k` binds the port + `k` (port 0: any free).
    pub bind: SocketAddr,
    /// Addresses put in our ICE candidates (with each shard's port).
    pub advertise: Vec<IpAddr>,
    /// A connected peer from which no STUN consent check arrived for this long is closed.
    pub consent_timeout: Duration,
    /// Which DTLS-SRTP protection profiles are offered.
    pub srtp: SrtpPolicy,
    /// UDP ports for the plain RTP legs of calls (one per media line), inclusive; shared out
    /// among the shards.
    pub rtp_ports: (u16, u16),
    /// What subscribers' NACKs may make the engine send again.
    pub rtx: RtxLimits,
    /// Shards (0: one per available core).
    pub shards: usize,
    /// Datagrams per sendmmsg call (1: one syscall per datagram).
    pub send_batch: usize,
    /// ICE-TCP: shard `k` listens on TCP at this port + `k` (0: any free port), on the IP
    /// of `bind`; `None`: no ICE-TCP.
    pub tcp_port: Option<u16>,
    /// Testing aid (fault injection, [`CoreConfig::panic_payload`]); `None` in production.
    pub panic_payload: Option<Vec<u8>>,
    /// The Opus encoders of rooms' audio mixes (phones in rooms).
    pub opus: OpusSettings,
}

impl EngineConfig {
    /// A configuration with the defaults for `bind` (tests).
    pub fn new(bind: SocketAddr) -> EngineConfig {
        EngineConfig {
            bind,
            advertise: vec![bind.ip()],
            consent_timeout: Duration::from_secs(30),
            srtp: SrtpPolicy::Default,
            rtp_ports: (20000, 20999),
            rtx: RtxLimits::default(),
            shards: 0,
            send_batch: udp::MAX_BATCH,
            tcp_port: None,
            panic_payload: None,
            opus: OpusSettings::default(),
        }
    }
}

/// An operation: runs on the shard's thread with its state.
type Work = Box<dyn FnOnce(&mut Shard, Instant) + Send>;

/// Work for a shard.
struct Command {
    /// The peer it is about (its work, should it panic).
    peer: Option<PeerId>,
    /// What it is, for the log (with how long it took: the gateway's share of a join).
    op: &'static str,
    work: Work,
}

/// The application's handle on one shard.
struct ShardHandle {
    tx: mpsc::Sender<Command>,
    local_addr: SocketAddr,
    /// Its ICE-TCP listener's address.
    tcp_addr: Option<SocketAddr>,
    /// Peers on it (placement; updated by the shard).
    load: Arc<AtomicUsize>,
}

/// The application's handle on the engine.
#[derive(Clone)]
pub struct EngineHandle {
    shards: Arc<Vec<ShardHandle>>,
    ids: Arc<AtomicU64>,
}

impl EngineHandle {
    /// Shard 0's media socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shards[0].local_addr
    }

    /// Every shard's media socket address, in shard order.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.shards.iter().map(|s| s.local_addr).collect()
    }

    /// Every shard's ICE-TCP listener address, in shard order (empty: ICE-TCP is off).
    pub fn tcp_addrs(&self) -> Vec<SocketAddr> {
        self.shards.iter().filter_map(|s| s.tcp_addr).collect()
    }

    /// The least busy shard: where a new room (or call) goes.
    pub fn place_room(&self) -> ShardId {
        let (at, _) = self
            .shards
            .iter()
            .enumerate()
            .min_by_key(|(i, s)| (s.load.load(Ordering::Relaxed), *i))
            .unwrap_or((0, &self.shards[0]));
        ShardId(at as u8)
    }

    /// A new peer id on `shard`.
    pub fn new_peer_id_on(&self, shard: ShardId) -> PeerId {
        let shard = ShardId(shard.0.min(self.shards.len().saturating_sub(1) as u8));
        PeerId::new(shard, self.ids.fetch_add(1, Ordering::Relaxed))
    }

    /// A new peer id on the least busy shard (a 1:1 call).
    pub fn new_peer_id(&self) -> PeerId {
        self.new_peer_id_on(self.place_room())
    }

    fn shard(&self, id: PeerId) -> &ShardHandle {
        self.shards
            .get(usize::from(id.shard().0))
            .unwrap_or(&self.shards[0])
    }

    /// Runs `work` on `id`'s shard and waits for its result.
    async fn call<T: Send + 'static>(
        &self,
        op: &'static str,
        id: PeerId,
        work: impl FnOnce(&mut Shard, Instant) -> Result<T, MediaError> + Send + 'static,
    ) -> Result<T, MediaError> {
        let (reply, rx) = oneshot::channel();
        let command = Command {
            peer: Some(id),
            op,
            work: Box::new(move |shard, now| {
                let _ = reply.send(work(shard, now));
            }),
        };
        self.shard(id)
            .tx
            .send(command)
            .await
            .map_err(|_| MediaError::EngineGone)?;
        // No reply: the command's work panicked (the shard took that peer out, and went on).
        rx.await.map_err(|_| MediaError::Failed)?
    }

    /// Runs `work` on `id`'s shard without waiting.
    async fn tell(
        &self,
        op: &'static str,
        id: PeerId,
        work: impl FnOnce(&mut Shard, Instant) + Send + 'static,
    ) {
        let command = Command {
            peer: Some(id),
            op,
            work: Box::new(work),
        };
        let _ = self.shard(id).tx.send(command).await;
    }

    /// Answers a browser's publish offer; returns the SDP answer.
    pub async fn publish(
        &self,
        id: PeerId,
        offer: String,
        video: bool,
        codec: VideoCodec,
        mix: MixId,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<String, MediaError> {
        self.call("publish", id, move |s, now| {
            s.events.insert(id, events);
            let answer = s.core.publish_with(now, id, &offer, video, codec)?;
            // Its audio goes into room `mix`'s mix whenever the room has phones.
            s.core.mix_add(id, mix);
            Ok(answer)
        })
        .await
    }

    /// Creates a subscription to `publisher` (on its shard: make `id` with
    /// `new_peer_id_on(publisher.shard())`); returns the SDP offer for the browser.
    pub async fn subscribe(
        &self,
        id: PeerId,
        publisher: PeerId,
        audio: bool,
        video: bool,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<String, MediaError> {
        if id.shard() != publisher.shard() {
            return Err(MediaError::UnknownPeer);
        }
        self.call("subscribe", id, move |s, now| {
            s.events.insert(id, events);
            s.core.subscribe(now, id, publisher, audio, video)
        })
        .await
    }

    /// The browser's answer to a subscription offer.
    pub async fn answer(&self, id: PeerId, sdp: String) -> Result<(), MediaError> {
        self.call("answer", id, move |s, now| s.core.answer(now, id, &sdp))
            .await
    }

    pub async fn candidate(
        &self,
        id: PeerId,
        candidate: String,
        mid: Option<String>,
        index: Option<u16>,
    ) {
        self.tell("candidate", id, move |s, now| {
            s.core.candidate(now, id, &candidate, mid, index)
        })
        .await
    }

    /// Caps what publisher `id` sends (bits/s; None: no cap), told to it by REMB.
    pub async fn set_max_bitrate(&self, id: PeerId, bitrate: Option<u64>) {
        self.tell("set_max_bitrate", id, move |s, now| {
            s.core.set_max_bitrate(now, id, bitrate)
        })
        .await
    }

    pub async fn forward(&self, id: PeerId, options: ForwardOptions) {
        self.tell("forward", id, move |s, now| {
            s.core.set_forward(now, id, options)
        })
        .await
    }

    /// Starts a 1:1 call: binds the plain RTP legs and returns the plain SDP offer toward SIP
    /// for the browser's offer.
    pub async fn bridge_offer(
        &self,
        id: PeerId,
        browser_offer: String,
        sdes: SdesMode,
    ) -> Result<String, MediaError> {
        self.call("bridge_offer", id, move |s, _| {
            let result = s
                .bind_legs(id, &browser_offer)
                .and_then(|locals| s.core.bridge_offer(id, &browser_offer, &locals, sdes));
            if result.is_err() {
                s.release(id);
            }
            result
        })
        .await
    }

    /// The SIP side's answer: returns the SDP answer for the browser.
    pub async fn bridge_answer(
        &self,
        id: PeerId,
        sip_answer: String,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<String, MediaError> {
        self.call("bridge_answer", id, move |s, now| {
            s.events.insert(id, events);
            s.core.bridge_answer(now, id, &sip_answer)
        })
        .await
    }

    /// A re-INVITE from the SIP side: answered here when it keeps the media, else a WebRTC
    /// offer for the browser (legs bound for the kinds it adds).
    pub async fn sip_reoffer(&self, id: PeerId, sdp: String) -> Result<SipUpdate, MediaError> {
        self.call("sip_reoffer", id, move |s, now| {
            let kinds = s.core.kinds_added(id, &sdp)?;
            let added = s.bind_kinds(id, &kinds)?;
            s.core.sip_reoffer(now, id, &sdp, &added)
        })
        .await
    }

    /// The browser's answer to the offer of [`EngineHandle::sip_reoffer`]: returns the plain
    /// SDP answer for the re-INVITE.
    pub async fn browser_reanswer(&self, id: PeerId, sdp: String) -> Result<String, MediaError> {
        self.call("browser_reanswer", id, move |s, now| {
            s.core.browser_reanswer(now, id, &sdp)
        })
        .await
    }

    /// The SIP answer to a re-INVITE the gateway sent; the browser's answer when that
    /// re-INVITE offered media the browser added.
    pub async fn sip_reanswer(
        &self,
        id: PeerId,
        sdp: String,
    ) -> Result<Option<String>, MediaError> {
        self.call("sip_reanswer", id, move |s, now| {
            s.core.sip_reanswer(now, id, &sdp)
        })
        .await
    }

    /// Forgets a renegotiation the other side refused.
    pub async fn cancel_update(&self, id: PeerId) {
        self.tell("cancel_update", id, move |s, _| s.core.cancel_update(id))
            .await
    }

    /// A new browser offer on a call (`session-update`).
    pub async fn browser_reoffer(
        &self,
        id: PeerId,
        offer: String,
    ) -> Result<BrowserUpdate, MediaError> {
        self.call("browser_reoffer", id, move |s, now| {
            let kinds = s.core.kinds_added(id, &offer)?;
            let added = s.bind_kinds(id, &kinds)?;
            s.core.browser_reoffer(now, id, &offer, &added)
        })
        .await
    }

    /// An incoming SIP call: binds the plain legs and returns the WebRTC offer for the browser.
    pub async fn incoming_offer(
        &self,
        id: PeerId,
        sip_offer: String,
        sdes: SdesMode,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<String, MediaError> {
        self.call("incoming_offer", id, move |s, now| {
            s.events.insert(id, events);
            let result = s
                .bind_legs(id, &sip_offer)
                .and_then(|locals| s.core.incoming_offer(now, id, &sip_offer, &locals, sdes));
            if result.is_err() {
                s.release(id);
            }
            result
        })
        .await
    }

    /// The browser's answer to an incoming call: returns the plain SDP answer for SIP.
    pub async fn incoming_answer(
        &self,
        id: PeerId,
        browser_answer: String,
    ) -> Result<String, MediaError> {
        self.call("incoming_answer", id, move |s, now| {
            s.core.incoming_answer(now, id, &browser_answer)
        })
        .await
    }

    /// A phone joins the audio mix of room `mix` (make `id` on the room's shard): binds its
    /// leg and returns the SDP answer for its INVITE. Its voice is then a publisher's feed
    /// to subscribe to (audio only).
    pub async fn phone_join(
        &self,
        id: PeerId,
        mix: MixId,
        sip_offer: String,
        sdes: SdesMode,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<String, MediaError> {
        self.call("phone_join", id, move |s, now| {
            s.events.insert(id, events);
            let result = s.bind_kinds(id, &[Kind::Audio]).and_then(|locals| {
                let local = locals.first().copied().ok_or(MediaError::NoCommonCodec)?;
                s.core.phone_join(now, id, mix, &sip_offer, local, sdes)
            });
            if result.is_err() {
                s.release(id);
                s.events.remove(&id);
            }
            result
        })
        .await
    }

    /// A call from room `mix` to a phone (make `id` on the room's shard): binds its leg and
    /// returns the SDP offer for the INVITE; [`EngineHandle::phone_answered`] completes it.
    pub async fn phone_offer(
        &self,
        id: PeerId,
        mix: MixId,
        sdes: SdesMode,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<String, MediaError> {
        self.call("phone_offer", id, move |s, _| {
            let local = s
                .bind_kinds(id, &[Kind::Audio])
                .and_then(|locals| locals.first().copied().ok_or(MediaError::NoCommonCodec));
            match local {
                Ok(local) => {
                    s.events.insert(id, events);
                    Ok(s.core.phone_offer(id, mix, local, sdes))
                }
                Err(e) => {
                    s.release(id);
                    Err(e)
                }
            }
        })
        .await
    }

    /// The phone answered a dial-out: it joins its room's mix.
    pub async fn phone_answered(&self, id: PeerId, sip_answer: String) -> Result<(), MediaError> {
        self.call("phone_answered", id, move |s, now| {
            s.core.phone_answered(now, id, &sip_answer)
        })
        .await
    }

    /// Mutes or unmutes phone `id` in its room's mix (the room's "mute participant").
    pub async fn mix_mute(&self, id: PeerId, muted: bool) {
        self.tell("mix_mute", id, move |s, _| s.core.mix_mute(id, muted))
            .await
    }

    pub async fn close(&self, id: PeerId) {
        self.tell("close", id, move |s, _| {
            s.core.close(id);
            s.release(id);
        })
        .await
    }

    /// Counters of every shard, summed.
    pub async fn stats(&self) -> Option<EngineStats> {
        let mut total = EngineStats::default();
        for shard in self.shard_stats().await? {
            total += shard;
        }
        Some(total)
    }

    /// Counters of each shard, in shard order.
    pub async fn shard_stats(&self) -> Option<Vec<EngineStats>> {
        let mut all = Vec::new();
        for (i, _) in self.shards.iter().enumerate() {
            let id = PeerId::new(ShardId(i as u8), 0);
            let stats = self
                .call("stats", id, |s, _| Ok::<_, MediaError>(s.core.stats()))
                .await
                .ok()?;
            all.push(stats);
        }
        Some(all)
    }
}

/// Binds a shard's socket. The IPv6 wildcard falls back to the IPv4 one where the host has
/// no IPv6 (then IPv6 addresses are not advertised).
fn bind_shard(config: &mut EngineConfig, port: u16) -> std::io::Result<std::net::UdpSocket> {
    let addr = SocketAddr::new(config.bind.ip(), port);
    match udp::bind(addr) {
        Err(e) if udp::no_ipv6(addr, &e) => {
            tracing::warn!(error = %e, "no IPv6 here: media on IPv4 only");
            config.bind.set_ip(std::net::Ipv4Addr::UNSPECIFIED.into());
            config.advertise.retain(|ip| ip.is_ipv4());
            udp::bind(SocketAddr::new(config.bind.ip(), port))
        }
        other => other,
    }
}

/// How many shards `shards` means (0: one per available core; at most 64).
pub fn shard_count(shards: usize) -> usize {
    match shards {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(64)
}

/// Binds every shard's socket and starts their threads.
pub async fn start(mut config: EngineConfig) -> std::io::Result<EngineHandle> {
    let count = shard_count(config.shards);
    let mut shards = Vec::with_capacity(count);
    let (lo, hi) = config.rtp_ports;
    let span = usize::from(hi.saturating_sub(lo)) + 1;
    for k in 0..count {
        let port = match config.bind.port() {
            0 => 0,
            p => p.checked_add(k as u16).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "media port + shards > 65535",
                )
            })?,
        };
        let socket = bind_shard(&mut config, port)?;
        let local_addr = socket.local_addr()?;
        let tcp = match config.tcp_port {
            Some(p) => {
                let port = if p == 0 {
                    0
                } else {
                    p.checked_add(k as u16).ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            "ICE-TCP port + shards > 65535",
                        )
                    })?
                };
                Some(tcp::bind(SocketAddr::new(config.bind.ip(), port))?)
            }
            None => None,
        };
        let tcp_addr = tcp.as_ref().map(|l| l.local_addr()).transpose()?;
        // Each shard gets its slice of the RTP port range (at least one port).
        let first = lo as usize + span * k / count;
        let last = (lo as usize + span * (k + 1) / count).max(first + 1) - 1;
        let rtp_ports = (first.min(65535) as u16, last.min(65535) as u16);
        let candidates = Candidates {
            udp: config
                .advertise
                .iter()
                .map(|ip| SocketAddr::new(*ip, local_addr.port()))
                .collect(),
            tcp: tcp_addr
                .iter()
                .flat_map(|t| {
                    config
                        .advertise
                        .iter()
                        .map(|ip| SocketAddr::new(*ip, t.port()))
                })
                .collect(),
        };
        let core = Core::new(CoreConfig {
            local_addr,
            candidates,
            consent_timeout: config.consent_timeout,
            srtp: config.srtp,
            rtx: config.rtx,
            clock: WallClock::system(),
            seed: rand::random(),
            panic_payload: config.panic_payload.clone(),
            opus: config.opus,
        });
        let (tx, rx) = mpsc::channel(1024);
        let load = Arc::new(AtomicUsize::new(0));
        let advertise = config.advertise.first().copied().unwrap_or(local_addr.ip());
        let setup = shard::Setup {
            id: ShardId(k as u8),
            socket,
            tcp,
            core,
            rx,
            load: load.clone(),
            rtp_ports,
            bind_ip: config.bind.ip(),
            advertise,
            send_batch: config.send_batch,
        };
        std::thread::Builder::new()
            .name(format!("media-shard-{k}"))
            .spawn(move || shard::run_thread(setup))?;
        shards.push(ShardHandle {
            tx,
            local_addr,
            tcp_addr,
            load,
        });
    }
    Ok(EngineHandle {
        shards: Arc::new(shards),
        ids: Arc::new(AtomicU64::new(1)),
    })
}
