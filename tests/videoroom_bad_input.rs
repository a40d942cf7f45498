//! Bad input to video rooms gets the spec's error or is dropped, and the room goes on:
//! a malformed SDP offer, trickle for an unknown session, feed-attach to a missing publisher,
//! feed-answer for a feed that is not attached, garbage datagrams on the media port.
mod common;

use std::time::Duration;

use common::webrtc_peer::{Kind, TestPeer};
use common::*;
use serde_json::{json, Value};

const ROOM: &str = "lobby@videoconference.example.com";

fn ack(m: &Value) {
    assert_eq!(m["sylkrtc"], "ack", "expected an ack, got {m}");
}

async fn client_with_account(gw: &Gateway, user: &str) -> Client {
    let mut ws = gw.ready_client().await;
    ack(&ws.request(json!({"sylkrtc": "account-add", "account": format!("{user}@example.com"), "password": HA1})).await);
    ws
}

/// Joins with a real publisher and waits for `established`; returns the session id and peer.
async fn join(ws: &mut Client, user: &str) -> (String, TestPeer) {
    let peer = TestPeer::publisher().await.unwrap();
    let offer = peer.create_offer().await.unwrap();
    let session = format!("pub-{}", rand_id());
    ack(&ws.request(json!({"sylkrtc": "videoroom-join", "session": session, "account": format!("{user}@example.com"), "uri": ROOM, "sdp": offer})).await);
    let accepted = ws
        .room_event(&session, "session-state", Some("accepted"))
        .await;
    peer.set_remote_answer(accepted["sdp"].as_str().unwrap())
        .await
        .unwrap();
    ws.room_event(&session, "session-state", Some("established"))
        .await;
    (session, peer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_room_input_is_refused_and_the_room_goes_on() {
    let gw = Gateway::start(&[]);
    let mut alice = client_with_account(&gw, "alice").await;

    // A malformed offer: an error with the reason, no progress event, no session left over.
    for sdp in [
        "not an sdp at all",
        "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video x\r\n",
    ] {
        let m = alice
            .request(json!({"sylkrtc": "videoroom-join", "session": "bad", "account": "alice@example.com", "uri": ROOM, "sdp": sdp}))
            .await;
        assert_eq!(m["sylkrtc"], "error", "{m}");
        assert!(
            m["error"].as_str().unwrap().starts_with("Invalid SDP"),
            "{m}"
        );
    }
    assert!(
        alice.pending.is_empty(),
        "events after a failed join: {:?}",
        alice.pending
    );
    let m = alice
        .request(json!({"sylkrtc": "videoroom-leave", "session": "bad"}))
        .await;
    assert_eq!(m["error"], "Unknown room session: bad");

    let (a_session, a_peer) = join(&mut alice, "alice").await;
    let _sending = a_peer.start_sending().await.unwrap();

    // Trickle and updates for unknown sessions.
    let m = alice
        .request(
            json!({"sylkrtc": "videoroom-session-trickle", "session": "nope", "candidates": []}),
        )
        .await;
    assert_eq!(m["error"], "Unknown room session: nope");
    let m = alice
        .request(json!({"sylkrtc": "videoroom-session-update", "session": "nope", "options": {"video": false}}))
        .await;
    assert_eq!(m["error"], "Unknown room session: nope");
    // A candidate that does not parse is ignored (ICE-lite answers checks regardless).
    ack(&alice
        .request(json!({"sylkrtc": "videoroom-session-trickle", "session": a_session, "candidates": [{"candidate": "candidate:garbage", "sdpMid": "0", "sdpMLineIndex": 0}]}))
        .await);

    // Feed requests that do not fit.
    let mut bob = client_with_account(&gw, "bob").await;
    let (b_session, _b_peer) = join(&mut bob, "bob").await;
    let m = bob
        .request(json!({"sylkrtc": "videoroom-feed-attach", "session": b_session, "publisher": "ghost", "feed": "f1"}))
        .await;
    assert_eq!(
        m["error"],
        "Unknown publisher room session to attach to: ghost"
    );
    let m = bob
        .request(json!({"sylkrtc": "videoroom-feed-attach", "session": "not-mine", "publisher": a_session, "feed": "f1"}))
        .await;
    assert_eq!(m["error"], "Unknown room session: not-mine");
    // As SylkServer looks feeds up: the feed first (unknown: "Unknown room session"), then
    // whether the session attached it.
    let m = bob
        .request(json!({"sylkrtc": "videoroom-feed-answer", "session": b_session, "feed": "f9", "sdp": "v=0"}))
        .await;
    assert_eq!(m["error"], "Unknown room session: f9");
    let m = bob
        .request(json!({"sylkrtc": "videoroom-feed-detach", "session": b_session, "feed": "f9"}))
        .await;
    assert_eq!(m["error"], "Unknown room session to detach: f9");
    // The same for a session that is not bob's: the feed is still looked up first.
    let m = bob
        .request(json!({"sylkrtc": "videoroom-feed-detach", "session": "not-mine", "feed": "f9"}))
        .await;
    assert_eq!(m["error"], "Unknown room session to detach: f9");
    // A publisher session is no feed of anyone's.
    let m = bob
        .request(json!({"sylkrtc": "videoroom-feed-answer", "session": "not-mine", "feed": b_session, "sdp": "v=0"}))
        .await;
    assert_eq!(
        m["error"],
        format!("{b_session} is not an attached feed of not-mine")
    );
    // A feed id already in use is refused before the session is looked up.
    let m = bob
        .request(json!({"sylkrtc": "videoroom-feed-attach", "session": "not-mine", "publisher": a_session, "feed": b_session}))
        .await;
    assert_eq!(
        m["error"],
        format!("Video room session ID {b_session} already in use")
    );
    let m = bob
        .request(json!({"sylkrtc": "videoroom-configure", "session": b_session, "active_participants": ["ghost"]}))
        .await;
    assert_eq!(m["error"], "unknown participant session id: ghost");
    // Another connection cannot act on Alice's session.
    let m = bob
        .request(json!({"sylkrtc": "videoroom-leave", "session": a_session}))
        .await;
    assert_eq!(m["error"], format!("Unknown room session: {a_session}"));

    // Garbage at the media port, from a stranger and shaped like STUN, RTP and DTLS.
    let media = gw.media_target();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0u8; 1],
        vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42], // truncated STUN
        vec![0x80; 1500],                                     // RTP-looking
        vec![22; 300],                                        // DTLS-looking
    ];
    for i in 0..200u32 {
        garbage.push(
            i.to_be_bytes()
                .iter()
                .cycle()
                .take((i as usize * 7) % 1400)
                .copied()
                .collect(),
        );
    }
    for g in &garbage {
        let _ = sock.send_to(g, media);
    }

    // The room goes on: Bob subscribes to Alice and gets her media.
    let feed = format!("feed-{}", rand_id());
    ack(&bob.request(json!({"sylkrtc": "videoroom-feed-attach", "session": b_session, "publisher": a_session, "feed": feed})).await);
    let attached = bob.room_event(&b_session, "feed-attached", None).await;
    let sub = TestPeer::subscriber().await.unwrap();
    let answer = sub.answer(attached["sdp"].as_str().unwrap()).await.unwrap();
    // A malformed answer first: refused, and the feed still takes the real one.
    let m = bob
        .request(json!({"sylkrtc": "videoroom-feed-answer", "session": b_session, "feed": feed, "sdp": "garbage"}))
        .await;
    assert!(
        m["error"].as_str().unwrap().starts_with("Invalid SDP"),
        "{m}"
    );
    ack(&bob.request(json!({"sylkrtc": "videoroom-feed-answer", "session": b_session, "feed": feed, "sdp": answer})).await);
    bob.room_event(&b_session, "feed-established", None).await;
    sub.wait_received(Kind::Video, 5, Duration::from_secs(10))
        .await
        .unwrap();
    sub.wait_received(Kind::Audio, 5, Duration::from_secs(10))
        .await
        .unwrap();
}
