//! ICE over TCP (RFC 6544, RFC 4571 framing) with the webrtc crate's full ICE agent:
//!
//! * in a network namespace of the test's own where every UDP packet to the gateway's media
//!   ports is dropped (nftables), two participants whose agents have only TCP candidates join
//!   a room, publish, and each receives the other's audio and video;
//! * a mixed room: one participant over UDP, the other over TCP, each receives the other.
//!
//! Chromium over ICE-TCP is in tests/browser_room.rs.
mod common;

use std::time::Duration;

use common::browser::{block_udp_to, seal_network};
use common::room::{attach_with, join_room_with, Member};
use common::webrtc_peer::{Kind, PeerMode};
use common::*;

const T: Duration = Duration::from_secs(15);
const ROOM: &str = "tcp@conference.example.com";

/// `a` and `b` publish; each attaches the other's feed with a subscriber of its mode and
/// receives its audio and video.
async fn each_receives_the_other(mut a: Member, a_mode: PeerMode, mut b: Member, b_mode: PeerMode) {
    let _a_sending = a.publisher.start_sending().await.unwrap();
    let _b_sending = b.publisher.start_sending().await.unwrap();
    let (_, a_sees_b) = attach_with(&mut a, &b.session.clone(), a_mode).await;
    let (_, b_sees_a) = attach_with(&mut b, &a.session.clone(), b_mode).await;
    for sub in [&a_sees_b, &b_sees_a] {
        let video = sub.wait_received(Kind::Video, 20, T).await.unwrap();
        assert!(video.len() >= 20);
        let audio = sub.wait_received(Kind::Audio, 20, T).await.unwrap();
        assert!(audio.len() >= 20);
    }
}

#[test]
fn a_room_over_ice_tcp_when_udp_to_the_media_ports_is_dropped() {
    seal_network().expect("a network namespace of the test's own (needs root and iproute2)");
    // Everything on this thread: its network namespace is the sealed one (a worker thread of
    // a multi-threaded runtime would still be in the host's).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let gw = Gateway::start(&["--media-shards", "2"]);
        block_udp_to(&gw.media_ports());
        assert_eq!(gw.tcp_ports().len(), 2, "{}", gw.log());
        let mode = PeerMode::BrowserTcpOnly;
        let alice = join_room_with(&gw, "alice", ROOM, mode).await;
        let bob = join_room_with(&gw, "bob", ROOM, mode).await;
        each_receives_the_other(alice, mode, bob, mode).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_room_one_participant_over_udp_the_other_over_tcp() {
    let gw = Gateway::start(&[]);
    let alice = join_room_with(&gw, "alice", ROOM, PeerMode::Browser).await;
    let bob = join_room_with(&gw, "bob", ROOM, PeerMode::BrowserTcpOnly).await;
    each_receives_the_other(alice, PeerMode::Browser, bob, PeerMode::BrowserTcpOnly).await;
}

/// A client that opens TCP connections and sends nothing, garbage, or checks for nobody is
/// closed; the room beside it keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ice_tcp_connections_are_closed_and_hurt_nobody() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = Gateway::start(&["--media-shards", "1"]);
    let port = gw.tcp_ports()[0];
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    // Garbage frames, a frame that claims more than it sends, STUN for an unknown ufrag.
    let mut bad = Vec::new();
    for payload in [
        vec![0x00, 0x04, 1, 2, 3, 4],
        vec![0xff, 0xff, 0x80, 0x60],
        vec![0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42],
    ] {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(&payload).await.unwrap();
        bad.push(s);
    }
    let alice = join_room_with(&gw, "alice", ROOM, PeerMode::BrowserTcpOnly).await;
    let bob = join_room_with(&gw, "bob", ROOM, PeerMode::BrowserTcpOnly).await;
    each_receives_the_other(
        alice,
        PeerMode::BrowserTcpOnly,
        bob,
        PeerMode::BrowserTcpOnly,
    )
    .await;
    // The connections that never proved themselves are closed by the gateway (EOF).
    for mut s in bad {
        let mut buf = [0u8; 64];
        let closed = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "an unproved ICE-TCP connection stayed open");
    }
}
