//! Several gateways as one service (issue 17): two gateway processes on one machine, one
//! Redis and one PostgreSQL from the Debian packages, on loopback.
//!
//! * rooms: a room placed on node A; participants on A's WebSocket and on B's (relayed to
//!   A) publish and receive each other's media with real WebRTC peers (the `webrtc` crate),
//!   and room chat reaches all;
//! * failure: node B killed with SIGKILL: its participants' connections close, the room on A
//!   goes on, the room B held is released within the lease and placed anew;
//! * Chromium: two participants on A's WebSocket and one on B's decode each other's video,
//!   hear each other, and their room chat reaches all (`tests/browser/room_test.js`).
mod common;

use std::time::{Duration, Instant};

use common::engines::{cluster_node, Postgres, Redis};
use common::messaging::http;
use common::room::*;
use common::webrtc_peer::{Kind, PeerMode};
use common::*;
use serde_json::json;

const T: Duration = Duration::from_secs(20);
/// The cluster lease of these tests, in seconds.
const LEASE: &str = "2";

/// A cluster node named `node`.
fn node(node: &str, redis: &Redis, store: &str) -> Gateway {
    cluster_node(node, redis, store, &["--cluster-lease", LEASE])
}

/// What Redis holds at `key` (`redis-cli GET`).
fn redis_get(redis: &Redis, key: &str) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "GET", key])
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_room_spans_two_nodes_and_survives_the_other_nodes_death() {
    let pg = Postgres::start();
    let redis = Redis::start();
    let store = pg.database("cluster_rooms");
    let a = node("a", &redis, &store);
    let mut b = node("b", &redis, &store);
    a.wait_log("cluster: on the bus");
    b.wait_log("cluster: on the bus");

    // The first joiner places the room on its node, A; carol on B is relayed there.
    // Both are ready, and say they are on the bus.
    for n in [&a, &b] {
        let ready = http_get(n.addr, "/ready").await;
        assert!(ready.contains(r#""bus":true"#), "{ready}");
    }
    let room = "daily@example.com";
    let mut alice = join_room(&a, "alice", room).await;
    let mut bob = join_room(&a, "bob", room).await;
    let mut carol = join_room(&b, "carol", room).await;
    assert_eq!(redis_get(&redis, &format!("sylk:room:{room}")), "a");
    b.wait_log("relayed to the room's node");
    a.wait_log("relayed connection opened");
    let mut sending = Vec::new();
    for m in [&alice, &bob, &carol] {
        sending.push(m.publisher.start_sending().await.unwrap());
    }
    // Everyone receives everyone's audio and video, across the nodes both ways.
    let sessions = [
        alice.session.clone(),
        bob.session.clone(),
        carol.session.clone(),
    ];
    let mut feeds = Vec::new();
    for (i, m) in [&mut alice, &mut bob, &mut carol].into_iter().enumerate() {
        for (j, publisher) in sessions.iter().enumerate() {
            if i != j {
                let (_, sub) = attach(m, publisher).await;
                feeds.push((i, j, sub));
            }
        }
    }
    for (i, j, sub) in &feeds {
        let video = sub.wait_received(Kind::Video, 20, T).await;
        let audio = sub.wait_received(Kind::Audio, 20, T).await;
        assert!(
            video.is_ok() && audio.is_ok(),
            "member {i} receiving member {j}: {video:?} {audio:?}"
        );
    }

    // Room chat from each node reaches the others.
    ack(&carol.ws.request(json!({"sylkrtc": "videoroom-message", "session": carol.session, "message_id": "c1", "content": "hello from b", "content_type": "text/plain"})).await);
    for m in [&mut alice, &mut bob] {
        let msg = m.ws.room_event(&m.session, "message", None).await;
        assert_eq!(msg["content"], "hello from b", "{msg}");
        assert_eq!(msg["sender"]["uri"], "carol@example.com", "{msg}");
    }
    ack(&alice.ws.request(json!({"sylkrtc": "videoroom-message", "session": alice.session, "message_id": "a1", "content": "hello from a", "content_type": "text/plain"})).await);
    let msg = carol.ws.room_event(&carol.session, "message", None).await;
    assert_eq!(msg["content"], "hello from a", "{msg}");

    // A file shared by carol through her node is stored on the room's node: B redirects the
    // upload there (307, method and body kept) and the room announces it to everyone.
    let path = format!(
        "/webrtcgateway/filesharing/{room}/{}/notes.txt",
        carol.session
    );
    let body = b"shared across nodes";
    let (status, head, _) = http(&b, "POST", &path, "text/plain", body).await;
    assert_eq!(status, 307, "{head}");
    let location = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("location: ")
                .then(|| l[10..].to_string())
        })
        .expect("a Location");
    assert_eq!(location, format!("http://{}{path}", a.addr), "{head}");
    let (status, head, _) = http(&a, "POST", &path, "text/plain", body).await;
    assert_eq!(status, 200, "{head}");
    for m in [&mut alice, &mut bob, &mut carol] {
        let e = m.ws.room_event(&m.session, "file-sharing", None).await;
        assert_eq!(e["files"][0]["filename"], "notes.txt", "{e}");
    }
    let (status, _, _) = http(&b, "GET", &path, "text/plain", b"").await;
    assert_eq!(status, 307);

    // The bus is counted on both nodes.
    for n in [&a, &b] {
        let metrics = http_get(n.admin_addr(), "/metrics").await;
        for direction in ["published", "received"] {
            let line = format!("sylk_cluster_bus_messages_total{{direction=\"{direction}\"}}");
            assert!(metrics.contains(&line), "{line} missing:\n{metrics}");
        }
    }

    // A second room is started on B by dave.
    let second = "other@example.com";
    let _dave = join_room(&b, "dave", second).await;
    assert_eq!(redis_get(&redis, &format!("sylk:room:{second}")), "b");

    // B dies.
    b.stop();
    let killed = Instant::now();
    // Carol's connection ends with its node (`closed` fails the test if it does not).
    let _ = carol.ws.closed().await;
    // A notices within the lease: carol leaves the room on A.
    let left = alice
        .ws
        .room_event(&alice.session, "publishers-left", None)
        .await;
    assert_eq!(left["publishers"], json!([carol.session]), "{left}");
    let noticed = killed.elapsed();
    assert!(noticed < Duration::from_secs(10), "{noticed:?}");
    a.wait_log("node gone");
    // The room on A goes on: alice still receives bob.
    let bob_feed = feeds
        .iter()
        .find_map(|(i, j, sub)| (*i == 0 && *j == 1).then_some(sub))
        .unwrap();
    let before = bob_feed.received().of(Kind::Video).len();
    bob_feed
        .wait_received(Kind::Video, before + 20, T)
        .await
        .unwrap();
    // The room B held is released within the lease, and starts anew on A.
    wait_until(
        "the dead node's room released",
        Duration::from_secs(6),
        || redis_get(&redis, &format!("sylk:room:{second}")).is_empty(),
    )
    .await;
    eprintln!(
        "carol left the room on A {noticed:?} after the kill; B's room released after {:?}",
        killed.elapsed()
    );
    let _erin = join_room(&a, "erin", second).await;
    assert_eq!(redis_get(&redis, &format!("sylk:room:{second}")), "a");
    drop(sending);
}

