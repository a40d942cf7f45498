//! A soak of mixed malformed input on every port at once, against the real binary, while a
//! room carries real media (the `webrtc` crate) and a WebSocket client keeps pinging:
//!
//! * WebSocket: churn of connections, mutated and random sylkRTC frames, binary frames, frames
//!   over the size limit, clients that stop reading;
//! * HTTP: mutated requests (the fuzz corpus' seeds), headers that never end;
//! * SIP: mutated messages (the fuzz corpus' seeds) and random bytes over UDP from addresses
//!   that are not trusted, random and partial messages over TCP;
//! * media: random and mutated STUN (naming the room's real ufrags), RTP, RTCP and DTLS
//!   datagrams from many addresses.
//!
//! At the end the process must be alive and serving (a new client gets `ready-event` and its
//! ping answered, the room's subscriber still gets media), and no panic may have been caught
//! on the way. `SOAK_SECS` sets the length: CI runs it for a few seconds as a smoke test; run
//! it for an hour with `SOAK_SECS=3600 cargo test --release --test soak -- --nocapture`.
mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::room::{attach, join_room};
use common::webrtc_peer::Kind;
use common::*;
use futures_util::{SinkExt, StreamExt};
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

const ROOM: &str = "soak@videoconference.example.com";

/// Random edits of `seed`: flips, inserted and removed bytes, cuts, splices of random bytes.
fn mutate(rng: &mut impl Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.random_range(1..8) {
        match rng.random_range(0..6) {
            0 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                v[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let i = rng.random_range(0..=v.len());
                v.insert(i, rng.random());
            }
            2 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                v.remove(i);
            }
            3 if !v.is_empty() => v.truncate(rng.random_range(0..v.len())),
            4 => {
                let i = rng.random_range(0..=v.len());
                let junk: Vec<u8> = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
                v.splice(i..i, junk);
            }
            _ if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                v[i] = [0, 0xff, b'\r', b'\n', b':', b';', b'"', b'%'][rng.random_range(0..8)];
            }
            _ => {}
        }
    }
    v
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut all: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    all.sort();
    all
}

#[derive(Default)]
struct Counts {
    ws: AtomicU64,
    http: AtomicU64,
    sip: AtomicU64,
    media: AtomicU64,
}

fn until(deadline: Instant) -> bool {
    Instant::now() < deadline
}

async fn websocket_abuse(gw_url: String, deadline: Instant, counts: Arc<Counts>, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let frames = seeds("sylkrtc_request");
    while until(deadline) {
        let Ok(ws) = try_connect(&gw_url, Some("sylkRTC-2"), None).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let (mut sink, mut stream) = ws.split();
        let reads = rng.random_bool(0.8);
        let reader = tokio::spawn(async move {
            if reads {
                while let Some(Ok(_)) = stream.next().await {}
            } else {
                // A client that stops reading: keep the stream, read nothing.
                tokio::time::sleep(Duration::from_secs(20)).await;
                drop(stream);
            }
        });
        for _ in 0..rng.random_range(1..200) {
            let message = match rng.random_range(0..10) {
                0 => Message::binary(vec![0u8; rng.random_range(0..100)]),
                1 => Message::text("x".repeat(70_000)),
                2..=5 => {
                    let seed = &frames[rng.random_range(0..frames.len())];
                    Message::text(String::from_utf8_lossy(&mutate(&mut rng, seed)).to_string())
                }
                6 => Message::text(
                    json!({"sylkrtc": "account-add", "transaction": "t",
                           "account": format!("u{}@example.com", rng.random::<u16>()),
                           "password": HA1})
                    .to_string(),
                ),
                _ => {
                    let i = rng.random_range(0..frames.len());
                    Message::text(String::from_utf8_lossy(&frames[i]).to_string())
                }
            };
            counts.ws.fetch_add(1, Ordering::Relaxed);
            let sent = tokio::time::timeout(Duration::from_millis(500), sink.send(message)).await;
            if !matches!(sent, Ok(Ok(()))) {
                break;
            }
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), sink.close()).await;
        reader.abort();
    }
}

