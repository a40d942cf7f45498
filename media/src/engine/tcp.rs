//! ICE-TCP: the shard's listener and its connections (RFC 6544 passive candidates, RFC 4571
//! framing: a 2-byte length before each packet), for browsers whose network blocks UDP.
//!
//! A connection's frames go to the core as packets from its remote address
//! ([`crate::Core::handle_tcp_frame`]); what the core sends to that address goes back over
//! the connection. A connection must prove itself (an authentic STUN check for a live peer)
//! within [`PROVE_WITHIN`], and is closed once its address no longer leads to a peer. Limits:
//! [`MAX_CONNECTIONS`] per shard and [`MAX_PER_IP`] from one address; a write queue that is
//! full drops packets, as a full UDP socket would.

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
/// Connections from one IP address at once.
pub const MAX_PER_IP: usize = 32;
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

/// What a connection's reader tells the shard.
pub enum TcpInput {
    Frame(SocketAddr, Vec<u8>),
    Closed(SocketAddr),
}

struct Conn {
    tx: mpsc::Sender<Vec<u8>>,
    opened: Instant,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

/// The shard's ICE-TCP connections, by remote address.
pub struct TcpConns {
    conns: HashMap<SocketAddr, Conn>,
    per_ip: HashMap<IpAddr, usize>,
    input: mpsc::Sender<TcpInput>,
}

impl TcpConns {
    /// Connections whose readers report on `input`.
    pub fn new(input: mpsc::Sender<TcpInput>) -> TcpConns {
        TcpConns {
            conns: HashMap::new(),
            per_ip: HashMap::new(),
            input,
        }
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// A new connection: taken within the limits (else closed at once).
    pub fn accepted(&mut self, stream: TcpStream, from: SocketAddr, now: Instant) {
        let from = super::udp::canonical(from);
        let n = self.per_ip.get(&from.ip()).copied().unwrap_or(0);
        if self.conns.len() >= MAX_CONNECTIONS || n >= MAX_PER_IP || self.conns.contains_key(&from)
        {
            debug!(%from, "ICE-TCP connection refused: too many");
            return;
        }
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let reader = tokio::spawn(read_frames(rd, from, self.input.clone()));
        let writer = tokio::spawn(write_frames(wr, rx));
        self.per_ip.insert(from.ip(), n + 1);
        self.conns.insert(
            from,
            Conn {
                tx,
                opened: now,
                reader,
                writer,
            },
        );
        debug!(%from, "ICE-TCP connection");
    }

    /// Whether `to` is one of the connections.
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

    /// Closes the connection from `from` (it ended, or it is no longer wanted).
    pub fn close(&mut self, from: SocketAddr) {
        let Some(conn) = self.conns.remove(&from) else {
            return;
        };
        conn.reader.abort();
        conn.writer.abort();
        if let Some(n) = self.per_ip.get_mut(&from.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&from.ip());
            }
        }
        debug!(%from, "ICE-TCP connection closed");
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

/// Accepts on `listener`, or waits forever when there is none.
pub async fn accept(listener: &Option<TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Reads RFC 4571 frames until the connection ends, then says so.
async fn read_frames(mut rd: OwnedReadHalf, from: SocketAddr, tx: mpsc::Sender<TcpInput>) {
    let mut len = [0u8; 2];
    loop {
        if rd.read_exact(&mut len).await.is_err() {
            break;
        }
        let n = usize::from(u16::from_be_bytes(len));
        if n == 0 {
            continue;
        }
        let mut frame = vec![0; n];
        if rd.read_exact(&mut frame).await.is_err() {
            break;
        }
        // Waiting here (the shard is busy) holds this connection back through TCP's own
        // flow control, not the others'.
        if tx.send(TcpInput::Frame(from, frame)).await.is_err() {
            return;
        }
    }
    let _ = tx.send(TcpInput::Closed(from)).await;
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

    async fn pair(listener: &TcpListener) -> (TcpStream, TcpStream, SocketAddr) {
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, from) = listener.accept().await.unwrap();
        (client, server, from)
    }

    #[tokio::test]
    async fn frames_both_ways_then_the_close_is_reported() {
        let listener =
            TcpListener::from_std(bind("127.0.0.1:0".parse().unwrap()).unwrap()).unwrap();
        let (tx, mut rx) = mpsc::channel(16);
        let mut conns = TcpConns::new(tx);
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
        match rx.recv().await.unwrap() {
            TcpInput::Frame(a, data) => assert_eq!((a, data), (from, b"hi".to_vec())),
            TcpInput::Closed(_) => panic!("closed"),
        }
        drop(client);
        assert!(matches!(rx.recv().await.unwrap(), TcpInput::Closed(a) if a == from));
        conns.close(from);
        assert!(conns.is_empty() && !conns.send(from, b"x"));
    }

    #[tokio::test]
    async fn connections_are_bounded_per_address_and_must_prove_themselves() {
        let listener =
            TcpListener::from_std(bind("127.0.0.1:0".parse().unwrap()).unwrap()).unwrap();
        let (tx, _rx) = mpsc::channel(16);
        let mut conns = TcpConns::new(tx);
        let now = Instant::now();
        let mut clients = Vec::new();
        let mut addrs = Vec::new();
        for _ in 0..MAX_PER_IP + 3 {
            let (client, server, from) = pair(&listener).await;
            conns.accepted(server, from, now);
            clients.push(client);
            addrs.push(from);
        }
        assert_eq!(conns.len(), MAX_PER_IP);
        // Before the deadline nothing is unwanted; after it, every connection but the one
        // whose address leads to a peer.
        assert!(conns.unwanted(now, |_| false).is_empty());
        let proved = addrs[0];
        let mut late = conns.unwanted(now + PROVE_WITHIN, |a| a == proved);
        late.sort();
        let mut want: Vec<SocketAddr> = addrs[1..MAX_PER_IP].to_vec();
        want.sort();
        assert_eq!(late, want);
        for a in late {
            conns.close(a);
        }
        assert_eq!(conns.len(), 1);
        // A frame larger than a u16 cannot be framed: refused.
        assert!(!conns.send(proved, &vec![0u8; 70_000]));
    }
}
