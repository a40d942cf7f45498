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
use tracing::{debug, info};

use crate::peer::SrtpPolicy;
use crate::sfu::{Sfu, CONSENT_CHECK_PERIOD};
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
    let sfu = Sfu::new(local_addr, candidates, config.consent_timeout, config.srtp);
    tokio::spawn(run(socket, sfu, rx));
    Ok(EngineHandle {
        tx,
        local_addr,
        ids: Arc::new(AtomicU64::new(1)),
    })
}

/// Sends through the socket without waiting: a full buffer drops the datagram.
struct SocketTx<'a>(&'a UdpSocket);

impl crate::sfu::Transmit for SocketTx<'_> {
    fn send(&mut self, _from: SocketAddr, to: SocketAddr, data: &[u8]) -> bool {
        self.0.try_send_to(data, to).is_ok()
    }
}

async fn run(socket: UdpSocket, mut sfu: Sfu, mut rx: mpsc::Receiver<Command>) {
    info!(addr = ?socket.local_addr().ok(), "media engine listening");
    let mut buf = vec![0u8; 2048];
    loop {
        let wake = sfu
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + CONSENT_CHECK_PERIOD);
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => command(&mut sfu, cmd, &mut SocketTx(&socket)),
                None => break,
            },
            res = socket.recv_from(&mut buf) => match res {
                Ok((n, from)) => sfu.handle_datagram(Instant::now(), from, &buf[..n], &mut SocketTx(&socket)),
                Err(e) => debug!(error = %e, "media socket receive error"),
            },
            _ = tokio::time::sleep_until(wake.into()) => {
                sfu.handle_timeout(Instant::now(), &mut SocketTx(&socket));
            }
        }
    }
    info!("media engine stopped");
}

fn command(sfu: &mut Sfu, cmd: Command, tx: &mut SocketTx<'_>) {
    let now = Instant::now();
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
        Command::Close { id } => sfu.close(id, tx),
        Command::Stats { reply } => {
            let _ = reply.send(sfu.stats());
        }
    }
}
