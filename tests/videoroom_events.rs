//! Room events with their fields, triggers and order (§2.4, §3.4): configure, raised hands,
//! mute-audio, chat with delivery reports and history, composing, invitations, and what a
//! late joiner is told.
mod common;

use common::webrtc_peer::TestPeer;
use common::*;
use serde_json::{json, Value};

const ROOM: &str = "events@videoconference.example.com";

fn ack(m: &Value) {
    assert_eq!(m["sylkrtc"], "ack", "expected an ack, got {m}");
}

struct Member {
    ws: Client,
    session: String,
    _peer: TestPeer,
}

async fn member(gw: &Gateway, user: &str, display: &str) -> Member {
    let mut ws = gw.ready_client().await;
    let account = format!("{user}@example.com");
    ack(&ws.request(json!({"sylkrtc": "account-add", "account": account, "password": HA1, "display_name": display})).await);
    let peer = TestPeer::publisher().await.unwrap();
    let offer = peer.create_offer().await.unwrap();
    let session = format!("{user}-{}", rand_id());
    ack(&ws.request(json!({"sylkrtc": "videoroom-join", "session": session, "account": account, "uri": ROOM, "sdp": offer})).await);
    ws.room_event(&session, "session-state", Some("accepted"))
        .await;
    Member {
        ws,
        session,
        _peer: peer,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_events_follow_the_spec() {
    let gw = Gateway::start(&[]);
    let mut a = member(&gw, "alice", "Alice").await;
    let a_initial =
        a.ws.room_event(&a.session, "initial-publishers", None)
            .await;
    assert_eq!(a_initial["publishers"], json!([]));
    let mut b = member(&gw, "bob", "\"Bob\"").await;
    let b_initial =
        b.ws.room_event(&b.session, "initial-publishers", None)
            .await;
    assert_eq!(
        b_initial["publishers"],
        json!([{"id": a.session, "uri": "alice@example.com", "display_name": "Alice",
                "type": "webrtc", "muted": false}])
    );

    let (a_s, b_s) = (a.session.clone(), b.session.clone());

    // configure: every room session, the requester included, before the requester's ack.
    let r = a
        .ws
        .request(json!({"sylkrtc": "videoroom-configure", "session": a.session, "active_participants": [b.session, b.session]}))
        .await;
    ack(&r);
    let expected = |to: &str| json!({"sylkrtc": "videoroom-event", "session": to, "event": "configure", "originator": a.session, "active_participants": [b.session]});
    assert_eq!(
        a.ws.pending.pop_back(),
        Some(expected(&a.session)),
        "configure did not precede the ack"
    );
    assert_eq!(
        b.ws.room_event(&b.session, "configure", None).await,
        expected(&b.session)
    );

    // raised hands: own hand, then a moderator lowers it with session_id.
    ack(&b
        .ws
        .request(json!({"sylkrtc": "videoroom-toggle-hand", "session": b.session}))
        .await);
    for m in [&mut a, &mut b] {
        let e = m.ws.room_event(&m.session, "raised-hands", None).await;
        assert_eq!(e["raised_hands"], json!([b_s]));
    }
    ack(&a.ws.request(json!({"sylkrtc": "videoroom-toggle-hand", "session": a.session, "session_id": b.session})).await);
    for m in [&mut a, &mut b] {
        let e = m.ws.room_event(&m.session, "raised-hands", None).await;
        assert_eq!(e["raised_hands"], json!([]));
    }
    ack(&a
        .ws
        .request(json!({"sylkrtc": "videoroom-toggle-hand", "session": a.session}))
        .await);
    for m in [&mut a, &mut b] {
        m.ws.room_event(&m.session, "raised-hands", None).await;
    }

    // mute-audio: everyone, the requester included.
    ack(&a
        .ws
        .request(json!({"sylkrtc": "videoroom-mute-audio-participants", "session": a.session}))
        .await);
    for m in [&mut a, &mut b] {
        let e = m.ws.room_event(&m.session, "mute-audio", None).await;
        assert_eq!(e["originator"], json!(a_s));
    }

    // chat: the others get the message, the sender a delivery report after its ack.
    ack(&a.ws.request(json!({"sylkrtc": "videoroom-message", "session": a.session, "message_id": "m1", "content": "hi caf\u{e9}", "content_type": "text/plain"})).await);
    let d = a.ws.room_event(&a.session, "message-delivery", None).await;
    assert_eq!(
        d,
        json!({"sylkrtc": "videoroom-event", "session": a.session, "event": "message-delivery", "message_id": "m1", "delivered": true, "code": 200, "reason": "OK"})
    );
    let msg = b.ws.room_event(&b.session, "message", None).await;
    assert_eq!(msg["type"], "normal");
    assert_eq!(msg["content"], "hi caf\u{e9}");
    assert_eq!(msg["content_type"], "text/plain");
    assert_eq!(
        msg["sender"],
        json!({"uri": "alice@example.com", "display_name": "Alice"})
    );
    assert!(msg["timestamp"].as_str().unwrap().starts_with("20"));
    assert!(
        a.ws.pending.iter().all(|m| m["event"] != "message"),
        "the sender got its own message"
    );

    // composing: the others only.
    ack(&b.ws.request(json!({"sylkrtc": "videoroom-composing-indication", "session": b.session, "state": "active", "refresh": 30})).await);
    let c =
        a.ws.room_event(&a.session, "composing-indication", None)
            .await;
    assert_eq!(c["state"], "active");
    assert_eq!(c["refresh"], 30);
    assert_eq!(
        c["sender"],
        json!({"uri": "bob@example.com", "display_name": "Bob"})
    );

    // invitations act in the inviter's name: an account that never registered here may not
    // send them (tests/abuse_sip_authorization.rs shows them delivered between registered
    // accounts, and never to a connection where the invitee is merely added).
    let mut carol = gw.ready_client().await;
    ack(&carol
        .request(json!({"sylkrtc": "account-add", "account": "carol@example.com", "password": HA1}))
        .await);
    let refused = a.ws.request(json!({"sylkrtc": "videoroom-invite", "session": a.session, "participants": ["carol@example.com"]})).await;
    assert_eq!(refused["sylkrtc"], "error", "{refused}");
    assert_eq!(refused["error"], "Account not authenticated");
    carol
        .expect_silence(std::time::Duration::from_millis(200))
        .await;

    // A late joiner: accepted, initial-publishers, configure, raised-hands, then the chat history.
    let mut d = member(&gw, "dave", "Dave").await;
    let mut order = Vec::new();
    for _ in 0..4 {
        let m =
            d.ws.wait_for("a join event", |m| {
                m["sylkrtc"] == "videoroom-event" && m["event"] != "session-state"
            })
            .await;
        order.push(m["event"].as_str().unwrap().to_string());
        match m["event"].as_str().unwrap() {
            "initial-publishers" => assert_eq!(m["publishers"].as_array().unwrap().len(), 2),
            "configure" => {
                assert_eq!(m["originator"], "videoroom");
                assert_eq!(m["active_participants"], json!([b.session]));
            }
            "raised-hands" => assert_eq!(m["raised_hands"], json!([a.session])),
            "message" => assert_eq!(m["content"], "hi caf\u{e9}"),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        order,
        ["initial-publishers", "configure", "raised-hands", "message"]
    );

    // The active participant leaves: configure from "videoroom" to everyone left.
    ack(&b
        .ws
        .request(json!({"sylkrtc": "videoroom-leave", "session": b.session}))
        .await);
    for m in [&mut a, &mut d] {
        let e =
            m.ws.wait_for("configure from videoroom", |e| {
                e["event"] == "configure"
                    && e["originator"] == "videoroom"
                    && e["session"] == m.session.as_str()
            })
            .await;
        assert_eq!(e["active_participants"], json!([]));
    }
}