/// Three Chromium participants, alice and bob on node A's WebSocket and carol on node B's:
/// the room is placed on A (alice joins first) and carol's requests are relayed there; every
/// page decodes the others' video, receives their audio and levels, gets the others' chat;
/// carol's tab closing is noticed by A.
#[test]
fn three_chromium_participants_on_two_nodes_meet_in_one_room() {
    use common::browser::*;
    require_peers(&peers_tools(), &chromium());
    // The engines and both nodes inside the test's own loopback-only namespace.
    loopback_only();
    let pg = Postgres::start();
    let redis = Redis::start();
    let store = pg.database("cluster_browsers");
    let consent = ["--ice-consent-timeout", "5", "--cluster-lease", LEASE];
    let a = cluster_node("a", &redis, &store, &consent);
    let b = cluster_node("b", &redis, &store, &consent);
    a.wait_log("cluster: on the bus");
    b.wait_log("cluster: on the bus");
    let urls = format!("{},{},{}", a.ws_url(), a.ws_url(), b.ws_url());
    let env = [
        ("BROWSERS", "chromium,chromium,chromium".to_string()),
        ("WS_URLS", urls),
        ("CHAT", "1".into()),
        ("CONSENT_TIMEOUT", "5".into()),
        ("MEDIA_IP", "127.0.0.1".into()),
        ("EXPECT_RTX", "0".into()),
        ("AUDIO_LEVELS", "1".into()),
        ("MEDIA_PROTOCOL", "udp".into()),
    ];
    let summary = run_driver(
        "room_test.js",
        &a.ws_url(),
        "cluster_browsers",
        &env,
        || {
            format!(
                "--- node A (tail):\n{}\n--- node B (tail):\n{}",
                tail(&a.log(), 60),
                tail(&b.log(), 60)
            )
        },
    );
    assert_eq!(
        summary["chat"], "every message reached the two other pages",
        "{summary:#}"
    );
    // carol's requests went through B to A, and her media straight to A.
    assert!(b.log().contains("relayed to the room's node"));
    assert!(a.log().contains("relayed connection opened"));
}

