//! ICE-TCP: the shard's listener and its connections (RFC 6544 passive candidates, RFC 4571
//! framing: a 2-byte length before each packet), for browsers whose network blocks UDP.
//!
//! A connection's frames go to the core as packets from its remote address
//! ([`crate::Core::handle_tcp_frame`]); what the core sends to that address goes back over
//! the connection. A connection must prove itself (an authentic STUN check for a live peer)
//! within [`PROVE_WITHIN`], and is closed once its address no longer leads to a peer.
//!
//! Bounds: [`MAX_CONNECTIONS`] per shard and [`MAX_PER_IP`] from one address (an IPv6 /64
//! counts as one), of which at most [`MAX_UNPROVED`] and [`MAX_UNPROVED_PER_IP`] not proved
//! yet; frames of at most [`MAX_FRAME`] bytes (a larger one closes the connection: WebRTC
//! packets are MTU-sized); a write queue that is full drops packets, as a full UDP socket
//! would.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::debug;

/// Connections of one shard at once.
pub const MAX_CONNECTIONS: usize = 4096;
/// Connections from one IP address (or IPv6 /64) at once: a company behind one NAT is many
/// browsers, each with a connection per publisher and per feed.
pub const MAX_PER_IP: usize = 256;
/// Connections of one shard that have not proved themselves yet.
pub const MAX_UNPROVED: usize = 256;
/// Connections from one address that have not proved themselves yet.
pub const MAX_UNPROVED_PER_IP: usize = 8;
/// Largest frame taken from a client.
pub const MAX_FRAME: usize = 4096;
/// Time a connection has to prove itself.
pub const PROVE_WITHIN: Duration = Duration::from_secs(10);
/// Frames queued for writing on one connection.
const WRITE_QUEUE: usize = 512;
/// Frames from every connection queued for the shard.
pub const READ_QUEUE: usize = 4096;

