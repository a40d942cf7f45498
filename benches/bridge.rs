//! The 1:1 call bridge: ns per packet from the browser's SRTP to the phone's plain RTP, and
//! from the phone's RTP to the browser's SRTP (160-byte audio payloads, AES-GCM and AES-CM),
//! on the in-memory network of `media::testkit` (no syscalls).
//! Run with `cargo bench --bench bridge`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use media::rtp::write_rtp;
use media::testkit::Net;
use media::Kind;
use media::SrtpPolicy;

const PAYLOAD: usize = 160;

fn setup(srtp: SrtpPolicy) -> (Net, usize, SocketAddr, SocketAddr) {
    let mut net = Net::new(srtp);
    let (c, offer) = net.add_caller();
    let leg: SocketAddr = "10.99.200.1:30000".parse().unwrap();
    let phone: SocketAddr = "10.99.201.1:17000".parse().unwrap();
    let (id, _) = net.bridge_offer(&offer, leg).unwrap();
    net.add_phone(phone);
    let answer = "v=0\r\no=p 1 1 IN IP4 10.99.201.1\r\ns=-\r\nc=IN IP4 10.99.201.1\r\nt=0 0\r\n\
m=audio 17000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\na=sendrecv\r\n";
    net.bridge_answer(id, c, answer).unwrap();
    assert!(net.run_until(Duration::from_secs(10), |net| net.all_connected(1)));
    (net, c, leg, phone)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("bridge");
    for srtp in [SrtpPolicy::AesGcm, SrtpPolicy::AesCm] {
        let (mut net, caller, leg, phone) = setup(srtp);
        let from = net.clients[caller].addr;
        let mut counter = 0u64;
        let mut per = [0f64; 2];
        g.bench_function(BenchmarkId::new("srtp_to_rtp", format!("{srtp:?}")), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let chunk = left.min(1024);
                    let mut datagrams = Vec::with_capacity(chunk as usize);
                    for _ in 0..chunk {
                        let now = net.now;
                        let payload = Bytes::from(vec![(counter & 0xff) as u8; PAYLOAD]);
                        net.clients[caller].make_rtp(now, Kind::Audio, payload, &mut datagrams);
                        counter += 1;
                    }
                    let start = Instant::now();
                    for d in &datagrams {
                        net.inject(from, d, &mut |_, _, _: &[u8]| true);
                    }
                    total += start.elapsed();
                    left -= chunk;
                }
                per[0] = total.as_nanos() as f64 / iters as f64;
                total
            })
        });
        let mut seq = 0u16;
        g.bench_function(BenchmarkId::new("rtp_to_srtp", format!("{srtp:?}")), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                let mut buf = Vec::new();
                while left > 0 {
                    let chunk = left.min(1024);
                    let mut datagrams = Vec::with_capacity(chunk as usize);
                    for _ in 0..chunk {
                        seq = seq.wrapping_add(1);
                        write_rtp(
                            &mut buf,
                            false,
                            111,
                            seq,
                            u32::from(seq) * 960,
                            0xfeed,
                            &[7u8; PAYLOAD],
                        );
                        datagrams.push(buf.clone());
                    }
                    let start = Instant::now();
                    for d in &datagrams {
                        net.inject_plain(leg, phone, d, &mut |_, _, _: &[u8]| true);
                    }
                    total += start.elapsed();
                    left -= chunk;
                }
                per[1] = total.as_nanos() as f64 / iters as f64;
                total
            })
        });
        println!(
            "bridge {srtp:?}: {:.0} ns per packet SRTP->RTP, {:.0} ns per packet RTP->SRTP",
            per[0], per[1]
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
