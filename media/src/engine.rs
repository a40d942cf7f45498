//! The media engine: one task that owns the UDP socket shared by every browser and every peer,
//! around the sans-IO [`Sfu`] core.
//!
//! Run loop: wait for a datagram, a command or the earliest timeout -> hand it to the core,
//! which feeds the peer, drains it, forwards received media and sends through the socket.
//!
//! Channel policies: commands arrive on a bounded channel (callers wait when it is full);
//! events to the application are `try_send` (a full channel drops the event and logs, the
//! engine never blocks); outgoing datagrams use `try_send_to` (a full socket buffer drops
//! media, as the network would).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use std::collections::HashMap;

use crate::peer::{Kind, SrtpPolicy};
use crate::sdp_plain;
use crate::sfu::{RtxLimits, Sfu, CONSENT_CHECK_PERIOD};
use crate::MediaError;

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
    /// Which DTLS-SRTP protection profiles are offered.
    pub srtp: SrtpPolicy,
    /// UDP ports for the plain RTP legs of calls (one per media line), inclusive.
    pub rtp_ports: (u16, u16),
    /// What subscribers' NACKs may make the engine send again.
    pub rtx: RtxLimits,
    /// Testing aid (fault injection, [`Sfu::set_panic_payload`]); `None` in production.
    pub panic_payload: Option<Vec<u8>>,
}

/// What a subscriber gets forwarded.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForwardOptions {
    pub audio: Option<bool>,
    pub video: Option<bool>,
    /// Bits per second the subscriber wants at most (picks a simulcast layer); 0 clears it.
    pub bitrate: Option<i64>,
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
    BridgeOffer {
        id: PeerId,
        browser_offer: String,
        reply: oneshot::Sender<Result<String, MediaError>>,
    },
    SipReoffer {
        id: PeerId,
        sdp: String,
        reply: oneshot::Sender<Result<String, MediaError>>,
    },
    SipReanswer {
        id: PeerId,
        sdp: String,
        reply: oneshot::Sender<Result<(), MediaError>>,
    },
    BrowserReoffer {
        id: PeerId,
        offer: String,
        reply: oneshot::Sender<Result<(String, String), MediaError>>,
    },
    IncomingOffer {
        id: PeerId,
        sip_offer: String,
        events: mpsc::Sender<MediaEvent>,
        reply: oneshot::Sender<Result<String, MediaError>>,
    },
    IncomingAnswer {
        id: PeerId,
        browser_answer: String,
        reply: oneshot::Sender<Result<String, MediaError>>,
    },
    BridgeAnswer {
        id: PeerId,
        sip_answer: String,
        events: mpsc::Sender<MediaEvent>,
        reply: oneshot::Sender<Result<String, MediaError>>,
    },
    Stats {
        reply: oneshot::Sender<EngineStats>,
    },
}

impl Command {
    /// The peer a command is about (its work, should it panic).
    fn peer(&self) -> Option<PeerId> {
        match self {
            Command::Publish { id, .. }
            | Command::Subscribe { id, .. }
            | Command::Answer { id, .. }
            | Command::Candidate { id, .. }
            | Command::Forward { id, .. }
            | Command::Close { id }
            | Command::BridgeOffer { id, .. }
            | Command::SipReoffer { id, .. }
            | Command::SipReanswer { id, .. }
            | Command::BrowserReoffer { id, .. }
            | Command::IncomingOffer { id, .. }
            | Command::IncomingAnswer { id, .. }
            | Command::BridgeAnswer { id, .. } => Some(*id),
            Command::Stats { .. } => None,
        }
    }
}