async fn http_abuse(addr: SocketAddr, deadline: Instant, counts: Arc<Counts>, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let requests = seeds("http_request");
    while until(deadline) {
        let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
            continue;
        };
        let seed = &requests[rng.random_range(0..requests.len())];
        let text = String::from_utf8_lossy(seed).to_string();
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let first = lines.next().unwrap_or("GET /");
        let mut raw = format!("{first} HTTP/1.1\r\nHost: x\r\n");
        for l in lines {
            raw.push_str(l);
            raw.push_str("\r\n");
        }
        raw.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        let bytes = if rng.random_bool(0.2) {
            // Headers that never end.
            raw.as_bytes()[..raw.len() / 2].to_vec()
        } else {
            mutate(&mut rng, raw.as_bytes())
        };
        counts.http.fetch_add(1, Ordering::Relaxed);
        let _ = s.write_all(&bytes).await;
        let mut sink = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(50), async {
            use tokio::io::AsyncReadExt;
            while let Ok(n) = s.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
    }
}

async fn sip_abuse(sip: SocketAddr, deadline: Instant, counts: Arc<Counts>, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let messages = seeds("sip_message");
    let mut sockets = Vec::new();
    for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        sockets.push(tokio::net::UdpSocket::bind((ip, 0)).await.unwrap());
    }
    while until(deadline) {
        let seed = &messages[rng.random_range(0..messages.len())];
        let data = if rng.random_bool(0.9) {
            mutate(&mut rng, seed)
        } else {
            (0..rng.random_range(0..1400))
                .map(|_| rng.random())
                .collect()
        };
        counts.sip.fetch_add(1, Ordering::Relaxed);
        if rng.random_bool(0.05) {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            let _ = socket.bind("127.0.0.5:0".parse().unwrap());
            if let Ok(Ok(mut s)) =
                tokio::time::timeout(Duration::from_millis(200), socket.connect(sip)).await
            {
                let _ = tokio::time::timeout(Duration::from_millis(100), s.write_all(&data)).await;
                if rng.random_bool(0.5) {
                    // Leave it open (idle, or with half a message).
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        drop(s);
                    });
                }
            }
        } else {
            let socket = &sockets[rng.random_range(0..sockets.len())];
            let _ = socket.send_to(&data, sip).await;
        }
        if rng.random_bool(0.1) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

