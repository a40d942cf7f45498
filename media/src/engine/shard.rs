//! One shard's thread: its runtime, its sockets, and the drain loop around its [`Core`]:
//! wait for datagrams, an operation or the earliest timeout -> feed the core (a whole batch
//! of datagrams at once) -> send every datagram it decided with as few syscalls as the
//! batch allows -> deliver its events.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use super::tcp::{self, TcpConns, TcpInput};
use super::udp::Socket;
use super::Command;
use crate::bridge::sdp;
use crate::core::{Core, MediaEvent, PeerEvent, CONSENT_CHECK_PERIOD};
use crate::ids::{Kind, PeerId, ShardId, Via};
use crate::outbox::Outbox;
use crate::MediaError;

/// Everything a shard thread starts with.
pub(super) struct Setup {
    pub id: ShardId,
    pub socket: std::net::UdpSocket,
    /// The ICE-TCP listener (none: ICE-TCP is off).
    pub tcp: Option<std::net::TcpListener>,
    pub core: Core,
    pub rx: mpsc::Receiver<Command>,
    pub load: Arc<AtomicUsize>,
    pub rtp_ports: (u16, u16),
    pub bind_ip: IpAddr,
    pub advertise: IpAddr,
    pub send_batch: usize,
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

/// Buffers a plain leg's reader keeps in circulation with the shard.
const LEG_BUFFERS: usize = 8;
const DATAGRAM_MAX: usize = 2048;
/// How often ICE-TCP connections are checked (proved in time, peer still there).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// How long accepts wait after one failed (no descriptor left, say).
const ACCEPT_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);
/// Receive batches handled before operations and timers get their turn.
const BATCHES_PER_WAKE: usize = 8;

/// What an operation runs with: the core, the application's event channels, the legs.
pub(crate) struct Shard {
    pub core: Core,
    /// Where each peer's events go (removed when it closes).
    pub events: HashMap<PeerId, mpsc::Sender<MediaEvent>>,
    legs: HashMap<SocketAddr, (Arc<UdpSocket>, tokio::task::JoinHandle<()>)>,
    calls: HashMap<PeerId, Vec<SocketAddr>>,
    /// Reader tasks hand datagrams to the shard here (full: dropped, as the network would).
    plain_tx: mpsc::Sender<PlainDatagram>,
    ports: (u16, u16),
    next_port: u16,
    bind_ip: IpAddr,
    advertise: IpAddr,
    /// ICE-TCP connections.
    tcp: TcpConns,
}

impl Shard {
    /// Binds one plain leg per media kind of an SDP: (kind, socket address, advertised).
    pub fn bind_legs(
        &mut self,
        id: PeerId,
        sdp: &str,
    ) -> Result<Vec<(Kind, SocketAddr, SocketAddr)>, MediaError> {
        let kinds: Vec<Kind> = sdp::parse(sdp)?
            .iter()
            .filter(|m| m.port != 0)
            .filter_map(|m| m.kind)
            .collect();
        self.bind_kinds(id, &kinds)
    }

    /// Binds one plain RTP leg for each of `kinds` (in the order audio, video) for call `id`.
    pub fn bind_kinds(
        &mut self,
        id: PeerId,
        kinds: &[Kind],
    ) -> Result<Vec<(Kind, SocketAddr, SocketAddr)>, MediaError> {
        let mut locals = Vec::new();
        for kind in [Kind::Audio, Kind::Video] {
            if kinds.contains(&kind) {
                let local = self.bind_leg()?;
                self.calls.entry(id).or_default().push(local);
                locals.push((kind, local, SocketAddr::new(self.advertise, local.port())));
            }
        }
        Ok(locals)
    }

    /// Binds a plain RTP socket from the port range and starts its reader.
    fn bind_leg(&mut self) -> Result<SocketAddr, MediaError> {
        let (lo, hi) = self.ports;
        let span = u32::from(hi.saturating_sub(lo)) + 1;
        for _ in 0..span {
            let port = self.next_port;
            self.next_port = if port >= hi { lo } else { port + 1 };
            let Ok(std) = super::udp::bind(SocketAddr::new(self.bind_ip, port)) else {
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
                    // Buffers come back from the shard after each datagram: a few are
                    // allocated when the leg starts, then none per packet.
                    let (back_tx, mut back_rx) = mpsc::channel::<Vec<u8>>(LEG_BUFFERS);
                    loop {
                        let mut buf = back_rx.try_recv().unwrap_or_else(|_| vec![0; DATAGRAM_MAX]);
                        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                            break;
                        };
                        let from = super::udp::canonical(from);
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

    /// Closes a call's leg sockets.
    pub fn release(&mut self, id: PeerId) {
        for local in self.calls.remove(&id).unwrap_or_default() {
            if let Some((_, reader)) = self.legs.remove(&local) {
                reader.abort();
            }
        }
    }

    /// Sends a plain leg's datagram.
    fn send_plain(&self, from: SocketAddr, to: SocketAddr, data: &[u8]) -> bool {
        match self.legs.get(&from) {
            Some((socket, _)) => socket
                .try_send_to(data, super::udp::destination(from, to))
                .is_ok(),
            None => false,
        }
    }
}

/// The shard thread: its own current-thread runtime, running the supervised loop.
pub(super) fn run_thread(setup: Setup) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!(shard = setup.id.0, error = %e, "media shard cannot start its runtime");
            return;
        }
    };
    runtime.block_on(supervise(setup));
}

