//! Tried as an attacker would, against the real binary with real WebSocket and HTTP clients
//! (no SIP peer needed here; tests/abuse_sip_*.rs have those): room session ids taken from
//! another connection, and every per-connection and per-room limit hit and answered with its
//! error while other clients keep being served; the WebSocket closing handshake; an HTTP
//! client that never finishes its headers; a client that stops reading.
mod common;

use std::time::{Duration, Instant};

use common::room::{ack, attach, join_room, uuid};
use common::webrtc_peer::{Kind, TestPeer};
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

const ROOM: &str = "abuse@videoconference.example.com";

fn error_text(m: &Value) -> String {
    assert_eq!(m["sylkrtc"], "error", "expected an error, got {m}");
    m["error"].as_str().unwrap().to_string()
}

async fn with_account(gw: &Gateway, user: &str) -> Client {
    let mut ws = gw.ready_client().await;
    ack(&ws.request(json!({"sylkrtc": "account-add", "account": format!("{user}@example.com"), "password": HA1})).await);
    ws
}

/// A ping of `c` is answered within a second (the gateway serves others while one abuses it).
async fn answers_promptly(c: &mut Client) {
    let started = Instant::now();
    let ack = c.request(json!({"sylkrtc": "ping"})).await;
    assert_eq!(ack["sylkrtc"], "ack");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a ping took {:?}",
        started.elapsed()
    );
}

/// Fails on the code before "Safe to expose": the second connection's join with the first's
/// session id was accepted, and its `videoroom-leave` then removed the first participant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_session_id_in_use_elsewhere_cannot_be_taken() {
    let gw = Gateway::start(&[]);
    let alice = join_room(&gw, "alice", ROOM).await;
    let mut mallory = with_account(&gw, "mallory").await;
    let peer = TestPeer::publisher().await.unwrap();
    let offer = peer.create_offer().await.unwrap();
    let taken = mallory
        .request(json!({"sylkrtc": "videoroom-join", "session": alice.session, "account": "mallory@example.com", "uri": ROOM, "sdp": offer}))
        .await;
    assert_eq!(
        error_text(&taken),
        format!("Session ID {} already in use", alice.session)
    );
    let left = mallory
        .request(json!({"sylkrtc": "videoroom-leave", "session": alice.session}))
        .await;
    assert_eq!(
        error_text(&left),
        format!("Unknown room session: {}", alice.session)
    );
    // Alice is still in the room: a newcomer sees her among the publishers.
    let mut bob = gw.ready_client().await;
    ack(&bob
        .request(json!({"sylkrtc": "account-add", "account": "bob@example.com", "password": HA1}))
        .await);
    let peer = TestPeer::publisher().await.unwrap();
    let offer = peer.create_offer().await.unwrap();
    let session = uuid();
    ack(&bob.request(json!({"sylkrtc": "videoroom-join", "session": session, "account": "bob@example.com", "uri": ROOM, "sdp": offer})).await);
    let initial = bob.room_event(&session, "initial-publishers", None).await;
    assert_eq!(initial["publishers"][0]["id"], json!(alice.session));
}

#[tokio::test]
async fn websocket_connections_are_limited_per_address_and_in_total() {
    let gw = Gateway::start(&[
        "--limit",
        "max_connections_per_ip=2",
        "--limit",
        "max_connections=3",
    ]);
    let mut first = gw.ready_client().await;
    let _second = gw.ready_client().await;
    let status = |e: tokio_tungstenite::tungstenite::Error| match e {
        tokio_tungstenite::tungstenite::Error::Http(resp) => resp.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    };
    let refused = try_connect(&gw.ws_url(), Some("sylkRTC-2"), None)
        .await
        .expect_err("a third connection from 127.0.0.1");
    assert_eq!(status(refused), 429);
    // From another address (127.0.0.2 is loopback too): the total is the limit.
    let other = gw.ws_url();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let stream = socket.connect(gw.addr).await.unwrap();
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = other.into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "sylkRTC-2".parse().unwrap());
    let (_third, _) = tokio_tungstenite::client_async(req.clone(), stream)
        .await
        .expect("the third connection, from another address");
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.3:0".parse().unwrap()).unwrap();
    let stream = socket.connect(gw.addr).await.unwrap();
    let refused = tokio_tungstenite::client_async(req, stream)
        .await
        .expect_err("a fourth connection in total");
    assert_eq!(status(refused), 503);
    answers_promptly(&mut first).await;
    gw.wait_log("websocket refused");
}

#[tokio::test]
async fn accounts_per_connection_are_limited() {
    let gw = Gateway::start(&["--limit", "max_accounts_per_connection=2"]);
    let mut c = gw.ready_client().await;
    for user in ["a", "b"] {
        ack(&c.request(json!({"sylkrtc": "account-add", "account": format!("{user}@example.com"), "password": HA1})).await);
    }
    let refused = c
        .request(json!({"sylkrtc": "account-add", "account": "c@example.com", "password": HA1}))
        .await;
    assert_eq!(
        error_text(&refused),
        "Too many accounts on this connection (at most 2)"
    );
    ack(&c
        .request(json!({"sylkrtc": "account-remove", "account": "a@example.com"}))
        .await);
    ack(&c
        .request(json!({"sylkrtc": "account-add", "account": "c@example.com", "password": HA1}))
        .await);
}

