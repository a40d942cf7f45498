//! One publisher to N subscribers (N = 1, 10, 100, 1000): the full path from one SRTP video
//! datagram (1,200-byte payload) arriving at the SFU to the N SRTP datagrams ready to send,
//! for AES-GCM and AES-CM, on the in-memory network of `media::testkit` (no syscalls).
//! Prints ns per forwarded packet, and heap allocations per forwarded packet (counted in a
//! separate pass). Run with `cargo bench --bench fanout`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use media::peer::Kind;
use media::testkit::{vp8_payload, Net};
use media::SrtpPolicy;

const PAYLOAD: usize = 1200;

/// Counts heap allocations (all threads; the bench is single-threaded).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations per forwarded packet over `packets` incoming packets.
fn allocations_per_forwarded(net: &mut Net, p: usize, packets: u64, counter: &mut u64) -> f64 {
    let from = net.clients[p].addr;
    let mut datagrams = Vec::new();
    for _ in 0..packets {
        let now = net.now;
        net.clients[p].make_rtp(
            now,
            Kind::Video,
            vp8_payload(PAYLOAD, false, *counter),
            &mut datagrams,
        );
        *counter += 1;
    }
    let mut sent = 0u64;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for d in &datagrams {
        net.inject(from, d, &mut |_, _, data: &[u8]| {
            sent += u64::from(data.len() > PAYLOAD);
            true
        });
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    allocations as f64 / sent.max(1) as f64
}

fn setup(srtp: SrtpPolicy, n: usize) -> (Net, usize) {
    let mut net = Net::new(srtp);
    let (publisher, p) = net.add_publisher();
    for _ in 0..n {
        net.add_subscriber(publisher);
    }
    assert!(
        net.run_until(Duration::from_secs(60), |net| net.all_connected(n + 1)),
        "peers did not connect"
    );
    // A keyframe first, so every subscriber is forwarding.
    let mut out = Vec::new();
    let now = net.now;
    net.clients[p].make_rtp(now, Kind::Video, vp8_payload(PAYLOAD, true, 0), &mut out);
    let from = net.clients[p].addr;
    for d in out {
        net.inject(from, &d, &mut |_, _, _: &[u8]| true);
    }
    (net, p)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout");
    for srtp in [SrtpPolicy::AesGcm, SrtpPolicy::AesCm] {
        for n in [1usize, 10, 100, 1000] {
            let (mut net, p) = setup(srtp, n);
            let from = net.clients[p].addr;
            let forwarded = Cell::new(0u64);
            let spent = Cell::new(Duration::ZERO);
            let mut counter = 1u64;
            g.throughput(Throughput::Elements(n as u64));
            g.sample_size(if n >= 100 { 10 } else { 50 });
            g.bench_with_input(BenchmarkId::new(format!("{srtp:?}"), n), &n, |b, _| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let chunk = left.min(512);
                        let mut datagrams = Vec::with_capacity(chunk as usize);
                        for _ in 0..chunk {
                            let now = net.now;
                            net.clients[p].make_rtp(
                                now,
                                Kind::Video,
                                vp8_payload(PAYLOAD, false, counter),
                                &mut datagrams,
                            );
                            counter += 1;
                        }
                        let mut sent = 0u64;
                        let start = Instant::now();
                        for d in &datagrams {
                            net.inject(from, d, &mut |_, _, data: &[u8]| {
                                sent += u64::from(data.len() > PAYLOAD);
                                true
                            });
                        }
                        let t = start.elapsed();
                        total += t;
                        spent.set(spent.get() + t);
                        forwarded.set(forwarded.get() + sent);
                        left -= chunk;
                    }
                    total
                })
            });
            let per = spent.get().as_nanos() as f64 / forwarded.get().max(1) as f64;
            let allocs = allocations_per_forwarded(&mut net, p, 50, &mut counter);
            println!(
                "fanout {srtp:?} N={n}: {per:.0} ns per forwarded packet ({:.0} packets/s per core), {allocs:.1} heap allocations per forwarded packet",
                1e9 / per
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
