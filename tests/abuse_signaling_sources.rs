//! What one SIP source may cost, and whose digest challenges are answered, against the real
//! binary with plain SIP sockets (no fixed ports: these run beside the other tests). Each
//! fails on the code before "Safe to expose":
//!
//! * a flood of requests from one address that is not trusted is cut to its budget (503 with
//!   Retry-After, at most once a second, then silence) while the proxy's traffic and a
//!   WebSocket client are served;
//! * TCP connections per source are bounded;
//! * a callee's challenge in a realm that is not the account's domain is not answered (no
//!   digest of the user's password for offline guessing), while one in the account's realm is;
//! * `account-register` (each a REGISTER toward an address the client names) is rate limited.
mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::webrtc_peer::TestPeer;
use common::*;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::UdpSocket;

fn options(port: u16, ip: &str, n: usize) -> String {
    format!(
        "OPTIONS sip:gateway@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:{port};branch=z9hG4bKo{n}x{port}\r\n\
         From: <sip:probe@{ip}>;tag=o{n}\r\nTo: <sip:gateway@127.0.0.1>\r\nCall-ID: o{n}-{port}@{ip}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Sends `count` OPTIONS from `ip` and collects the status lines that come back in time.
async fn flood(gw: SocketAddr, ip: &str, count: usize) -> Vec<String> {
    let socket = UdpSocket::bind((ip, 0)).await.unwrap();
    let port = socket.local_addr().unwrap().port();
    for n in 0..count {
        socket
            .send_to(options(port, ip, n).as_bytes(), gw)
            .await
            .unwrap();
    }
    let mut statuses = Vec::new();
    let mut buf = vec![0u8; 8192];
    while let Ok(Ok((len, _))) =
        tokio::time::timeout(Duration::from_millis(700), socket.recv_from(&mut buf)).await
    {
        let text = String::from_utf8_lossy(&buf[..len]).to_string();
        statuses.push(text.lines().next().unwrap_or("").to_string());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_untrusted_source_is_cut_to_its_budget() {
    // The proxy is 127.0.0.1 (nothing listens there: only its address matters here).
    let gw = Gateway::start(&[
        "--sip-proxy",
        "sip:127.0.0.1:9",
        "--limit",
        "sip_requests_per_second=5",
        "--limit",
        "sip_requests_burst=10",
    ]);
    let sip = gw.sip_addr();
    let mut ws = gw.ready_client().await;
    let statuses = flood(sip, "127.0.0.2", 200).await;
    let ok = statuses.iter().filter(|s| s.contains(" 200 ")).count();
    let busy = statuses.iter().filter(|s| s.contains(" 503 ")).count();
    assert!(
        (10..=14).contains(&ok),
        "{ok} of 200 answered (burst 10, 5/s): {statuses:?}"
    );
    assert!((1..=3).contains(&busy), "{busy} answered 503: {statuses:?}");
    // The proxy's address is trusted: not limited. Another untrusted source has its own
    // budget. The WebSocket side is unaffected.
    let proxy = flood(sip, "127.0.0.1", 100).await;
    assert_eq!(proxy.iter().filter(|s| s.contains(" 200 ")).count(), 100);
    let other = flood(sip, "127.0.0.3", 5).await;
    assert_eq!(other.iter().filter(|s| s.contains(" 200 ")).count(), 5);
    let started = Instant::now();
    assert_eq!(
        ws.request(json!({"sylkrtc": "ping"})).await["sylkrtc"],
        "ack"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    gw.wait_log("SIP traffic refused by the per-source limits");
}

#[tokio::test]
async fn tcp_connections_per_source_are_bounded() {
    let gw = Gateway::start(&[
        "--sip-proxy",
        "sip:127.0.0.1:9",
        "--limit",
        "sip_tcp_connections_per_source=2",
    ]);
    let sip = gw.sip_addr();
    let connect = || async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        socket.connect(sip).await.unwrap()
    };
    let mut kept = vec![connect().await, connect().await];
    let mut third = connect().await;
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("the third connection is closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0);
    for c in &mut kept {
        let open = tokio::time::timeout(Duration::from_millis(300), c.read(&mut buf)).await;
        assert!(open.is_err(), "a connection within the limit was closed");
    }
    // The proxy's address is not limited per source.
    let mut proxy = Vec::new();
    for _ in 0..4 {
        proxy.push(tokio::net::TcpStream::connect(sip).await.unwrap());
    }
    for c in &mut proxy {
        let open = tokio::time::timeout(Duration::from_millis(200), c.read(&mut buf)).await;
        assert!(open.is_err());
    }
}

/// A UAS on a plain socket that challenges every INVITE with 401 in `realm`; returns the
/// INVITEs it got.
async fn challenging_callee(socket: UdpSocket, realm: &'static str) -> Vec<String> {
    let mut invites = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(Ok((n, from))) =
        tokio::time::timeout(Duration::from_secs(3), socket.recv_from(&mut buf)).await
    {
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if !text.starts_with("INVITE ") {
            continue;
        }
        invites.push(text.clone());
        let header = |name: &str| {
            text.lines()
                .find(|l| {
                    l.to_ascii_lowercase()
                        .starts_with(&format!("{}:", name.to_ascii_lowercase()))
                })
                .unwrap_or("")
                .to_string()
        };
        let response = format!(
            "SIP/2.0 401 Unauthorized\r\n{}\r\n{}\r\n{};tag=uas\r\n{}\r\n{}\r\n\
             WWW-Authenticate: Digest realm=\"{realm}\", nonce=\"n{}\", qop=\"auth\"\r\nContent-Length: 0\r\n\r\n",
            header("Via"),
            header("From"),
            header("To"),
            header("Call-ID"),
            header("CSeq"),
            invites.len()
        );
        socket.send_to(response.as_bytes(), from).await.unwrap();
    }
    invites
}

async fn call_challenged_in(realm: &'static str) -> (Vec<String>, serde_json::Value) {
    let uas = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = uas.local_addr().unwrap();
    let callee = tokio::spawn(challenging_callee(uas, realm));
    // No outbound proxy: the INVITE goes straight to the callee, whose answers are its own.
    let gw = Gateway::start(&[]);
    let mut c = gw.ready_client().await;
    let ack = c
        .request(json!({"sylkrtc": "account-add", "account": "alice@127.0.0.1", "password": "2edb2c1af97b498960b7f50592ec157a"}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack");
    let (peer, _audio) = TestPeer::caller().await.unwrap();
    let offer = peer.create_offer().await.unwrap();
    let uri = format!("bob@127.0.0.1:{}", target.port());
    let ack = c
        .request(json!({"sylkrtc": "session-create", "session": "c", "account": "alice@127.0.0.1", "uri": uri, "sdp": offer}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let ended = c
        .wait_for("terminated", |m| {
            m["sylkrtc"] == "session-event" && m["state"] == "terminated"
        })
        .await;
    let invites = callee.await.unwrap();
    peer.close().await.unwrap();
    (invites, ended)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_in_a_foreign_realm_gets_no_digest() {
    let (invites, ended) = call_challenged_in("evil.example").await;
    assert_eq!(invites.len(), 1, "the challenge was answered: {invites:#?}");
    assert!(!invites[0].contains("Authorization"));
    assert_eq!(ended["reason"], "401 Unauthorized");
    // The account's own realm is answered (from the HA1), once.
    let (invites, _) = call_challenged_in("127.0.0.1").await;
    assert_eq!(invites.len(), 2, "{invites:#?}");
    assert!(
        invites[1].contains("Authorization: Digest"),
        "{}",
        invites[1]
    );
    assert!(invites[1].contains("realm=\"127.0.0.1\""), "{}", invites[1]);
}

#[tokio::test]
async fn registrations_are_rate_limited() {
    let gw = Gateway::start(&[
        "--sip-proxy",
        "sip:127.0.0.1:9",
        "--limit",
        "register_per_minute=2",
    ]);
    let mut c = gw.ready_client().await;
    let ack = c
        .request(json!({"sylkrtc": "account-add", "account": "victim@192.0.2.1", "password": HA1}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack");
    for _ in 0..2 {
        let ack = c
            .request(json!({"sylkrtc": "account-register", "account": "victim@192.0.2.1"}))
            .await;
        assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    }
    let refused = c
        .request(json!({"sylkrtc": "account-register", "account": "victim@192.0.2.1"}))
        .await;
    assert_eq!(
        refused["error"], "Too many registrations: at most 2 per minute",
        "{refused}"
    );
}