/// Counters, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub peers: usize,
    pub datagrams_in: u64,
    pub datagrams_dropped: u64,
    pub rtp_forwarded: u64,
    pub keyframe_requests: u64,
    /// Video packets sent again over RTX on a subscriber's NACK.
    pub retransmissions: u64,
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
        // No reply: the command's work panicked (the engine took that peer out, and went on).
        rx.await.map_err(|_| MediaError::Failed)?
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

    /// Starts a 1:1 call: binds the plain RTP legs and returns the plain SDP offer toward SIP
    /// for the browser's offer.
    pub async fn bridge_offer(
        &self,
        id: PeerId,
        browser_offer: String,
    ) -> Result<String, MediaError> {
        self.call(|reply| Command::BridgeOffer {
            id,
            browser_offer,
            reply,
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
        self.call(|reply| Command::BridgeAnswer {
            id,
            sip_answer,
            events,
            reply,
        })
        .await
    }

    /// A re-INVITE from the SIP side (hold/unhold): returns the plain SDP answer.
    pub async fn sip_reoffer(&self, id: PeerId, sdp: String) -> Result<String, MediaError> {
        self.call(|reply| Command::SipReoffer { id, sdp, reply })
            .await
    }

    /// The SIP answer to a re-INVITE the gateway sent.
    pub async fn sip_reanswer(&self, id: PeerId, sdp: String) -> Result<(), MediaError> {
        self.call(|reply| Command::SipReanswer { id, sdp, reply })
            .await
    }

    /// A new browser offer on a call (hold/unhold): returns (browser answer, plain re-INVITE SDP).
    pub async fn browser_reoffer(
        &self,
        id: PeerId,
        offer: String,
    ) -> Result<(String, String), MediaError> {
        self.call(|reply| Command::BrowserReoffer { id, offer, reply })
            .await
    }

    /// An incoming SIP call: binds the plain legs and returns the WebRTC offer for the browser.
    pub async fn incoming_offer(
        &self,
        id: PeerId,
        sip_offer: String,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<String, MediaError> {
        self.call(|reply| Command::IncomingOffer {
            id,
            sip_offer,
            events,
            reply,
        })
        .await
    }

    /// The browser's answer to an incoming call: returns the plain SDP answer for SIP.
    pub async fn incoming_answer(
        &self,
        id: PeerId,
        browser_answer: String,
    ) -> Result<String, MediaError> {
        self.call(|reply| Command::IncomingAnswer {
            id,
            browser_answer,
            reply,
        })
        .await
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
    let mut sfu = Sfu::new(local_addr, candidates, config.consent_timeout, config.srtp);
    sfu.set_rtx_limits(config.rtx);
    sfu.set_panic_payload(config.panic_payload.clone());
    let (plain_tx, plain_rx) = mpsc::channel(4096);
    let io = Io {
        main: socket,
        main_addr: local_addr,
        legs: HashMap::new(),
        calls: HashMap::new(),
        plain_tx,
        ports: config.rtp_ports,
        next_port: config.rtp_ports.0,
        bind_ip: config.bind.ip(),
        advertise: config.advertise.first().copied().unwrap_or(local_addr.ip()),
    };
    tokio::spawn(supervise(Engine {
        io,
        sfu,
        rx,
        plain_rx,
    }));
    Ok(EngineHandle {
        tx,
        local_addr,
        ids: Arc::new(AtomicU64::new(1)),
    })
}

/// A datagram read by a plain leg's reader task: (leg's local address, sender, buffer, its
/// length in the buffer, where the buffer goes back to once handled).
type PlainDatagram = (
    SocketAddr,
    SocketAddr,
    Vec<u8>,
    usize,
    mpsc::Sender<Vec<u8>>,
);

/// Buffers a plain leg's reader keeps in circulation with the engine task.
const LEG_BUFFERS: usize = 8;
const DATAGRAM_MAX: usize = 2048;

/// The sockets: the shared WebRTC one, and one per plain RTP leg of a call.
struct Io {
    main: UdpSocket,
    main_addr: SocketAddr,
    legs: HashMap<SocketAddr, (Arc<UdpSocket>, tokio::task::JoinHandle<()>)>,
    calls: HashMap<PeerId, Vec<SocketAddr>>,
    /// Reader tasks hand datagrams to the engine here (full: dropped, as the network would).
    plain_tx: mpsc::Sender<PlainDatagram>,
    ports: (u16, u16),
    next_port: u16,
    bind_ip: IpAddr,
    advertise: IpAddr,
}

impl Io {
    /// Binds a plain RTP socket from the port range and starts its reader.
    fn bind_leg(&mut self) -> Result<SocketAddr, MediaError> {
        let (lo, hi) = self.ports;
        let span = u32::from(hi.saturating_sub(lo)) + 1;
        for _ in 0..span {
            let port = self.next_port;
            self.next_port = if port >= hi { lo } else { port + 1 };
            let Ok(std) = std::net::UdpSocket::bind((self.bind_ip, port)) else {
                continue;
            };
            if std.set_nonblocking(true).is_err() {
                continue;
            }
            let Ok(socket) = UdpSocket::from_std(std) else {
                continue;
            };
            let Ok(local) = socket.local_addr() else {
                continue;
            };
            let socket = Arc::new(socket);
            let reader = {
                let socket = socket.clone();
                let tx = self.plain_tx.clone();
                tokio::spawn(async move {
                    // Buffers come back from the engine task after each datagram: a few are
                    // allocated when the leg starts, then none per packet.
                    let (back_tx, mut back_rx) = mpsc::channel::<Vec<u8>>(LEG_BUFFERS);
                    loop {
                        let mut buf = back_rx.try_recv().unwrap_or_else(|_| vec![0; DATAGRAM_MAX]);
                        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                            break;
                        };
                        let _ = tx.try_send((local, from, buf, n, back_tx.clone()));
                    }
                })
            };
            self.legs.insert(local, (socket, reader));
            return Ok(local);
        }
        Err(MediaError::Rtc(
            "no free RTP port in the configured range".into(),
        ))
    }

    fn release(&mut self, id: PeerId) {
        for local in self.calls.remove(&id).unwrap_or_default() {
            if let Some((_, reader)) = self.legs.remove(&local) {
                reader.abort();
            }
        }
    }
}

impl crate::sfu::Transmit for Io {
    fn send(&mut self, from: SocketAddr, to: SocketAddr, data: &[u8]) -> bool {
        if from == self.main_addr {
            return self.main.try_send_to(data, to).is_ok();
        }
        match self.legs.get(&from) {
            Some((socket, _)) => socket.try_send_to(data, to).is_ok(),
            None => false,
        }
    }
}

/// Everything the engine task owns.
struct Engine {
    io: Io,
    sfu: Sfu,
    rx: mpsc::Receiver<Command>,
    plain_rx: mpsc::Receiver<PlainDatagram>,
}

/// Runs the engine, and runs it again if its loop ever panics outside the work of one peer
/// (which [`isolated`] contains): media must not stop for everyone while the server looks
/// alive.
async fn supervise(mut engine: Engine) {
    info!(addr = %engine.io.main_addr, "media engine listening");
    loop {
        match CatchUnwind(Box::pin(run(&mut engine))).await {
            Ok(()) => break,
            Err(panic) => {
                error!(panic = %panic_text(&panic), "media engine loop panicked: recovering and going on");
                isolated_recovery(&mut engine.sfu, &mut engine.io);
            }
        }
    }
    info!("media engine stopped");
}

async fn run(engine: &mut Engine) {
    let Engine {
        io,
        sfu,
        rx,
        plain_rx,
    } = engine;
    let mut buf = vec![0u8; DATAGRAM_MAX];
    loop {
        let wake = sfu
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + CONSENT_CHECK_PERIOD);
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => isolated(sfu, io, |sfu, io| command(sfu, cmd, io)),
                None => break,
            },
            res = io.main.recv_from(&mut buf) => match res {
                Ok((n, from)) => {
                    let data = &buf[..n];
                    isolated(sfu, io, |sfu, io| sfu.handle_datagram(Instant::now(), from, data, io))
                }
                Err(e) => debug!(error = %e, "media socket receive error"),
            },
            Some((local, from, data, n, back)) = plain_rx.recv() => {
                isolated(sfu, io, |sfu, io| {
                    sfu.handle_plain_datagram(Instant::now(), local, from, &data[..n], io)
                });
                // Full (the reader has enough) or gone: the buffer is simply freed.
                let _ = back.try_send(data);
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                isolated(sfu, io, |sfu, io| sfu.handle_timeout(Instant::now(), io));
            }
        }
    }
}

