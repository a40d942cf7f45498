//! One publisher to N subscribers (N = 1, 10, 100, 1000): the full path from one SRTP video
//! datagram (1,200-byte payload) arriving at the SFU to the N SRTP datagrams ready to send,
//! for AES-GCM and AES-CM, on the in-memory network of `media::testkit` (no syscalls).
//! Prints ns per forwarded packet, and heap allocations per forwarded packet (counted in a
//! separate pass). Run with `cargo bench --bench fanout`.

use std::cell::Cell;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use media::testkit::{forward_counted, forwarding_room, vp8_payload, CountingAlloc};
use media::Kind;
use media::SrtpPolicy;

const PAYLOAD: usize = 1200;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout");
    for srtp in [SrtpPolicy::AesGcm, SrtpPolicy::AesCm] {
        for n in [1usize, 10, 100, 1000] {
            let (mut net, p) = forwarding_room(srtp, n, PAYLOAD);
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
            let (allocs, sent) = forward_counted(&mut net, p, counter, 50, PAYLOAD);
            let allocs = allocs as f64 / sent.max(1) as f64;
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
