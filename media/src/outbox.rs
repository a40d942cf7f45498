//! Datagrams a core has decided to send, kept in one arena until the shell sends them all
//! at once (sendmmsg): the core never waits on a socket, and nothing is allocated per
//! datagram once the arena has grown to a batch's size.

use std::net::SocketAddr;

use crate::ids::Via;

#[derive(Debug, Clone, Copy)]
struct Item {
    via: Via,
    from: SocketAddr,
    to: SocketAddr,
    start: usize,
    len: usize,
}

/// Outgoing datagrams: (local socket, destination, bytes), in the order they were made.
#[derive(Debug, Default)]
pub struct Outbox {
    data: Vec<u8>,
    items: Vec<Item>,
}

impl Outbox {
    /// Queues one datagram from the local socket `from` to `to`.
    pub fn push(&mut self, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        self.push_via(Via::Udp, from, to, data);
    }

    /// Queues one packet to `to` over `via`: a datagram from the local socket `from`, or a
    /// frame on the ICE-TCP connection from `to`.
    pub fn push_via(&mut self, via: Via, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(data);
        self.items.push(Item {
            via,
            from,
            to,
            start,
            len: data.len(),
        });
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The bytes of every datagram together.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every datagram, in order.
    pub fn iter(&self) -> impl Iterator<Item = (SocketAddr, SocketAddr, &[u8])> {
        self.items
            .iter()
            .map(|it| (it.from, it.to, &self.data[it.start..it.start + it.len]))
    }

    /// Every packet with how it travels, in order.
    pub fn iter_via(&self) -> impl Iterator<Item = (Via, SocketAddr, SocketAddr, &[u8])> {
        self.items.iter().map(|it| {
            let data = &self.data[it.start..it.start + it.len];
            (it.via, it.from, it.to, data)
        })
    }

    /// Forgets every datagram (keeps the memory).
    pub fn clear(&mut self) {
        self.data.clear();
        self.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_come_out_in_order_and_clearing_keeps_the_arena() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let mut o = Outbox::default();
        o.push(a, b, b"one");
        o.push(b, a, b"three");
        let got: Vec<_> = o.iter().map(|(f, t, d)| (f, t, d.to_vec())).collect();
        assert_eq!(
            got,
            vec![(a, b, b"one".to_vec()), (b, a, b"three".to_vec())]
        );
        assert_eq!(o.iter().nth(1).map(|x| x.2.len()), Some(5));
        let cap = o.data.capacity();
        o.clear();
        assert!(o.is_empty());
        assert_eq!(o.data.capacity(), cap);
    }
}