/// A draining node (SIGTERM) places a new room on another node and keeps its own rooms; when
/// it stops, the participants relayed to it from other nodes are told (`terminated`) and its
/// rooms are released at once, not at the end of the lease; it exits cleanly.
#[tokio::test(flavor = "multi_thread")]
async fn a_draining_node_sends_new_rooms_elsewhere_and_a_stopping_one_lets_go() {
    let pg = Postgres::start();
    let redis = Redis::start();
    let store = pg.database("cluster_drain");
    // A long lease: what is released here is released by the stopping node, not by expiry.
    let extra = ["--cluster-lease", "60", "--shutdown-grace", "60"];
    let a = cluster_node("a", &redis, &store, &extra);
    let mut b = cluster_node("b", &redis, &store, &extra);
    a.wait_log("cluster: on the bus");
    b.wait_log("cluster: on the bus");
    let held = "held@example.com";
    let _dave = join_room(&b, "dave", held).await;
    let mut carol = join_room(&a, "carol", held).await;
    assert_eq!(redis_get(&redis, &format!("sylk:room:{held}")), "b");
    // erin is connected to B before it drains.
    let mut erin_ws = b.ready_client().await;
    ack(&erin_ws
        .request(json!({"sylkrtc": "account-add", "account": "erin@example.com", "password": HA1}))
        .await);

    let pid = b.pid().to_string();
    let kill = |signal: &str| {
        std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
    };
    assert!(kill("-TERM").success());
    b.wait_log("SIGTERM: draining");
    wait_until("B's record says draining", Duration::from_secs(5), || {
        redis_get(&redis, "sylk:alive:b").starts_with("draining ")
    })
    .await;
    // A new room asked of the draining node goes to A; erin's media goes there.
    let fresh = "fresh@example.com";
    let erin = join_room_on(erin_ws, "erin@example.com", fresh, PeerMode::Browser).await;
    assert_eq!(redis_get(&redis, &format!("sylk:room:{fresh}")), "a");
    erin_ws = erin.ws;
    // The room B holds goes on while it drains.
    assert_eq!(redis_get(&redis, &format!("sylk:room:{held}")), "b");

    // B stops (a second signal ends the drain): carol, relayed to B from A, is told.
    assert!(kill("-TERM").success());
    let ended = carol
        .ws
        .room_event(&carol.session, "session-state", Some("terminated"))
        .await;
    assert_eq!(ended["session"], json!(carol.session), "{ended}");
    // B's records are gone at once (the lease is a minute).
    wait_until("B's room released", Duration::from_secs(10), || {
        redis_get(&redis, &format!("sylk:room:{held}")).is_empty()
            && redis_get(&redis, "sylk:alive:b").is_empty()
    })
    .await;
    b.wait_log("cluster: left");
    let status = b.terminate();
    // Its PostgreSQL connections closed without a panic (a sync client's drop blocks on a
    // runtime of its own, which must not happen on one of the gateway's).
    assert!(status.success(), "{status:?}");
    assert!(!b.log().contains("panicked"), "{}", b.log());
    // erin's connection to B ended with it; her room on A remains until A sees her gone.
    let _ = erin_ws.closed().await;
}

