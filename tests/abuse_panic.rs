//! A panic in the media work of one peer ends that peer only: the real binary is started with
//! a hidden fault-injection setting (`--debug-panic-payload`) that makes its media engine
//! panic while forwarding an RTP packet whose payload starts with those bytes. Alice's
//! publisher sends one such packet: her media is ended (the others are told `publishers-left`)
//! while Bob's publisher keeps reaching Carol, whose feed of Bob never stops.
mod common;

use std::time::Duration;

use common::room::{attach, join_room};
use common::webrtc_peer::Kind;
use common::*;
use serde_json::json;

const ROOM: &str = "panic@videoconference.example.com";
const MAGIC: [u8; 4] = [0xde, 0xad, 0xbe, 0xef];
const T: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_one_peers_media_work_ends_only_that_peer() {
    let gw = Gateway::start(&["--debug-panic-payload", "deadbeef"]);
    let alice = join_room(&gw, "alice", ROOM).await;
    let bob = join_room(&gw, "bob", ROOM).await;
    let mut carol = join_room(&gw, "carol", ROOM).await;
    let _bob_sending = bob.publisher.start_sending().await.unwrap();
    let _alice_sending = alice.publisher.start_sending().await.unwrap();
    let (_, from_alice) = attach(&mut carol, &alice.session.clone()).await;
    let (_, from_bob) = attach(&mut carol, &bob.session.clone()).await;
    from_alice.wait_received(Kind::Audio, 20, T).await.unwrap();
    from_bob.wait_received(Kind::Audio, 20, T).await.unwrap();

    alice
        .publisher
        .send_audio_payload(MAGIC.iter().copied().chain([0; 40]).collect())
        .await
        .unwrap();
    gw.wait_log("peer removed after a panic in its media work");
    let left = carol
        .ws
        .room_event(&carol.session, "publishers-left", None)
        .await;
    assert_eq!(left["publishers"], json!([alice.session]));

    // Bob's media keeps reaching Carol, and the gateway keeps serving requests.
    let before = from_bob.received().of(Kind::Audio).len();
    from_bob
        .wait_received(Kind::Audio, before + 50, T)
        .await
        .expect("Bob's audio stopped after Alice's peer panicked");
    let ack = carol.ws.request(json!({"sylkrtc": "ping"})).await;
    assert_eq!(ack["sylkrtc"], "ack");
    assert!(gw.log().contains("panic in the media engine"));
}