/// Runs one piece of the engine's work; a panic in it ends only the peer whose work it was
/// (told `Closed("internal error")`), and the engine goes on.
fn isolated(sfu: &mut Sfu, io: &mut Io, work: impl FnOnce(&mut Sfu, &mut Io)) {
    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(sfu, io)));
    if let Err(panic) = done {
        error!(panic = %panic_text(&panic), "panic in the media engine");
        isolated_recovery(sfu, io);
    }
}

fn isolated_recovery(sfu: &mut Sfu, io: &mut Io) {
    let recovered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sfu.recover()));
    match recovered {
        Ok(Some(peer)) => {
            io.release(peer);
            warn!(
                peer = peer.0,
                "peer removed after a panic in its media work; the others go on"
            );
        }
        Ok(None) => warn!("a panic outside any peer's media work; nothing removed"),
        Err(_) => error!("panic while recovering from a panic in the media engine"),
    }
}

/// What a panic said, for the log.
fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// A future whose panics come out as `Err` (the supervisor's catch).
struct CatchUnwind<F>(std::pin::Pin<Box<F>>);

impl<F: std::future::Future> std::future::Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let future = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    }
}

/// Binds one plain leg per media kind of an SDP (kind, socket address, advertised address).
fn bind_legs(
    io: &mut Io,
    id: PeerId,
    sdp: &str,
) -> Result<Vec<(Kind, SocketAddr, SocketAddr)>, MediaError> {
    let kinds: Vec<Kind> = sdp_plain::parse(sdp)?
        .iter()
        .filter(|m| m.port != 0)
        .filter_map(|m| m.kind)
        .collect();
    let mut locals = Vec::new();
    for kind in [Kind::Audio, Kind::Video] {
        if kinds.contains(&kind) {
            let local = io.bind_leg()?;
            io.calls.entry(id).or_default().push(local);
            let advertised = SocketAddr::new(io.advertise, local.port());
            locals.push((kind, local, advertised));
        }
    }
    Ok(locals)
}

