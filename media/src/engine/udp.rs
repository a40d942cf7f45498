//! The shard's shared WebRTC socket, read and written in batches.
//!
//! * Receive: `quinn-udp` (recvmmsg, up to 32 datagrams per syscall, and UDP GRO where the
//!   kernel has it: several datagrams of one flow in one buffer, split here by stride).
//! * Send: sendmmsg, up to [`MAX_BATCH`] datagrams to any number of destinations per
//!   syscall. `quinn-udp`'s send is one sendmsg per destination (with GSO for a run of
//!   segments to it), which suits QUIC; an SFU sends each packet to N different browsers,
//!   so a per-destination call is one syscall per copy, what the profile blamed. Runs to one
//!   destination are rare in a fan-out batch (a subscriber gets one copy per packet in), so
//!   GSO is not used.
//!
//! A full socket buffer drops what did not fit (as the network would): media is never
//! queued behind a slow socket.
//!
//! The socket is registered with the reactor for reading only. Sends never wait for
//! writability, and a socket registered for both (tokio's `UdpSocket`) reports every freed
//! send buffer as an edge: the shard's `epoll_wait` then returned twice per datagram handled,
//! once for nothing.

use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};

use quinn_udp::{RecvMeta, UdpSocketState};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::ids::Via;
use crate::outbox::Outbox;

/// Most datagrams handed to one sendmmsg call.
pub const MAX_BATCH: usize = 64;
/// Receive buffers per recvmmsg call (quinn-udp's batch on Linux).
const RECV_BUFFERS: usize = quinn_udp::BATCH_SIZE;

/// Binds a UDP socket. The IPv6 wildcard binds dual-stack (IPv4 arrives as `::ffff:a.b.c.d`,
/// which [`canonical`] turns back into IPv4) whatever the system's `bindv6only` says.
pub fn bind(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(!addr.ip().is_unspecified())?;
    }
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Whether binding `addr` failed only for want of IPv6 on this host, so that the IPv4
/// wildcard is worth a try: `addr` is the IPv6 wildcard, and the port is neither taken nor
/// forbidden.
pub fn no_ipv6(addr: SocketAddr, e: &io::Error) -> bool {
    addr.ip() == std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        && !matches!(
            e.kind(),
            io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
        )
}