/// The loop's state beside the [`Shard`].
struct Io {
    socket: Socket,
    local: SocketAddr,
    outbox: Outbox,
    plain_rx: mpsc::Receiver<PlainDatagram>,
    rx: mpsc::Receiver<Command>,
    load: Arc<AtomicUsize>,
    tcp_listener: Option<tokio::net::TcpListener>,
    tcp_rx: mpsc::Receiver<TcpInput>,
    /// After a failed accept, the next one waits until then.
    accept_pause: Option<Instant>,
    /// When ICE-TCP connections are checked ([`sweep_tcp`]).
    sweep: tokio::time::Interval,
}

/// Runs the shard, and runs it again if its loop ever panics outside the work of one peer
/// (which [`isolated`] contains): media must not stop for everyone while the server looks
/// alive.
async fn supervise(setup: Setup) {
    let io = match Socket::new(setup.socket, setup.send_batch) {
        Ok(s) => s,
        Err(e) => {
            error!(shard = setup.id.0, error = %e, "media shard cannot use its socket");
            return;
        }
    };
    let local = setup.core.local_addr();
    let (plain_tx, plain_rx) = mpsc::channel(4096);
    let (tcp_tx, tcp_rx) = mpsc::channel(tcp::READ_QUEUE);
    let tcp_listener = match setup.tcp.map(tokio::net::TcpListener::from_std).transpose() {
        Ok(l) => l,
        Err(e) => {
            error!(shard = setup.id.0, error = %e, "media shard cannot use its ICE-TCP listener");
            None
        }
    };
    let mut shard = Shard {
        core: setup.core,
        events: HashMap::new(),
        legs: HashMap::new(),
        calls: HashMap::new(),
        plain_tx,
        ports: setup.rtp_ports,
        next_port: setup.rtp_ports.0,
        bind_ip: setup.bind_ip,
        advertise: setup.advertise,
        tcp: TcpConns::new(tcp_tx),
    };
    let mut io = Io {
        socket: io,
        local,
        outbox: Outbox::default(),
        plain_rx,
        rx: setup.rx,
        load: setup.load,
        tcp_listener,
        tcp_rx,
        accept_pause: None,
        sweep: tokio::time::interval(SWEEP_EVERY),
    };
    let tcp_addr = io.tcp_listener.as_ref().and_then(|l| l.local_addr().ok());
    info!(shard = setup.id.0, addr = %local, ice_tcp = ?tcp_addr, "media shard listening");
    loop {
        match CatchUnwind(Box::pin(run(&mut shard, &mut io))).await {
            Ok(()) => break,
            Err(panic) => {
                error!(panic = %panic_text(&panic), "media shard loop panicked: recovering and going on");
                recover(&mut shard);
            }
        }
    }
    debug!(shard = setup.id.0, "media shard stopped");
}

