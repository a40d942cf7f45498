//! The cluster's bus: Redis pub/sub against NATS, both from the Debian packages on loopback,
//! measured the same way — which engine carries the bus (docs/cluster.md says why Redis).
//!
//! `cargo bench --bench bus -- [--messages N] [--size BYTES]` (defaults 20,000 of 600 bytes,
//! about a relayed trickle request). For each engine: one message at a time, publish to
//! delivery (p50, p99, max); then N messages published back to back (Redis: pipelines of up
//! to 64, as the gateway's publisher sends what is queued), until the last is delivered
//! (messages per second). NATS is skipped when `nats-server` is not installed
//! (`apt-get install nats-server`). The NATS client is its text protocol over TCP (CONNECT,
//! SUB, PUB, MSG, PING/PONG), written here, so nothing is added to the build.
#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n, size) = (num("--messages", 20_000), num("--size", 600));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let payload = "x".repeat(size);
    println!("{n} messages of {size} bytes, publisher and subscriber on separate connections");
    let redis = common::engines::Redis::start();
    let (lat, rate) = runtime.block_on(redis_bus(&redis.url(), &payload, n));
    report("redis", &lat, rate);
    match Nats::start() {
        Some(nats) => {
            let (lat, rate) = runtime.block_on(nats_bus(nats.port, &payload, n));
            report("nats", &lat, rate);
        }
        None => println!("nats: skipped (nats-server is not installed)"),
    }
}

fn report(engine: &str, latencies: &[Duration], rate: f64) {
    let mut v = latencies.to_vec();
    v.sort();
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6;
    println!(
        "{engine}: publish -> delivery p50 {:.0} us, p99 {:.0} us, max {:.0} us; back to back {:.0} messages/s",
        at(0.5),
        at(0.99),
        at(1.0),
        rate
    );
}

async fn redis_bus(url: &str, payload: &str, n: usize) -> (Vec<Duration>, f64) {
    let client = redis::Client::open(url).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe("bench").await.unwrap();
    let mut messages = pubsub.into_on_message();
    let mut publisher = client.get_multiplexed_async_connection().await.unwrap();
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        redis::cmd("PUBLISH")
            .arg("bench")
            .arg(payload)
            .query_async::<i64>(&mut publisher)
            .await
            .unwrap();
        messages.next().await.expect("delivered");
        latencies.push(t.elapsed());
    }
    // Back to back as the gateway's publisher sends them: what is queued goes in one pipeline
    // (up to 64 messages), one round trip each.
    let t = Instant::now();
    let sender = tokio::spawn({
        let c = publisher.clone();
        let payload = payload.to_string();
        async move {
            let mut c = c;
            let mut left = n;
            while left > 0 {
                let batch = left.min(64);
                let mut pipe = redis::pipe();
                for _ in 0..batch {
                    pipe.cmd("PUBLISH").arg("bench").arg(&payload).ignore();
                }
                pipe.query_async::<()>(&mut c).await.unwrap();
                left -= batch;
            }
        }
    });
    for _ in 0..n {
        messages.next().await.expect("delivered");
    }
    sender.await.unwrap();
    let rate = n as f64 / t.elapsed().as_secs_f64();
    (latencies, rate)
}

struct Nats {
    child: Child,
    port: u16,
}

impl Nats {
    fn start() -> Option<Nats> {
        let port = common::engines::free_port();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        // Held from here on: a failed start still stops the server.
        let mut nats = Nats { child, port };
        common::engines::wait_listening(&mut nats.child, port, "nats-server");
        Some(nats)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A NATS connection (text protocol), after its INFO and our CONNECT.
async fn nats_connect(port: u16) -> BufReader<TcpStream> {
    let mut s = BufReader::new(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    let mut info = String::new();
    s.read_line(&mut info).await.unwrap();
    assert!(info.starts_with("INFO"), "{info}");
    s.get_mut()
        .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
        .await
        .unwrap();
    s
}

/// The payload of the next MSG on `s` (PINGs answered).
async fn nats_next(s: &mut BufReader<TcpStream>) -> Vec<u8> {
    loop {
        let mut line = String::new();
        s.read_line(&mut line).await.unwrap();
        if line.starts_with("PING") {
            s.get_mut().write_all(b"PONG\r\n").await.unwrap();
            continue;
        }
        if let Some(rest) = line.strip_prefix("MSG ") {
            let len: usize = rest.split_whitespace().last().unwrap().parse().unwrap();
            let mut body = vec![0; len + 2];
            s.read_exact(&mut body).await.unwrap();
            body.truncate(len);
            return body;
        }
    }
}

async fn nats_bus(port: u16, payload: &str, n: usize) -> (Vec<Duration>, f64) {
    let mut sub = nats_connect(port).await;
    sub.get_mut()
        .write_all(b"SUB bench 1\r\nPING\r\n")
        .await
        .unwrap();
    // The PONG says the subscription is in place.
    let mut line = String::new();
    while !line.starts_with("PONG") {
        line.clear();
        sub.read_line(&mut line).await.unwrap();
    }
    let mut publisher = nats_connect(port).await;
    let frame = format!("PUB bench {}\r\n{payload}\r\n", payload.len());
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        publisher
            .get_mut()
            .write_all(frame.as_bytes())
            .await
            .unwrap();
        nats_next(&mut sub).await;
        latencies.push(t.elapsed());
    }
    let t = Instant::now();
    let sender = tokio::spawn(async move {
        for _ in 0..n {
            publisher
                .get_mut()
                .write_all(frame.as_bytes())
                .await
                .unwrap();
        }
        publisher
    });
    for _ in 0..n {
        nats_next(&mut sub).await;
    }
    let _publisher = sender.await.unwrap();
    (latencies, n as f64 / t.elapsed().as_secs_f64())
}
