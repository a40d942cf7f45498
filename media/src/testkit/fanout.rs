//! One publisher forwarding to N subscribers on the simulated network, and the heap
//! allocations (counted per thread) that forwarding makes: for the fan-out bench and the
//! allocation tests.

use super::{vp8_payload, Net};
use crate::ids::Kind;
use crate::transport::peer::SrtpPolicy;
use std::time::Duration;

thread_local! {
    static ALLOCATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A global allocator that counts the heap allocations (and reallocations) of each thread;
/// install it with `#[global_allocator]` and read [`allocations`].
pub struct CountingAlloc;

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        // SAFETY: forwarded unchanged.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        // SAFETY: forwarded unchanged.
        unsafe { std::alloc::System.realloc(ptr, layout, size) }
    }
}

/// Heap allocations of this thread so far (with [`CountingAlloc`] installed).
pub fn allocations() -> u64 {
    ALLOCATIONS.with(|a| a.get())
}

/// A room of one publisher and `n` subscribers, all connected, whose subscribers are
/// forwarding (a keyframe of `payload` bytes went through). Returns the net and the
/// publisher's client index.
pub fn forwarding_room(srtp: SrtpPolicy, n: usize, payload: usize) -> (Net, usize) {
    let mut net = Net::new(srtp);
    let (publisher, p) = net.add_publisher();
    for _ in 0..n {
        net.add_subscriber(publisher);
    }
    assert!(
        net.run_until(Duration::from_secs(60), |net| net.all_connected(n + 1)),
        "peers did not connect"
    );
    let mut out = Vec::new();
    let now = net.now;
    net.clients[p].make_rtp(now, Kind::Video, vp8_payload(payload, true, 0), &mut out);
    let from = net.clients[p].addr;
    for d in out {
        net.inject(from, &d, &mut |_, _, _: &[u8]| true);
    }
    (net, p)
}

/// Makes `packets` video packets of `payload` bytes at publisher client `p` (counters from
/// `first`) and feeds them to the SFU; returns this thread's heap allocations while the SFU
/// handled them (with [`CountingAlloc`] installed) and the forwarded copies it sent.
pub fn forward_counted(
    net: &mut Net,
    p: usize,
    first: u64,
    packets: u64,
    payload: usize,
) -> (u64, u64) {
    let from = net.clients[p].addr;
    let mut datagrams = Vec::new();
    for i in first..first + packets {
        let now = net.now;
        let rtp = vp8_payload(payload, false, i);
        net.clients[p].make_rtp(now, Kind::Video, rtp, &mut datagrams);
    }
    let mut sent = 0u64;
    let before = allocations();
    for d in &datagrams {
        net.inject(from, d, &mut |_, _, data: &[u8]| {
            sent += u64::from(data.len() > payload);
            true
        });
    }
    (allocations() - before, sent)
}