/// Binds an ICE-TCP listener (non-blocking; the IPv6 wildcard binds dual-stack).
pub fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(!addr.ip().is_unspecified())?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Tells connections apart that had the same remote address one after the other (a reader's
/// last words about an old one must not end the new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnId(u64);

/// What a connection's reader tells the shard.
pub enum TcpInput {
    Frame(SocketAddr, ConnId, Vec<u8>),
    Closed(SocketAddr, ConnId),
}

struct Conn {
    id: ConnId,
    tx: mpsc::Sender<Vec<u8>>,
    opened: Instant,
    /// It carried an authentic check for a live peer.
    proved: bool,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

/// The shard's ICE-TCP connections, by remote address.
pub struct TcpConns {
    conns: HashMap<SocketAddr, Conn>,
    /// Connections (all, and not yet proved) per address ([`source`]).
    per_ip: HashMap<IpAddr, (usize, usize)>,
    unproved: usize,
    next_id: u64,
    input: mpsc::Sender<TcpInput>,
}

/// The source a limit counts: the IPv4 address, or the /64 of an IPv6 one.
fn source(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

impl TcpConns {
    /// Connections whose readers report on `input`.
    pub fn new(input: mpsc::Sender<TcpInput>) -> TcpConns {
        TcpConns {
            conns: HashMap::new(),
            per_ip: HashMap::new(),
            unproved: 0,
            next_id: 0,
            input,
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// A new connection: taken within the limits (else closed at once).
    pub fn accepted(&mut self, stream: TcpStream, from: SocketAddr, now: Instant) {
        let from = super::udp::canonical(from);
        let (all, unproved) = self
            .per_ip
            .get(&source(from.ip()))
            .copied()
            .unwrap_or((0, 0));
        if self.conns.len() >= MAX_CONNECTIONS
            || self.unproved >= MAX_UNPROVED
            || all >= MAX_PER_IP
            || unproved >= MAX_UNPROVED_PER_IP
            || self.conns.contains_key(&from)
        {
            debug!(%from, "ICE-TCP connection refused: too many");
            return;
        }
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let id = ConnId(self.next_id);
        self.next_id += 1;
        let reader = tokio::spawn(read_frames(rd, from, id, self.input.clone()));
        let writer = tokio::spawn(write_frames(wr, rx));
        self.per_ip
            .insert(source(from.ip()), (all + 1, unproved + 1));
        self.unproved += 1;
        self.conns.insert(
            from,
            Conn {
                id,
                tx,
                opened: now,
                proved: false,
                reader,
                writer,
            },
        );
        debug!(%from, "ICE-TCP connection");
    }

    /// Whether `id` is the live connection from `from` (not an earlier one of that address).
    pub fn is_current(&self, from: SocketAddr, id: ConnId) -> bool {
        self.conns.get(&from).is_some_and(|c| c.id == id)
    }

    /// The connection from `from` proved itself (the core knows its address now).
    pub fn proved(&mut self, from: SocketAddr) {
        let Some(conn) = self.conns.get_mut(&from).filter(|c| !c.proved) else {
            return;
        };
        conn.proved = true;
        self.unproved -= 1;
        if let Some(n) = self.per_ip.get_mut(&source(from.ip())) {
            n.1 -= 1;
        }
    }

    /// Whether `to` is one of the connections.
    #[cfg(test)]
    pub fn contains(&self, to: SocketAddr) -> bool {
        !self.conns.is_empty() && self.conns.contains_key(&to)
    }

    /// Queues `data` on the connection to `to`; false when there is none or its queue is full.
    pub fn send(&self, to: SocketAddr, data: &[u8]) -> bool {
        let (Some(conn), Ok(len)) = (self.conns.get(&to), u16::try_from(data.len())) else {
            return false;
        };
        let mut frame = Vec::with_capacity(2 + data.len());
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(data);
        conn.tx.try_send(frame).is_ok()
    }

    /// Closes the connection from `from` (it ended, or it is no longer wanted); false when
    /// there was none.
    pub fn close(&mut self, from: SocketAddr) -> bool {
        let Some(conn) = self.conns.remove(&from) else {
            return false;
        };
        conn.reader.abort();
        conn.writer.abort();
        if !conn.proved {
            self.unproved -= 1;
        }
        let key = source(from.ip());
        if let Some(n) = self.per_ip.get_mut(&key) {
            n.0 -= 1;
            n.1 -= usize::from(!conn.proved);
            if n.0 == 0 {
                self.per_ip.remove(&key);
            }
        }
        debug!(%from, "ICE-TCP connection closed");
        true
    }

    /// The connections to close: older than [`PROVE_WITHIN`] and not (or no longer) leading
    /// to a peer.
    pub fn unwanted(&self, now: Instant, knows: impl Fn(SocketAddr) -> bool) -> Vec<SocketAddr> {
        self.conns
            .iter()
            .filter(|(addr, c)| now.duration_since(c.opened) >= PROVE_WITHIN && !knows(**addr))
            .map(|(addr, _)| *addr)
            .collect()
    }
}

impl Drop for TcpConns {
    fn drop(&mut self) {
        for conn in self.conns.values() {
            conn.reader.abort();
            conn.writer.abort();
        }
    }
}

/// Accepts on `listener` (after `pause`, which follows a failed accept: with no descriptor
/// left the backlog stays readable and would spin the shard), or waits forever when there is
/// none.
pub async fn accept(
    listener: &Option<TcpListener>,
    pause: Option<Instant>,
) -> io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => {
            if let Some(until) = pause {
                tokio::time::sleep_until(until.into()).await;
            }
            l.accept().await
        }
        None => std::future::pending().await,
    }
}

/// Reads RFC 4571 frames until the connection ends (or sends one over [`MAX_FRAME`]), then
/// says so.
async fn read_frames(
    mut rd: OwnedReadHalf,
    from: SocketAddr,
    id: ConnId,
    tx: mpsc::Sender<TcpInput>,
) {
    let mut len = [0u8; 2];
    loop {
        if rd.read_exact(&mut len).await.is_err() {
            break;
        }
        let n = usize::from(u16::from_be_bytes(len));
        if n == 0 {
            continue;
        }
        if n > MAX_FRAME {
            debug!(%from, len = n, "ICE-TCP frame too large: closing");
            break;
        }
        let mut frame = vec![0; n];
        if rd.read_exact(&mut frame).await.is_err() {
            break;
        }
        // Waiting here (the shard is busy) holds this connection back through TCP's own
        // flow control, not the others'.
        if tx.send(TcpInput::Frame(from, id, frame)).await.is_err() {
            return;
        }
    }
    let _ = tx.send(TcpInput::Closed(from, id)).await;
}

async fn write_frames(mut wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Vec<u8>>) {
    while let Some(frame) = rx.recv().await {
        if wr.write_all(&frame).await.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener on loopback, and connections reporting on the receiver.
    fn setup() -> (TcpListener, TcpConns, mpsc::Receiver<TcpInput>) {
        // Binding 127.0.0.1:0 in a test: any failure is the test machine's.
        let listener =
            TcpListener::from_std(bind("127.0.0.1:0".parse().unwrap()).unwrap()).unwrap();
        let (tx, rx) = mpsc::channel(16);
        (listener, TcpConns::new(tx), rx)
    }

    async fn pair(listener: &TcpListener) -> (TcpStream, TcpStream, SocketAddr) {
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, from) = listener.accept().await.unwrap();
        (client, server, from)
    }

    #[tokio::test]
    async fn frames_both_ways_then_the_close_is_reported() {
        let (listener, mut conns, mut rx) = setup();
        let (mut client, server, from) = pair(&listener).await;
        conns.accepted(server, from, Instant::now());
        assert!(conns.contains(from) && conns.len() == 1);
        // To the client: a 2-byte length, then the packet.
        assert!(conns.send(from, b"abc"));
        let mut got = [0u8; 5];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, &[0, 3, b'a', b'b', b'c']);
        // From the client: an empty frame is skipped, the next one arrives whole.
        client.write_all(&[0, 0, 0, 2, b'h', b'i']).await.unwrap();
        let id = match rx.recv().await.unwrap() {
            TcpInput::Frame(a, id, data) => {
                assert_eq!((a, data), (from, b"hi".to_vec()));
                id
            }
            TcpInput::Closed(..) => panic!("closed"),
        };
        assert!(conns.is_current(from, id));
        drop(client);
        assert!(matches!(rx.recv().await.unwrap(), TcpInput::Closed(a, i) if a == from && i == id));
        assert!(conns.close(from));
        assert!(!conns.close(from));
        assert!(conns.is_empty() && !conns.send(from, b"x"));
        assert!(!conns.is_current(from, id));
    }

    #[tokio::test]
    async fn a_frame_over_the_limit_closes_the_connection() {
        let (listener, mut conns, mut rx) = setup();
        let (mut client, server, from) = pair(&listener).await;
        conns.accepted(server, from, Instant::now());
        client.write_all(&[0xff, 0xff, 1, 2, 3]).await.unwrap();
        assert!(matches!(rx.recv().await.unwrap(), TcpInput::Closed(a, _) if a == from));
    }

    #[test]
    fn an_ipv6_64_counts_as_one_source() {
        let a = source("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = source("2001:db8:1:2:bbbb::2".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, source("2001:db8:1:3::1".parse().unwrap()));
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(source(v4), v4);
    }

    #[tokio::test]
    async fn connections_are_bounded_per_address_and_must_prove_themselves() {
        let (listener, mut conns, _rx) = setup();
        let now = Instant::now();
        let mut clients = Vec::new();
        let mut addrs = Vec::new();
        for _ in 0..MAX_UNPROVED_PER_IP + 3 {
            let (client, server, from) = pair(&listener).await;
            conns.accepted(server, from, now);
            clients.push(client);
            addrs.push(from);
        }
        // Only so many may wait to prove themselves from one address...
        assert_eq!(conns.len(), MAX_UNPROVED_PER_IP);
        // ...and once one has, another is taken.
        let proved = addrs[0];
        conns.proved(proved);
        conns.proved(proved);
        let (client, server, from) = pair(&listener).await;
        conns.accepted(server, from, now);
        clients.push(client);
        assert!(conns.contains(from));
        assert_eq!(conns.len(), MAX_UNPROVED_PER_IP + 1);
        // Before the deadline nothing is unwanted; after it, every connection but the one
        // whose address leads to a peer.
        assert!(conns.unwanted(now, |_| false).is_empty());
        let mut late = conns.unwanted(now + PROVE_WITHIN, |a| a == proved);
        late.sort();
        let mut want: Vec<SocketAddr> = addrs[1..MAX_UNPROVED_PER_IP].to_vec();
        want.push(from);
        want.sort();
        assert_eq!(late, want);
        for a in late {
            assert!(conns.close(a));
        }
        assert_eq!(conns.len(), 1);
        assert_eq!((conns.unproved, conns.per_ip.len()), (0, 1));
        // A frame larger than a u16 cannot be framed: refused.
        assert!(!conns.send(proved, &vec![0u8; 70_000]));
    }
}