async fn run(shard: &mut Shard, io: &mut Io) {
    loop {
        let wake = shard
            .core
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + CONSENT_CHECK_PERIOD);
        // Set when a branch starts working: from then to the end of the flush is busy time.
        let woke: Instant;
        tokio::select! {
            cmd = io.rx.recv() => match cmd {
                Some(cmd) => {
                    woke = Instant::now();
                    shard.core.working_on(cmd.peer);
                    let work = cmd.work;
                    let start = Instant::now();
                    isolated(shard, |s| work(s, start));
                    debug!(
                        peer = cmd.peer.map_or(0, |p| p.0),
                        op = cmd.op,
                        us = start.elapsed().as_micros() as u64,
                        "operation done"
                    );
                }
                None => break,
            },
            ready = io.socket.readable() => {
                woke = Instant::now();
                if let Err(e) = ready {
                    debug!(error = %e, "media socket error");
                }
                for _ in 0..BATCHES_PER_WAKE {
                    let now = Instant::now();
                    let local = io.local;
                    let read = io.socket.recv_batch(|from, data| {
                        isolated(shard, |s| s.core.handle_datagram(now, local, from, data));
                    });
                    match read {
                        Ok(0) => break,
                        Ok(_) => flush(shard, io),
                        Err(e) => {
                            debug!(error = %e, "media socket receive error");
                            break;
                        }
                    }
                }
            }
            Some((local, from, data, n, back)) = io.plain_rx.recv() => {
                woke = Instant::now();
                isolated(shard, |s| s.core.handle_datagram(Instant::now(), local, from, &data[..n]));
                // Full (the reader has enough) or gone: the buffer is simply freed.
                let _ = back.try_send(data);
            }
            accepted = tcp::accept(&io.tcp_listener, io.accept_pause) => {
                woke = Instant::now();
                match accepted {
                    Ok((stream, from)) => {
                        io.accept_pause = None;
                        shard.tcp.accepted(stream, from, woke);
                    }
                    Err(e) => {
                        warn!(error = %e, "ICE-TCP accept failed: pausing accepts");
                        io.accept_pause = Some(woke + ACCEPT_PAUSE);
                    }
                }
            }
            Some(input) = io.tcp_rx.recv() => {
                woke = Instant::now();
                match input {
                    TcpInput::Frame(from, id, data) => {
                        if shard.tcp.is_current(from, id) {
                            isolated(shard, |s| s.core.handle_tcp_frame(woke, from, &data));
                            if shard.core.knows_tcp(from) {
                                shard.tcp.proved(from);
                            }
                        }
                    }
                    TcpInput::Closed(from, id) => {
                        if shard.tcp.is_current(from, id) && shard.tcp.close(from) {
                            shard.core.tcp_closed(from);
                        }
                    }
                }
            }
            _ = io.sweep.tick(), if !shard.tcp.is_empty() => {
                woke = Instant::now();
                sweep_tcp(shard, woke);
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                woke = Instant::now();
                isolated(shard, |s| s.core.handle_timeout(woke));
            }
        }
        flush(shard, io);
        shard.core.count_busy(woke.elapsed().as_micros() as u64);
    }
}

/// Closes the ICE-TCP connections that did not prove themselves in time, or whose peer is
/// gone (the core forgot their address).
fn sweep_tcp(shard: &mut Shard, now: Instant) {
    if shard.tcp.is_empty() {
        return;
    }
    let core = &shard.core;
    for from in shard.tcp.unwanted(now, |a| core.knows_tcp(a)) {
        if shard.tcp.close(from) {
            shard.core.tcp_closed(from);
        }
    }
}

/// Sends what the core decided and delivers its events.
fn flush(shard: &mut Shard, io: &mut Io) {
    if shard.core.poll_transmit(&mut io.outbox) {
        let (count, bytes) = (io.outbox.len() as u64, io.outbox.bytes() as u64);
        let dropped = io
            .socket
            .send_all(io.local, &io.outbox, |via, from, to, data| match via {
                Via::Tcp => shard.tcp.send(to, data),
                Via::Udp => shard.send_plain(from, to, data),
            });
        shard.core.count_dropped(dropped);
        shard.core.count_sent(count - dropped.min(count), bytes);
        io.outbox.clear();
    }
    while let Some(event) = shard.core.poll_event() {
        let peer = event.peer;
        let closed = matches!(event.event, PeerEvent::Closed(_));
        match shard.events.get(&peer) {
            Some(tx) => {
                if let Err(e) = tx.try_send(event) {
                    warn!(peer = peer.0, error = %e, "media event not delivered");
                }
            }
            None => debug!(peer = peer.0, "media event for a peer nobody listens to"),
        }
        if closed {
            shard.events.remove(&peer);
            shard.release(peer);
        }
    }
    // Closed by the application: no event, so forget its channel here.
    if shard.events.len() > shard.core.len() + 16 {
        let core = &shard.core;
        shard.events.retain(|id, _| core.contains(*id));
    }
    io.load.store(shard.core.len(), Ordering::Relaxed);
}

/// Runs one piece of the shard's work; a panic in it ends only the peer whose work it was
/// (told `Closed("internal error")`), and the shard goes on.
fn isolated(shard: &mut Shard, work: impl FnOnce(&mut Shard)) {
    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(shard)));
    if let Err(panic) = done {
        error!(panic = %panic_text(&panic), "panic in the media engine");
        recover(shard);
    }
}

fn recover(shard: &mut Shard) {
    let recovered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shard.core.recover()));
    match recovered {
        Ok(Some(peer)) => {
            shard.release(peer);
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
