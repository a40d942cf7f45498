//! When each peer's `rtc` wants its timeout handled, in a min-heap: finding the next wake-up
//! and the peers that are due costs O(log n) per change instead of a scan of every peer on
//! every datagram.
//!
//! Entries are never removed in place: a peer whose timeout moved later, or that is gone,
//! leaves a stale entry that is skipped when it comes up. A new entry is pushed only when
//! it is earlier than the one a peer already has, so a peer has few entries at once.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use crate::ids::PeerId;

#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, PeerId)>>,
    /// The earliest entry in the heap for each peer.
    earliest: HashMap<PeerId, Instant>,
}

impl Timers {
    /// `peer` wants to be woken at `at` (or never: `None`).
    pub fn set(&mut self, peer: PeerId, at: Option<Instant>) {
        let Some(at) = at else {
            return;
        };
        match self.earliest.get(&peer) {
            Some(&e) if e <= at => {}
            _ => {
                self.earliest.insert(peer, at);
                self.heap.push(Reverse((at, peer)));
            }
        }
    }

    /// Forgets a peer (its entries become stale).
    pub fn remove(&mut self, peer: PeerId) {
        self.earliest.remove(&peer);
    }

    /// The earliest wake-up (may be a stale entry: an early wake-up is harmless).
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// The next peer whose entry is due at `now`; its entry is consumed (the caller sets a
    /// new one from what the peer then wants).
    pub fn pop_due(&mut self, now: Instant) -> Option<PeerId> {
        while let Some(Reverse((at, peer))) = self.heap.peek().copied() {
            if at > now {
                return None;
            }
            self.heap.pop();
            if self.earliest.get(&peer) == Some(&at) {
                self.earliest.remove(&peer);
                return Some(peer);
            }
        }
        None
    }

    /// Heap entries (tests: stale ones do not pile up).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn peers_come_due_in_time_order_once_each() {
        let t = Instant::now();
        let ms = |n| t + Duration::from_millis(n);
        let mut timers = Timers::default();
        timers.set(PeerId(1), Some(ms(30)));
        timers.set(PeerId(2), Some(ms(10)));
        timers.set(PeerId(3), Some(ms(20)));
        timers.set(PeerId(3), Some(ms(25)));
        assert_eq!(timers.next(), Some(ms(10)));
        assert_eq!(timers.pop_due(ms(5)), None);
        assert_eq!(timers.pop_due(ms(20)), Some(PeerId(2)));
        assert_eq!(timers.pop_due(ms(20)), Some(PeerId(3)));
        assert_eq!(timers.pop_due(ms(20)), None);
        timers.remove(PeerId(1));
        assert_eq!(timers.pop_due(ms(100)), None, "a removed peer is not woken");
    }

    #[test]
    fn a_timeout_moving_later_and_earlier_keeps_the_heap_small() {
        let t = Instant::now();
        let mut timers = Timers::default();
        for i in 0..10_000u64 {
            // rtc moves its deadline with every datagram, mostly later.
            timers.set(PeerId(1), Some(t + Duration::from_millis(100 + i)));
        }
        assert_eq!(timers.len(), 1);
        timers.set(PeerId(1), Some(t + Duration::from_millis(50)));
        assert_eq!(timers.len(), 2);
        assert_eq!(
            timers.pop_due(t + Duration::from_millis(60)),
            Some(PeerId(1))
        );
        assert_eq!(
            timers.pop_due(t + Duration::from_secs(1)),
            None,
            "the stale one is skipped"
        );
        assert!(timers.is_empty());
    }
}
