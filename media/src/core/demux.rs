//! Which peer a datagram is for. On the shared WebRTC socket: by the sender's address once a
//! peer has proved it (an authenticated STUN Binding request from there), and a new address
//! by the local ICE ufrag that the STUN USERNAME names. On a plain RTP leg's socket: by the
//! leg's local address.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::stun;
use crate::ids::{PeerId, Via};

/// What the index says about a datagram on the shared socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// From an address a peer has proved (STUN or not).
    Known { peer: PeerId, stun: bool },
    /// STUN from a new address, naming this peer's ufrag: it must authenticate.
    Named(PeerId),
    /// Nobody's.
    Unknown,
}

#[derive(Debug, Default)]
pub struct Demux {
    by_ufrag: HashMap<String, PeerId>,
    /// By protocol and address: a TCP connection never stands for a UDP flow of the same
    /// address (nor the other way round).
    by_addr: HashMap<(Via, SocketAddr), PeerId>,
    by_leg: HashMap<SocketAddr, PeerId>,
}

impl Demux {
    /// A datagram from `from` on the shared socket.
    pub fn route(&self, via: Via, from: SocketAddr, data: &[u8]) -> Route {
        let is_stun = stun::classify(data) == stun::Class::Stun;
        if let Some(&peer) = self.by_addr.get(&(via, from)) {
            return Route::Known {
                peer,
                stun: is_stun,
            };
        }
        if !is_stun {
            return Route::Unknown;
        }
        match stun::local_ufrag(data).and_then(|u| self.by_ufrag.get(u)) {
            Some(&peer) => Route::Named(peer),
            None => Route::Unknown,
        }
    }

    /// The call a plain leg's socket belongs to.
    pub fn leg(&self, local: SocketAddr) -> Option<PeerId> {
        self.by_leg.get(&local).copied()
    }

    pub fn add_ufrag(&mut self, ufrag: &str, peer: PeerId) {
        self.by_ufrag.insert(ufrag.to_owned(), peer);
    }

    pub fn add_leg(&mut self, local: SocketAddr, peer: PeerId) {
        self.by_leg.insert(local, peer);
    }

    /// `peer` proved `from` (its `addrs`, at most `max`: the oldest goes).
    pub fn learn(
        &mut self,
        peer: PeerId,
        via: Via,
        from: SocketAddr,
        addrs: &mut Vec<(Via, SocketAddr)>,
        max: usize,
    ) {
        let from = (via, from);
        if addrs.contains(&from) {
            return;
        }
        if addrs.len() >= max {
            let oldest = addrs.remove(0);
            self.by_addr.remove(&oldest);
        }
        addrs.push(from);
        self.by_addr.insert(from, peer);
    }

    /// The peer that proved `from` over `via`.
    pub fn owner(&self, via: Via, from: SocketAddr) -> Option<PeerId> {
        self.by_addr.get(&(via, from)).copied()
    }

    /// Whether `from` is an address some peer proved over `via`.
    pub fn knows(&self, via: Via, from: SocketAddr) -> bool {
        self.by_addr.contains_key(&(via, from))
    }

    /// An address whose peer is gone.
    pub fn forget_addr(&mut self, via: Via, from: SocketAddr) {
        self.by_addr.remove(&(via, from));
    }

    /// Forgets everything of a peer.
    pub fn remove(
        &mut self,
        peer: PeerId,
        ufrag: &str,
        addrs: &[(Via, SocketAddr)],
        legs: impl Iterator<Item = SocketAddr>,
    ) {
        self.by_ufrag.remove(ufrag);
        for a in addrs {
            // Only what still leads to this peer (another may have proved the address since).
            if self.by_addr.get(a) == Some(&peer) {
                self.by_addr.remove(a);
            }
        }
        for l in legs {
            self.by_leg.remove(&l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A STUN Binding request whose USERNAME is `user` (no integrity: the index does not
    /// check it, the core does).
    fn binding(user: &str) -> Vec<u8> {
        let mut m = vec![0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        m.extend_from_slice(&[7; 12]);
        let mut attr = vec![0x00, 0x06];
        attr.extend_from_slice(&(user.len() as u16).to_be_bytes());
        attr.extend_from_slice(user.as_bytes());
        while attr.len() % 4 != 0 {
            attr.push(0);
        }
        let len = (attr.len() as u16).to_be_bytes();
        m[2] = len[0];
        m[3] = len[1];
        m.extend_from_slice(&attr);
        m
    }

    #[test]
    fn stun_finds_a_peer_by_ufrag_and_then_by_the_address_it_proved() {
        let mut d = Demux::default();
        let p = PeerId(5);
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        d.add_ufrag("local1", p);
        assert_eq!(
            d.route(Via::Udp, a, &binding("local1:remote")),
            Route::Named(p)
        );
        assert_eq!(
            d.route(Via::Udp, a, &binding("other:remote")),
            Route::Unknown
        );
        assert_eq!(
            d.route(Via::Udp, a, &[0x80, 0x60, 0, 1]),
            Route::Unknown,
            "RTP from nowhere"
        );
        let mut addrs = Vec::new();
        d.learn(p, Via::Udp, a, &mut addrs, 8);
        assert_eq!(
            d.route(Via::Udp, a, &[0x80, 0x60, 0, 1]),
            Route::Known {
                peer: p,
                stun: false
            }
        );
        d.remove(p, "local1", &addrs, std::iter::empty());
        assert_eq!(
            d.route(Via::Udp, a, &binding("local1:remote")),
            Route::Unknown
        );
    }

    #[test]
    fn a_peer_keeps_at_most_max_addresses_the_oldest_going_first() {
        let mut d = Demux::default();
        let p = PeerId(1);
        let mut addrs = Vec::new();
        let addr = |i: u16| SocketAddr::from(([10, 0, 0, 1], 1000 + i));
        for i in 0..5 {
            d.learn(p, Via::Udp, addr(i), &mut addrs, 3);
        }
        assert_eq!(
            addrs,
            vec![
                (Via::Udp, addr(2)),
                (Via::Udp, addr(3)),
                (Via::Udp, addr(4))
            ]
        );
        // The same address over TCP is another route altogether.
        assert_eq!(d.route(Via::Tcp, addr(4), &[0x80; 12]), Route::Unknown);
        assert_eq!(d.route(Via::Udp, addr(0), &[0x80; 12]), Route::Unknown);
        assert!(matches!(
            d.route(Via::Udp, addr(4), &[0x80; 12]),
            Route::Known { .. }
        ));
    }
}