/// The address as the core knows it: IPv4-mapped IPv6 (a dual-stack socket's view of an
/// IPv4 peer) as plain IPv4.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// The destination as a socket bound to `local` takes it: an IPv4 peer of a dual-stack
/// socket is written as IPv4-mapped IPv6.
pub fn destination(local: SocketAddr, to: SocketAddr) -> SocketAddr {
    match (local, to) {
        (SocketAddr::V6(_), SocketAddr::V4(v4)) => {
            SocketAddr::new(std::net::IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
        }
        _ => to,
    }
}

/// A socket with its batch state and buffers.
pub struct Socket {
    io: AsyncFd<UdpSocket>,
    state: UdpSocketState,
    /// Receive buffers (each large enough for a GRO batch) and their metadata.
    bufs: Box<[Vec<u8>; RECV_BUFFERS]>,
    meta: [RecvMeta; RECV_BUFFERS],
    /// Datagrams per sendmmsg (1: one sendto per datagram; for measuring).
    batch: usize,
}

impl Socket {
    /// Takes a bound socket (made non-blocking here); needs a tokio runtime with IO.
    pub fn new(io: UdpSocket, batch: usize) -> io::Result<Socket> {
        io.set_nonblocking(true)?;
        let state = UdpSocketState::new((&io).into())?;
        let per_buffer = (state.gro_segments().max(1) * 2048).min(u16::MAX as usize);
        // SAFETY: a std `UdpSocket` owns its descriptor and always returns that one; it stays
        // open for as long as the `AsyncFd` owns the socket.
        let io = unsafe { AsyncFd::register_with_interest(io, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(Socket {
            io,
            state,
            bufs: Box::new(std::array::from_fn(|_| vec![0; per_buffer])),
            meta: [RecvMeta::default(); RECV_BUFFERS],
            batch: batch.clamp(1, MAX_BATCH),
        })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Waits until the reactor says datagrams may be waiting ([`Socket::recv_batch`] reads
    /// them, and waiting starts over once it finds none).
    pub async fn readable(&self) -> io::Result<()> {
        // Dropped without clearing: the readiness stays until a read would block.
        self.io.readable().await.map(drop)
    }

    /// Reads what is waiting (without blocking) and hands each datagram to `each`; returns
    /// how many were read (0: nothing waiting).
    pub fn recv_batch(&mut self, mut each: impl FnMut(SocketAddr, &[u8])) -> io::Result<usize> {
        let Socket {
            io,
            state,
            bufs,
            meta,
            ..
        } = self;
        // Not ready as far as the reactor knows: nothing to read until it says so again.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut guard = match io.poll_read_ready(&mut cx) {
            std::task::Poll::Ready(Ok(guard)) => guard,
            std::task::Poll::Ready(Err(e)) => return Err(e),
            std::task::Poll::Pending => return Ok(0),
        };
        // On the stack: no allocation per call.
        let mut slices = bufs.each_mut().map(|b| IoSliceMut::new(b));
        // A read that would block clears the readiness (the next edge sets it again).
        let n = match guard.try_io(|fd| state.recv(fd.get_ref().into(), &mut slices, &mut meta[..]))
        {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => return Ok(0),
        };
        // Fewer than asked for: the queue was empty, so the read that would block is saved
        // (as tokio does for a short stream read). A datagram arriving since is an edge that
        // epoll keeps for the next wait, and a readiness newer than this guard's is not
        // cleared.
        if n < RECV_BUFFERS {
            guard.clear_ready();
        }
        let mut count = 0;
        for (m, buf) in meta.iter().zip(slices.iter()).take(n) {
            let stride = if m.stride == 0 { m.len } else { m.stride };
            let from = canonical(m.addr);
            for d in buf[..m.len].chunks(stride.max(1)) {
                each(from, d);
                count += 1;
            }
        }
        Ok(count)
    }

    /// Sends the outbox's datagrams from this socket (`local`); returns how many were not
    /// sent. Datagrams from other local sockets, and ICE-TCP frames, are left to `other`
    /// (with `Via::Tcp` for a frame).
    pub fn send_all(
        &self,
        local: SocketAddr,
        out: &Outbox,
        mut other: impl FnMut(Via, SocketAddr, SocketAddr, &[u8]) -> bool,
    ) -> u64 {
        let mut dropped = 0;
        let mut batch: Vec<(SocketAddr, &[u8])> = Vec::with_capacity(self.batch);
        for (via, from, to, data) in out.iter_via() {
            if from != local || via == Via::Tcp {
                dropped += u64::from(!other(via, from, to, data));
                continue;
            }
            batch.push((destination(local, to), data));
            if batch.len() == self.batch {
                dropped += self.send_batch(&batch);
                batch.clear();
            }
        }
        if !batch.is_empty() {
            dropped += self.send_batch(&batch);
        }
        dropped
    }

    /// One sendmmsg (or sendto) call for up to [`MAX_BATCH`] datagrams; returns how many
    /// were dropped.
    fn send_batch(&self, batch: &[(SocketAddr, &[u8])]) -> u64 {
        if batch.len() == 1 {
            // Straight to the kernel: the socket is non-blocking, and the reactor does not
            // watch it for writing.
            let (to, data) = batch[0];
            let sock = socket2::SockRef::from(self.io.get_ref());
            return u64::from(sock.send_to(data, &to.into()).is_err());
        }
        let sent = sendmmsg(self.io.get_ref(), batch);
        (batch.len() - sent) as u64
    }
}

/// Sends each datagram of `batch` to its destination with as few syscalls as the kernel
/// allows; returns how many were sent (a full buffer stops it; the rest are dropped).
#[cfg(target_os = "linux")]
fn sendmmsg(io: &UdpSocket, batch: &[(SocketAddr, &[u8])]) -> usize {
    use std::os::fd::AsRawFd;
    let addrs: Vec<socket2::SockAddr> = batch.iter().map(|(to, _)| (*to).into()).collect();
    let mut iovs: Vec<libc::iovec> = batch
        .iter()
        .map(|(_, data)| libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        })
        .collect();
    // SAFETY: an all-zero mmsghdr is valid (null pointers, zero lengths).
    let mut msgs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; batch.len()];
    for (i, m) in msgs.iter_mut().enumerate() {
        m.msg_hdr.msg_name = addrs[i].as_ptr() as *mut libc::c_void;
        m.msg_hdr.msg_namelen = addrs[i].len();
        m.msg_hdr.msg_iov = &mut iovs[i];
        m.msg_hdr.msg_iovlen = 1;
    }
    let mut done = 0;
    while done < msgs.len() {
        let left = &mut msgs[done..];
        // Straight to the kernel (the reactor does not watch the socket for writing):
        // MSG_DONTWAIT never blocks the shard.
        // SAFETY: every pointer in `left` points into `addrs`, `iovs` and `batch`, which
        // outlive the call; the count is `left`'s length.
        let n = unsafe {
            libc::sendmmsg(
                io.as_raw_fd(),
                left.as_mut_ptr(),
                left.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        let r = if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        };
        match r {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            // An error about one destination (unreachable, refused): skip it, go on.
            Err(_) => done += 1,
        }
    }
    done
}

#[cfg(not(target_os = "linux"))]
fn sendmmsg(io: &UdpSocket, batch: &[(SocketAddr, &[u8])]) -> usize {
    batch
        .iter()
        .filter(|(to, data)| io.send_to(data, *to).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dual_stack_socket_talks_to_ipv4_peers_in_plain_ipv4() {
        let sock = bind("[::]:0".parse().unwrap()).unwrap();
        let port = sock.local_addr().unwrap().port();
        let mut sock = Socket::new(sock, MAX_BATCH).unwrap();
        let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let peer_addr = peer.local_addr().unwrap();
        peer.send_to(b"hello", ("127.0.0.1", port)).await.unwrap();
        let mut got = Vec::new();
        while got.is_empty() {
            sock.readable().await.unwrap();
            sock.recv_batch(|from, d| got.push((from, d.to_vec())))
                .unwrap();
        }
        // Seen as IPv4, not ::ffff:127.0.0.1.
        assert_eq!(got, vec![(peer_addr, b"hello".to_vec())]);
        let local = sock.local_addr().unwrap();
        let mut out = Outbox::default();
        out.push(local, peer_addr, b"back");
        assert_eq!(sock.send_all(local, &out, |_, _, _, _| false), 0);
        let mut buf = [0u8; 16];
        let (n, from) = peer.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from.port()), (&b"back"[..], port));
        assert_eq!(
            canonical("[::ffff:10.0.0.1]:5".parse().unwrap()),
            "10.0.0.1:5".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            destination("[::]:1".parse().unwrap(), "10.0.0.1:5".parse().unwrap()),
            "[::ffff:10.0.0.1]:5".parse::<SocketAddr>().unwrap()
        );
    }

    #[tokio::test]
    async fn a_short_batch_ends_the_reading_and_the_next_datagram_wakes_it_again() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = a.local_addr().unwrap();
        let mut sock = Socket::new(a, MAX_BATCH).unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        // More than one batch waiting (loopback queues each before send_to returns): read
        // without waiting in between, the full batch keeping the readiness.
        for i in 0..40u8 {
            peer.send_to(&[i], addr).unwrap();
        }
        sock.readable().await.unwrap();
        let mut got = Vec::new();
        while got.len() < 40 {
            let n = sock.recv_batch(|_, d| got.push(d[0])).unwrap();
            assert!(n > 0, "stopped after {got:?}");
        }
        assert_eq!(got, (0..40).collect::<Vec<u8>>());
        // The short batch cleared the readiness: nothing more until the next datagram, which
        // the reactor still reports.
        assert_eq!(sock.recv_batch(|_, _| {}).unwrap(), 0);
        peer.send_to(&[99], addr).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), sock.readable())
            .await
            .expect("the next datagram makes the socket readable again")
            .unwrap();
        let mut more = Vec::new();
        sock.recv_batch(|_, d| more.push(d[0])).unwrap();
        assert_eq!(more, vec![99]);
    }

    #[tokio::test]
    async fn a_batch_reaches_every_destination_and_comes_back_in_a_batch() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let from = a.local_addr().unwrap();
        let sock = Socket::new(a, MAX_BATCH).unwrap();
        let mut out = Outbox::default();
        for i in 0..100u8 {
            let to = if i % 2 == 0 {
                b.local_addr()
            } else {
                c.local_addr()
            };
            out.push(from, to.unwrap(), &[i; 1200]);
        }
        let mut others = 0;
        out.push("127.0.0.1:9".parse().unwrap(), from, b"x");
        // An ICE-TCP frame goes to `other` too.
        let tcp: SocketAddr = "127.0.0.1:7".parse().unwrap();
        out.push_via(Via::Tcp, from, tcp, b"y");
        let dropped = sock.send_all(from, &out, |_, _, _, _| {
            others += 1;
            true
        });
        assert_eq!((dropped, others), (0, 2));
        let mut rb = Socket::new(b, MAX_BATCH).unwrap();
        let mut got = Vec::new();
        rb.readable().await.unwrap();
        while got.len() < 50 {
            let n = rb
                .recv_batch(|src, d| got.push((src, d[0], d.len())))
                .unwrap();
            if n == 0 {
                rb.readable().await.unwrap();
            }
        }
        assert_eq!(got.len(), 50);
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, g)| g.0 == from && g.1 == 2 * i as u8 && g.2 == 1200));
        let mut buf = [0u8; 2048];
        let (n, _) = c.recv_from(&mut buf).await.unwrap();
        assert_eq!((n, buf[0]), (1200, 1));
    }
}