/// What the bus may lose is caught up with: a relayed connection its node no longer names
/// (a lost `Close`) ends on the room's node and its client is told; a node restarted under
/// the same name (within a long lease) is seen as a new run at once, and what its earlier
/// run relayed ends.
#[tokio::test(flavor = "multi_thread")]
async fn lost_closes_and_restarts_are_caught_up_with() {
    let pg = Postgres::start();
    let redis = Redis::start();
    let store = pg.database("cluster_catch_up");
    let long = ["--cluster-lease", "60"];
    let a = cluster_node("a", &redis, &store, &long);
    let mut b = cluster_node("b", &redis, &store, &long);
    a.wait_log("cluster: on the bus");
    b.wait_log("cluster: on the bus");
    let room = "catchup@example.com";
    let mut alice = join_room(&a, "alice", room).await;
    let mut carol = join_room(&b, "carol", room).await;
    // (`publishers-left` goes to those who attached the leaver's feed.)
    let _carol_feed = attach(&mut alice, &carol.session).await;

    // B's next word to A, forged: carol's connection is not among B's links.
    let epoch = redis_get(&redis, "sylk:alive:b")
        .split(' ')
        .nth(1)
        .expect("an epoch")
        .to_string();
    // Said again and again (B's true word, once a second, names carol): once the link is
    // past its 5 s of grace, the next one ends it.
    let links = format!(r#"{{"t":"links","from":"b","epoch":{epoch},"conns":[]}}"#);
    let port = redis.port.to_string();
    let forging = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let forger = {
        let forging = forging.clone();
        std::thread::spawn(move || {
            while forging.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::process::Command::new("redis-cli")
                    .args(["-p", &port, "PUBLISH", "sylk:node:a", &links])
                    .output();
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let left = alice
        .ws
        .room_event(&alice.session, "publishers-left", None)
        .await;
    forging.store(false, std::sync::atomic::Ordering::Relaxed);
    forger.join().unwrap();
    assert_eq!(left["publishers"], json!([carol.session]), "{left}");
    a.wait_log("its node no longer has it");
    let ended = carol
        .ws
        .room_event(&carol.session, "session-state", Some("terminated"))
        .await;
    assert_eq!(ended["session"], json!(carol.session));

    // dave joins through B; B is killed and starts again as `b` at once.
    let dave = join_room(&b, "dave", room).await;
    let _dave_feed = attach(&mut alice, &dave.session).await;
    b.stop();
    let restarted = Instant::now();
    let b2 = cluster_node("b", &redis, &store, &long);
    b2.wait_log("cluster: on the bus");
    let left = alice
        .ws
        .room_event(&alice.session, "publishers-left", None)
        .await;
    assert_eq!(left["publishers"], json!([dave.session]), "{left}");
    assert!(
        restarted.elapsed() < Duration::from_secs(20),
        "noticed after {:?}, not at the end of the 60 s lease",
        restarted.elapsed()
    );
    a.wait_log("or it restarted");
}