/// Binds the legs for a browser's offer, then asks the core for the plain SDP offer.
fn bridge_offer(sfu: &mut Sfu, io: &mut Io, id: PeerId, offer: &str) -> Result<String, MediaError> {
    let locals = bind_legs(io, id, offer)?;
    let session_id = u64::from(rand::random::<u32>());
    sfu.bridge_offer(id, offer, &locals, session_id)
}

fn command(sfu: &mut Sfu, cmd: Command, tx: &mut Io) {
    let now = Instant::now();
    sfu.working_on(cmd.peer());
    match cmd {
        Command::Publish {
            id,
            offer,
            events,
            reply,
        } => {
            let _ = reply.send(sfu.publish(id, &offer, events, now, tx));
        }
        Command::Subscribe {
            id,
            publisher,
            audio,
            video,
            events,
            reply,
        } => {
            let _ = reply.send(sfu.subscribe(id, publisher, audio, video, events, now, tx));
        }
        Command::Answer { id, sdp, reply } => {
            let _ = reply.send(sfu.answer(id, &sdp, now, tx));
        }
        Command::Candidate {
            id,
            candidate,
            mid,
            index,
        } => sfu.candidate(id, &candidate, mid, index, now, tx),
        Command::Forward { id, options } => sfu.set_forward(id, options, now, tx),
        Command::Close { id } => {
            sfu.close(id, tx);
            tx.release(id);
        }
        Command::BridgeOffer {
            id,
            browser_offer,
            reply,
        } => {
            let result = bridge_offer(sfu, tx, id, &browser_offer);
            if result.is_err() {
                tx.release(id);
            }
            let _ = reply.send(result);
        }
        Command::SipReoffer { id, sdp, reply } => {
            let _ = reply.send(sfu.sip_reoffer(id, &sdp));
        }
        Command::SipReanswer { id, sdp, reply } => {
            let _ = reply.send(sfu.sip_reanswer(id, &sdp));
        }
        Command::BrowserReoffer { id, offer, reply } => {
            let _ = reply.send(sfu.browser_reoffer(id, &offer, now, tx));
        }
        Command::IncomingOffer {
            id,
            sip_offer,
            events,
            reply,
        } => {
            let result = bind_legs(tx, id, &sip_offer)
                .and_then(|locals| sfu.incoming_offer(id, &sip_offer, &locals, events, now, tx));
            if result.is_err() {
                tx.release(id);
            }
            let _ = reply.send(result);
        }
        Command::IncomingAnswer {
            id,
            browser_answer,
            reply,
        } => {
            let _ = reply.send(sfu.incoming_answer(id, &browser_answer, now, tx));
        }
        Command::BridgeAnswer {
            id,
            sip_answer,
            events,
            reply,
        } => {
            let _ = reply.send(sfu.bridge_answer(id, &sip_answer, events, now, tx));
        }
        Command::Stats { reply } => {
            let _ = reply.send(sfu.stats());
        }
    }
}
