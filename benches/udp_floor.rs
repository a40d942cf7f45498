//! The floor under the load tool's CPU figures: what the kernel alone costs to send one
//! SRTP-sized datagram (1,232 bytes) over loopback to each of N sockets, through the engine's
//! own send path (`media::engine::udp::Socket`, sendmmsg in batches of B, or one sendto each
//! with B = 1), while another thread drains the receivers (on loopback the sender's CPU also
//! pays for the receiving side of the stack). Prints µs of the sending thread's CPU per
//! datagram. `cargo bench --bench udp_floor -- [--pin] [N ...]`; `--pin` puts the sender on
//! CPU 0 and the draining thread on CPU 1 (as the load tool's `--pin`), so the receiver's
//! wake-ups no longer preempt the sender on its own core.

use std::net::SocketAddr;
use std::time::Duration;

#[path = "../tests/common/mod.rs"]
mod common;

use common::load::{other_cpus, pin};
use media::engine::udp::Socket;
use media::outbox::Outbox;

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let pinned = std::env::args().any(|a| a == "--pin");
    if pinned {
        pin(0, &[0]).expect("pin the sender to CPU 0");
    }
    let ns: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let ns = if ns.is_empty() { vec![20, 80, 200] } else { ns };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for n in ns {
        for batch in [1usize, 64] {
            let per = rt.block_on(run(n, batch, pinned));
            let how = if pinned { ", pinned" } else { "" };
            println!(
                "udp floor: N = {n}, batch {batch}{how}: {per:.2} us of sender CPU per datagram"
            );
        }
    }
}

async fn run(n: usize, batch: usize, pinned: bool) -> f64 {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut addrs = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..n {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        addrs.push(s.local_addr().unwrap());
        receivers.push(s);
    }
    let drain = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            if pinned {
                pin(0, &other_cpus()).expect("pin the receiver off CPU 0");
            }
            let mut buf = [0u8; 2048];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for r in &receivers {
                    while r.recv(&mut buf).is_ok() {}
                }
            }
        })
    };
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let local: SocketAddr = sock.local_addr().unwrap();
    let sock = Socket::new(sock, batch).unwrap();
    let mut out = Outbox::default();
    let payload = [0xa5u8; 1232];
    let rounds = 200_000 / n.max(1);
    let mut spent = Duration::ZERO;
    let mut sent = 0u64;
    for _ in 0..rounds {
        out.clear();
        for a in &addrs {
            out.push(local, *a, &payload);
        }
        let t = thread_cpu();
        let dropped = sock.send_all(local, &out, |_, _, _, _| false);
        spent += thread_cpu() - t;
        sent += n as u64 - dropped;
        // Paced a little, as media is: the receivers keep up.
        if sent % 20_000 < n as u64 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    drain.join().unwrap();
    spent.as_secs_f64() * 1e6 / sent.max(1) as f64
}