#[tokio::test]
async fn a_flood_of_requests_is_refused_while_others_are_served() {
    let gw = Gateway::start(&["--limit", "request_rate=10", "--limit", "request_burst=20"]);
    // A room whose media must keep flowing meanwhile.
    let alice = join_room(&gw, "alice", ROOM).await;
    let _sending = alice.publisher.start_sending().await.unwrap();
    let mut bob = join_room(&gw, "bob", ROOM).await;
    let (_, from_alice) = attach(&mut bob, &alice.session.clone()).await;
    from_alice
        .wait_received(Kind::Audio, 10, Duration::from_secs(15))
        .await
        .unwrap();
    let mut flooder = gw.ready_client().await;
    let mut other = gw.ready_client().await;
    for i in 0..200 {
        flooder
            .send(&json!({"sylkrtc": "account-remove", "account": "x@example.com", "transaction": format!("f{i}")}))
            .await;
    }
    let mut refused = 0;
    let mut answered = 0;
    while answered < 200 {
        let m = flooder.recv().await.expect("every request is answered");
        if m["transaction"]
            .as_str()
            .is_some_and(|t| t.starts_with('f'))
        {
            answered += 1;
            if m["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("Too many requests"))
            {
                refused += 1;
            }
        }
    }
    assert!(
        (150..=185).contains(&refused),
        "{refused} of 200 refused (burst 20, 10/s)"
    );
    // Pings are exempt, and another connection is served at once.
    answers_promptly(&mut flooder).await;
    let m = flooder
        .request(json!({"sylkrtc": "account-remove", "account": "x@example.com"}))
        .await;
    assert_eq!(
        error_text(&m),
        "Too many requests: at most 20 at once and 10 per second"
    );
    answers_promptly(&mut other).await;
    gw.wait_log("requests refused by a limit");
    let before = from_alice.received().of(Kind::Audio).len();
    from_alice
        .wait_received(Kind::Audio, before + 25, Duration::from_secs(15))
        .await
        .expect("the room's media kept flowing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_limits_participants_sessions_feeds_and_broadcasts() {
    let gw = Gateway::start(&[
        "--limit",
        "max_room_participants=2",
        "--limit",
        "max_room_sessions_per_connection=1",
        "--limit",
        "max_feeds_per_connection=1",
        "--limit",
        "room_broadcast_rate=1",
        "--limit",
        "room_broadcast_burst=3",
    ]);
    let mut alice = join_room(&gw, "alice", ROOM).await;
    let bob = join_room(&gw, "bob", ROOM).await;
    // The room is full.
    let mut carol = with_account(&gw, "carol").await;
    let peer = TestPeer::publisher().await.unwrap();
    let offer = peer.create_offer().await.unwrap();
    let full = carol
        .request(json!({"sylkrtc": "videoroom-join", "session": uuid(), "account": "carol@example.com", "uri": ROOM, "sdp": offer.clone()}))
        .await;
    assert_eq!(
        error_text(&full),
        "Maximum number of publishers (2) already reached"
    );
    // Another room is open to carol, but not a second session on her connection.
    ack(&carol.request(json!({"sylkrtc": "videoroom-join", "session": uuid(), "account": "carol@example.com", "uri": "other@videoconference.example.com", "sdp": offer.clone()})).await);
    let second = carol
        .request(json!({"sylkrtc": "videoroom-join", "session": uuid(), "account": "carol@example.com", "uri": "third@videoconference.example.com", "sdp": offer}))
        .await;
    assert_eq!(
        error_text(&second),
        "Too many room sessions on this connection (at most 1)"
    );
    // One feed per connection.
    let _feed = attach(&mut alice, &bob.session.clone()).await;
    let more = alice
        .ws
        .request(json!({"sylkrtc": "videoroom-feed-attach", "session": alice.session, "publisher": bob.session, "feed": uuid()}))
        .await;
    assert_eq!(
        error_text(&more),
        "Too many feeds on this connection (at most 1)"
    );
    // Chat: a burst of 3, then refused, while the others hear only what was taken.
    let mut refused = 0;
    for i in 0..10 {
        let m = alice
            .ws
            .request(json!({"sylkrtc": "videoroom-message", "session": alice.session, "message_id": format!("m{i}"), "content": "spam", "content_type": "text/plain"}))
            .await;
        if m["sylkrtc"] == "error" {
            assert_eq!(
                m["error"],
                "Too many room messages: at most 3 at once and 1 per second"
            );
            refused += 1;
        }
    }
    assert!(refused >= 6, "{refused} of 10 chat messages refused");
    let mut bob = bob;
    answers_promptly(&mut bob.ws).await;
    let heard = bob
        .ws
        .pending
        .iter()
        .filter(|m| m["event"] == "message")
        .count();
    assert!(heard <= 4, "bob heard {heard} chat messages");
}

#[tokio::test]
async fn dtmf_digits_per_request_are_limited() {
    let gw = Gateway::start(&["--limit", "max_dtmf_digits=8"]);
    let mut c = with_account(&gw, "alice").await;
    let m = c
        .request(json!({"sylkrtc": "session-dtmf-info", "session": "s", "digit": "1".repeat(1000)}))
        .await;
    assert_eq!(error_text(&m), "Too many DTMF digits: 1000 (at most 8)");
    let m = c
        .request(json!({"sylkrtc": "session-dtmf-info", "session": "s", "digit": "123"}))
        .await;
    assert_eq!(error_text(&m), "Unknown session s");
}

/// Fails on the code before "Safe to expose": the client saw 1006 (no Close frame back).
#[tokio::test]
async fn a_close_frame_is_answered_with_a_close_frame() {
    let gw = Gateway::start(&[]);
    let mut c = gw.ready_client().await;
    c.ws.send(Message::Close(Some(
        tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: 1000u16.into(),
            reason: "bye".into(),
        },
    )))
    .await
    .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match c.ws.next().await {
                Some(Ok(Message::Close(frame))) => return Some(frame),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("the server answered in time");
    let frame = answer.expect("a Close frame, not a dropped connection");
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(1000));
    gw.wait_log("closed by client");
}

/// Fails on the code before "Safe to expose": the connection stayed open indefinitely.
#[tokio::test]
async fn an_http_client_that_never_finishes_its_headers_is_closed() {
    let gw = Gateway::start(&["--limit", "http_header_timeout=1"]);
    let mut tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(b"GET /webrtcgateway/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return 0,
                Ok(n) => {
                    // hyper may answer 408 before closing.
                    let text = String::from_utf8_lossy(&buf[..n]).to_string();
                    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
                }
            }
        }
    })
    .await
    .expect("the connection was closed");
    assert_eq!(n, 0);
    assert!(started.elapsed() < Duration::from_secs(5));
    // A prompt client is served.
    let mut ok = gw.ready_client().await;
    answers_promptly(&mut ok).await;
}