async fn media_abuse(
    media: SocketAddr,
    ufrags: Vec<String>,
    deadline: Instant,
    counts: Arc<Counts>,
    seed: u64,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let datagrams = seeds("media_demux");
    let mut sockets = Vec::new();
    for i in 0..16u8 {
        sockets.push(tokio::net::UdpSocket::bind(("127.0.0.1", 0)).await.unwrap());
        if i % 4 == 0 {
            sockets.push(
                tokio::net::UdpSocket::bind((format!("127.0.0.{}", 10 + i), 0))
                    .await
                    .unwrap(),
            );
        }
    }
    while until(deadline) {
        let data = match rng.random_range(0..5) {
            0 => {
                // STUN naming a real ufrag, without the right integrity.
                let ufrag = &ufrags[rng.random_range(0..ufrags.len())];
                let username = format!("{ufrag}:x");
                let mut attrs = vec![0x00, 0x06];
                attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
                attrs.extend_from_slice(username.as_bytes());
                while attrs.len() % 4 != 0 {
                    attrs.push(0);
                }
                attrs.extend_from_slice(&[0x00, 0x08, 0x00, 0x14]);
                attrs.extend((0..20).map(|_| rng.random::<u8>()));
                let mut p = vec![0x00, 0x01];
                p.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
                p.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
                p.extend((0..12).map(|_| rng.random::<u8>()));
                p.extend(attrs);
                mutate(&mut rng, &p)
            }
            1 => (0..rng.random_range(0..1500))
                .map(|_| rng.random())
                .collect(),
            _ => {
                let i = rng.random_range(0..datagrams.len());
                mutate(&mut rng, &datagrams[i])
            }
        };
        counts.media.fetch_add(1, Ordering::Relaxed);
        let socket = &sockets[rng.random_range(0..sockets.len())];
        let _ = socket.send_to(&data, media).await;
        if rng.random_bool(0.02) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_malformed_input_on_every_port_leaves_the_gateway_serving() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let gw = Gateway::start(&["--sip-proxy", "sip:127.0.0.1:9"]);
    let media = gw.media_target();
    let sip = gw.sip_addr();
    // The room that must keep working: alice publishes, bob receives her.
    let mut alice = join_room(&gw, "alice", ROOM).await;
    let _sending = alice.publisher.start_sending().await.unwrap();
    let mut bob = join_room(&gw, "bob", ROOM).await;
    let (_, from_alice) = attach(&mut bob, &alice.session.clone()).await;
    from_alice
        .wait_received(Kind::Audio, 10, Duration::from_secs(15))
        .await
        .unwrap();
    // The gateway's ufrags (in its SDP), which travel in clear: the forged STUN names them.
    let mut ufrags = Vec::new();
    for peer in [&alice.publisher, &bob.publisher, &from_alice] {
        if let Some(d) = peer.peer_connection().remote_description().await {
            ufrags.extend(
                d.sdp
                    .lines()
                    .filter_map(|l| l.strip_prefix("a=ice-ufrag:"))
                    .map(|u| u.trim().to_string()),
            );
        }
    }
    assert!(!ufrags.is_empty());
    let mut watcher = gw.ready_client().await;

    let deadline = Instant::now() + Duration::from_secs(secs);
    let counts = Arc::new(Counts::default());
    let mut tasks = Vec::new();
    for i in 0..2 {
        tasks.push(tokio::spawn(websocket_abuse(
            gw.ws_url(),
            deadline,
            counts.clone(),
            i,
        )));
    }
    tasks.push(tokio::spawn(http_abuse(
        gw.addr,
        deadline,
        counts.clone(),
        10,
    )));
    tasks.push(tokio::spawn(sip_abuse(sip, deadline, counts.clone(), 20)));
    tasks.push(tokio::spawn(media_abuse(
        media,
        ufrags,
        deadline,
        counts.clone(),
        30,
    )));
    // Meanwhile the watcher's pings are answered, every few seconds. The room's members ping
    // too, as their browsers would: reading their sockets is also how they answer the
    // gateway's WebSocket pings (a client that never reads is dropped after the ping timeout).
    let mut slowest = Duration::ZERO;
    while until(deadline) {
        let started = Instant::now();
        let ack = watcher.request(json!({"sylkrtc": "ping"})).await;
        assert_eq!(ack["sylkrtc"], "ack");
        slowest = slowest.max(started.elapsed());
        for member in [&mut alice.ws, &mut bob.ws] {
            assert_eq!(
                member.request(json!({"sylkrtc": "ping"})).await["sylkrtc"],
                "ack"
            );
            member.pending.clear();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    for t in tasks {
        let _ = t.await;
    }
    println!(
        "soak {secs} s: websocket {} frames, http {} requests, sip {} messages, media {} datagrams; slowest ping {slowest:?}",
        counts.ws.load(Ordering::Relaxed),
        counts.http.load(Ordering::Relaxed),
        counts.sip.load(Ordering::Relaxed),
        counts.media.load(Ordering::Relaxed),
    );

    // Alive and serving: a new client, the watcher, and the room's media.
    let mut fresh = gw.ready_client().await;
    assert_eq!(
        fresh.request(json!({"sylkrtc": "ping"})).await["sylkrtc"],
        "ack"
    );
    assert_eq!(
        watcher.request(json!({"sylkrtc": "ping"})).await["sylkrtc"],
        "ack"
    );
    let before = from_alice.received().of(Kind::Audio).len();
    let log = gw.log();
    if let Err(e) = from_alice
        .wait_received(Kind::Audio, before + 25, Duration::from_secs(15))
        .await
    {
        let closes: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("closed") || l.contains("consent") || l.contains("ended"))
            .filter(|l| !l.contains("closed by client"))
            .take(40)
            .collect();
        panic!("the room's media stopped: {e}\n{}", closes.join("\n"));
    }
    for bad in [
        "panicked",
        "panic in the media engine",
        "request handler panicked",
    ] {
        assert!(
            !log.contains(bad),
            "a panic was caught during the soak:\n{log}"
        );
    }
}
