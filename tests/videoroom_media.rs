//! A video room with real WebRTC peers (the independent `webrtc` 0.21 crate) against the real
//! binary: one publisher, subscribers receiving its audio and video intact, a late joiner whose
//! first video packet is a keyframe, and `publishers-left` when the publisher leaves.
mod common;

use std::time::Duration;

use common::room::{ack, attach, join_room, Member};
use common::webrtc_peer::{payload_counter, payload_intact, vp8_is_keyframe, Kind};
use common::*;
use serde_json::json;

const ROOM: &str = "room1@videoconference.example.com";
const T: Duration = Duration::from_secs(15);

async fn join(gw: &Gateway, user: &str) -> Member {
    join_room(gw, user, ROOM).await
}

fn check_stream(kind: Kind, records: &[common::webrtc_peer::RtpRecord]) {
    assert!(!records.is_empty());
    let mut last = None;
    for r in records {
        assert!(payload_intact(&r.payload), "{kind:?} payload damaged");
        let c = payload_counter(&r.payload).expect("counter");
        if let Some(prev) = last {
            assert!(
                c >= prev,
                "{kind:?} counters went backwards: {prev} then {c}"
            );
        }
        last = Some(c);
    }
    // One SSRC per kind, as a continuous stream.
    assert!(records.iter().all(|r| r.ssrc == records[0].ssrc));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_forwards_media_keyframe_first_and_announces_leaving() {
    let gw = Gateway::start(&[]);
    let mut alice = join(&gw, "alice").await;
    let _sending = alice.publisher.start_sending().await.unwrap();

    let mut bob = join(&gw, "bob").await;
    // Alice is told about Bob.
    let joined = alice
        .ws
        .room_event(&alice.session, "publishers-joined", None)
        .await;
    assert_eq!(joined["publishers"][0]["id"], json!(bob.session));
    assert_eq!(joined["publishers"][0]["uri"], "bob@example.com");
    assert_eq!(joined["publishers"][0]["display_name"], "bob");

    let mut carol = join(&gw, "carol").await;
    let (_, bob_sub) = attach(&mut bob, &alice.session.clone()).await;
    let (_, carol_sub) = attach(&mut carol, &alice.session.clone()).await;
    for sub in [&bob_sub, &carol_sub] {
        let audio = sub.wait_received(Kind::Audio, 50, T).await.unwrap();
        let video = sub.wait_received(Kind::Video, 30, T).await.unwrap();
        check_stream(Kind::Audio, &audio);
        check_stream(Kind::Video, &video);
        assert!(
            vp8_is_keyframe(&video[0].payload),
            "first video packet is not a keyframe"
        );
    }

    // Dave joins late, in the middle of Alice's stream (Bob and Carol have had 30 video
    // packets of it already): a keyframe comes first.
    let mut dave = join(&gw, "dave").await;
    let (_, dave_sub) = attach(&mut dave, &alice.session.clone()).await;
    let video = dave_sub.wait_received(Kind::Video, 10, T).await.unwrap();
    assert!(
        vp8_is_keyframe(&video[0].payload),
        "late joiner's first video packet is not a keyframe"
    );
    check_stream(Kind::Video, &video);
    assert!(
        payload_counter(&video[0].payload).unwrap() > 0,
        "not mid-stream"
    );

    // Alice leaves: terminated for her, publishers-left for everyone who attached her feed.
    let r = alice
        .ws
        .request(json!({"sylkrtc": "videoroom-leave", "session": alice.session}))
        .await;
    ack(&r);
    alice
        .ws
        .room_event(&alice.session, "session-state", Some("terminated"))
        .await;
    for m in [&mut bob, &mut carol, &mut dave] {
        let left = m.ws.room_event(&m.session, "publishers-left", None).await;
        assert_eq!(left["publishers"], json!([alice.session]));
    }
}

/// The gateway's default bind is the wildcard address (0.0.0.0), which is never an ICE
/// candidate itself (the advertised addresses are): a publisher and a subscriber connect and
/// the media flows all the same. (rtc's ICE agent dropped every check here until the SFU
/// handed it a candidate address as the local one.)
#[tokio::test]
async fn media_flows_with_the_socket_on_the_wildcard_address() {
    let gw = Gateway::start(&["--listen", "0.0.0.0:0"]);
    assert!(gw.media_addr().ip().is_unspecified(), "{}", gw.media_addr());
    let alice = join(&gw, "alice").await;
    let _sending = alice.publisher.start_sending().await.unwrap();
    let mut bob = join(&gw, "bob").await;
    let (_, sub) = attach(&mut bob, &alice.session.clone()).await;
    let video = sub.wait_received(Kind::Video, 10, T).await.unwrap();
    check_stream(Kind::Video, &video);
}