/// Fails on the code before "Safe to expose": the write was awaited without a deadline, so a
/// client that stopped reading held its connection (and all it had) forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped() {
    let gw = Gateway::start(&["--limit", "websocket_write_timeout=1"]);
    // A tiny receive window, and nothing read: the gateway's writes soon block.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(gw.addr).await.unwrap();
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = gw.ws_url().into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "sylkRTC-2".parse().unwrap());
    let (ws, _) = tokio_tungstenite::client_async(req, stream).await.unwrap();
    let (mut sink, _stream) = ws.split();
    let mut other = gw.ready_client().await;
    // Pings are answered by the socket task itself: each answer is a write, as long as the
    // transaction it echoes (30 KB here).
    let flood = tokio::spawn(async move {
        let ping = json!({"sylkrtc": "ping", "transaction": "p".repeat(30_000)}).to_string();
        for _ in 0..10_000 {
            if sink.send(Message::text(ping.clone())).await.is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !gw.log().contains("a write did not complete in time") {
        assert!(Instant::now() < deadline, "not dropped:\n{}", gw.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gw
        .log()
        .contains("websocket write timed out, dropping the client"));
    answers_promptly(&mut other).await;
    flood.abort();
}

/// Writes an HTTP upload's head and `sent` bytes of its body; returns the open stream.
async fn start_upload(
    gw: &Gateway,
    path: &str,
    length: usize,
    sent: usize,
) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {length}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![b'x'; sent]).await.unwrap();
    s
}

async fn status_of(mut s: tokio::net::TcpStream) -> u16 {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("an answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_in_progress_and_stored_bytes_are_bounded() {
    let gw = Gateway::start(&[
        "--limit",
        "max_concurrent_uploads_per_ip=1",
        "--limit",
        "upload_quota=5000",
    ]);
    let alice = join_room(&gw, "alice", ROOM).await;
    let path = |name: &str| format!("/webrtcgateway/filesharing/{ROOM}/{}/{name}", alice.session);
    // One upload in flight from this address: a second one is refused at once.
    let slow = start_upload(&gw, &path("slow.txt"), 3000, 100).await;
    gw.wait_log("upload started");
    let second = start_upload(&gw, &path("second.txt"), 10, 10).await;
    assert_eq!(status_of(second).await, 503);
    drop(slow);
    // The quota: 3000 bytes fit, the next 3000 do not (declared: refused before a byte).
    let deadline = Instant::now() + Duration::from_secs(5);
    let first = loop {
        let s = start_upload(&gw, &path("a.txt"), 3000, 3000).await;
        let status = status_of(s).await;
        if status != 503 || Instant::now() > deadline {
            break status;
        }
        // The dropped slow upload may not have ended yet.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(first, 200);
    let over = start_upload(&gw, &path("b.txt"), 3000, 3000).await;
    assert_eq!(status_of(over).await, 507);
    // Without a declared length it is cut where it passes the quota.
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
        path("c.txt")
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(format!("{:x}\r\n{}\r\n0\r\n\r\n", 3000, "y".repeat(3000)).as_bytes())
        .await
        .unwrap();
    assert_eq!(status_of(s).await, 507);
    gw.wait_log("the disk quota of stored files is reached");
}
