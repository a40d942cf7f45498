//! Rooms as SylkServer configures them (`[rooms."name@domain"]`): an account the access policy
//! does not allow gets SylkServer's error text and never enters; an allowed one does; a
//! `video_disabled` room is audio only whatever the joiner asks, and its feeds offer no video.
mod common;

use common::room::{ack, uuid};
use common::webrtc_peer::TestPeer;
use common::*;
use serde_json::{json, Value};

const CONFIG: &str = r#"
[rooms."board@conference.example.com"]
access_policy = "allow,deny"
allow = ["example.org", "alice@example.com"]
deny = ["mallory@example.org"]

[rooms."AUDIO@conference.example.com"]
video_disabled = true
"#;

fn gateway() -> (Gateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.toml");
    std::fs::write(&file, CONFIG).unwrap();
    (Gateway::start(&["--config", file.to_str().unwrap()]), dir)
}

/// A client with `account` added, and a publisher offer.
async fn client(gw: &Gateway, account: &str) -> (Client, TestPeer, String) {
    let mut ws = gw.ready_client().await;
    ack(&ws
        .request(json!({"sylkrtc": "account-add", "account": account, "password": HA1}))
        .await);
    let publisher = TestPeer::publisher().await.unwrap();
    let offer = publisher.create_offer().await.unwrap();
    (ws, publisher, offer)
}

async fn join(
    ws: &mut Client,
    account: &str,
    room: &str,
    offer: &str,
    video: bool,
) -> (String, Value) {
    let session = uuid();
    let m = ws
        .request(
            json!({"sylkrtc": "videoroom-join", "session": session, "account": account,
                        "uri": room, "sdp": offer, "video": video}),
        )
        .await;
    (session, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_policy_decides_who_joins() {
    let (gw, _dir) = gateway();
    let room = "board@conference.example.com";
    for (account, allowed) in [
        ("bob@example.com", false),
        ("mallory@example.org", false),
        ("carol@example.org", true),
        ("alice@example.com", true),
    ] {
        let (mut ws, _publisher, offer) = client(&gw, account).await;
        let (session, m) = join(&mut ws, account, room, &offer, true).await;
        if allowed {
            ack(&m);
            ws.room_event(&session, "session-state", Some("accepted"))
                .await;
        } else {
            assert_eq!(m["sylkrtc"], "error", "{account}: {m}");
            assert_eq!(
                m["error"],
                format!("{account} is not allowed to join room {room}")
            );
            // Nothing was started for it: no progress, no room session.
            assert!(ws.pending.is_empty(), "{:?}", ws.pending);
        }
    }
    // A room without settings is open to anyone.
    let (mut ws, _publisher, offer) = client(&gw, "bob@example.com").await;
    let (_, m) = join(
        &mut ws,
        "bob@example.com",
        "open@conference.example.com",
        &offer,
        true,
    )
    .await;
    ack(&m);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_disabled_room_is_audio_only() {
    let (gw, _dir) = gateway();
    // The settings' room name is matched without regard to case.
    let room = "audio@conference.example.com";
    let (mut alice, _a, offer) = client(&gw, "alice@example.com").await;
    let (alice_session, m) = join(&mut alice, "alice@example.com", room, &offer, true).await;
    ack(&m);
    let accepted = alice
        .room_event(&alice_session, "session-state", Some("accepted"))
        .await;
    assert_eq!(
        (accepted["audio"].clone(), accepted["video"].clone()),
        (json!(true), json!(false))
    );
    // Her offered video is declined: the answer's video section is inactive.
    let answer = accepted["sdp"].as_str().unwrap();
    let section = |kind: &str| {
        answer
            .split(&format!("m={kind}"))
            .nth(1)
            .map(|s| s.split("m=").next().unwrap().to_string())
    };
    let video = section("video").expect("the answer keeps the video m-line");
    assert!(
        video.contains("a=inactive") || video.starts_with(" 0 "),
        "video not declined:\n{answer}"
    );
    assert!(
        !section("audio").unwrap().contains("a=inactive"),
        "{answer}"
    );
    let (mut bob, _b, offer) = client(&gw, "bob@example.com").await;
    let (bob_session, m) = join(&mut bob, "bob@example.com", room, &offer, true).await;
    ack(&m);
    let accepted = bob
        .room_event(&bob_session, "session-state", Some("accepted"))
        .await;
    assert_eq!(accepted["video"], false);
    // Bob's feed of alice offers audio and no video.
    let feed = uuid();
    ack(&bob
        .request(
            json!({"sylkrtc": "videoroom-feed-attach", "session": bob_session,
                        "publisher": alice_session, "feed": feed}),
        )
        .await);
    let attached = bob.room_event(&bob_session, "feed-attached", None).await;
    let sdp = attached["sdp"].as_str().unwrap();
    assert!(sdp.contains("m=audio "), "{sdp}");
    assert!(
        !sdp.lines()
            .any(|l| l.starts_with("m=video ") && !l.starts_with("m=video 0 ")),
        "video offered in an audio-only room:\n{sdp}"
    );
}

#[test]
fn bad_room_settings_stop_the_start_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.toml");
    for (text, needle) in [
        (
            "[rooms.\"r@c.example.com\"]\naccess_policy = \"sideways\"",
            "access_policy",
        ),
        (
            "[rooms.\"r@c.example.com\"]\nmax_bitrate = 100",
            "max_bitrate",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sylk-gateway"))
            .args(["check-config", "--config", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{text}: {err}");
    }
}
